"""Soak: many concurrent actor streams against one real learner on loopback.

  python -m benchmarks.soak [--streams=256] [--seconds=60] [--env_batch_size=2] \
      [--fault_rate=0.2] [--out=soak.json] [--figure=soak.png] \
      [--learner_flag=--config.learner.inference_batch_size=128 ...]

Starts `python -m seed_stac.learner --config=configs/catch.py` (training on,
a frame budget it cannot reach) in a subprocess, then drives `--streams`
actor streams from this one process with grpc.aio: each is its own channel
and actor id, does the real handshake, then lock-step StepRequests
(seed_stac.rpc.codec) of `--env_batch_size` synthetic Catch environments
(vectorised numpy Catch, so this process is not the bottleneck it would be
stepping hundreds of real environments). A stream whose call fails counts
the error by gRPC status, waits a moment and reconnects with a new run id.

The clock starts once every stream has had its first reply (the learner's
tf.function traces on the first batch) and runs `--seconds`. Then it prints
one summary: streams, steps/s (one step = one StepRequest answered), env
frames/s, p50/p99 step latency (request written to reply read, in ms),
errors by gRPC status over the whole run (goal: none), and the learner's
peak RSS (VmHWM) plus its RSS when the clock started and when it stopped
(growth hints at a leak). The learner is then stopped with SIGTERM.

With `--fault_rate`, a random stream is, at that mean rate, killed (its
connection dropped mid-unroll without a goodbye, and a new run of the same
actor id after 1-5 s, as a restarted process) or cut (the same, redialled at
once); the summary adds the steps/s of each minute, the faults injected and
the env steps the learner dropped with the unfinished unrolls. A killed
actor's reconnect may meet ALREADY_EXISTS while the learner has not yet seen
its old stream close (`ActorHub`'s grace rule), and retries.

`run_soak` is the flag-free library function (tests import it).
"""

import asyncio
import collections
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence

import grpc
import numpy as np

from seed_stac.envs import base
from seed_stac.envs.batch import BatchStep
from seed_stac.rpc import codec
from seed_stac.rpc import seed_stac_pb2 as pb
from seed_stac.rpc import seed_stac_pb2_grpc as pb_grpc
from seed_stac.rpc import server

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LISTENING = re.compile(r'Learner listening on port (\d+)')


class SyntheticCatch:
  """E Catch games stepped with whole-array numpy ops (rules of
  seed_stac/envs/catch.py, auto-reset like EnvBatch). For another spec,
  zero observations of its shape and dtype that never end."""

  def __init__(self, spec: base.EnvSpec, num_envs: int, seed: int, rows: int = 10, cols: int = 5):
    self.spec, self.num_envs = spec, num_envs
    self.catch = (spec.name == 'catch' and tuple(spec.observation_shape) == (rows * cols,))
    self.rows, self.cols = rows, cols
    self._rng = np.random.default_rng(seed)
    self._envs = np.arange(num_envs)
    self._ball_row = np.zeros(num_envs, np.int64)
    self._ball_col = self._rng.integers(cols, size=num_envs)
    self._paddle = np.full(num_envs, cols // 2)
    self._length = np.zeros(num_envs, np.int32)

  def _observation(self) -> np.ndarray:
    if not self.catch:
      return np.zeros((self.num_envs,) + tuple(self.spec.observation_shape),
                      self.spec.observation_dtype)
    board = np.zeros((self.num_envs, self.rows, self.cols), np.float32)
    board[self._envs, self._ball_row, self._ball_col] = 1.0
    board[self._envs, self.rows - 1, self._paddle] = 1.0
    return board.reshape(self.num_envs, -1)

  def reset(self) -> BatchStep:
    return BatchStep.first(self._observation())

  def step(self, actions: np.ndarray) -> BatchStep:
    if not self.catch:
      return self.reset()
    self._paddle = np.clip(self._paddle + np.asarray(actions).astype(np.int64) - 1, 0,
                           self.cols - 1)
    self._ball_row += 1
    self._length += 1
    ended = self._ball_row == self.rows - 1
    reward = np.where(ended, np.where(self._paddle == self._ball_col, 1.0, -1.0),
                      0.0).astype(np.float32)
    episode_return = np.where(ended, reward, np.nan).astype(np.float32)
    episode_length = self._length.copy()
    # Auto-reset: where an episode ended, the observation is the next one's first.
    self._ball_row[ended] = 0
    self._ball_col[ended] = self._rng.integers(self.cols, size=int(ended.sum()))
    self._paddle[ended] = self.cols // 2
    self._length[ended] = 0
    return BatchStep(observation=self._observation(),
                     reward=reward,
                     terminated=ended,
                     truncated=np.zeros(self.num_envs, bool),
                     episode_return=episode_return,
                     episode_length=episode_length)


def percentile_ms(latencies_s: Sequence[float], q: float) -> float:
  return (float(np.percentile(np.asarray(latencies_s)
                              * 1e3, q)) if len(latencies_s) else float('nan'))


def read_rss_mb(pid: int) -> Dict[str, float]:
  """{'VmHWM': peak, 'VmRSS': current} resident set size of `pid` in MB."""
  values = {}
  try:
    with open(f'/proc/{pid}/status') as f:
      for line in f:
        key, _, rest = line.partition(':')
        if key in ('VmHWM', 'VmRSS'):
          values[key] = int(rest.split()[0]) / 1024  # kB -> MB
  except OSError:
    pass
  return values


class _Counters:

  def __init__(self, streams: int):
    self.errors = collections.Counter()
    self.faults = collections.Counter()
    self.latencies: List[float] = []
    self.steps = 0
    self.steps_by_minute = collections.Counter()  # minute of the measurement -> steps
    self.measuring = False
    self.started = 0.0
    self.first_reply = asyncio.Event()
    self._waiting = set(range(streams))

  def stepped(self, elapsed: float) -> None:
    if self.measuring:
      self.steps += 1
      self.latencies.append(elapsed)
      self.steps_by_minute[int((time.perf_counter() - self.started) // 60)] += 1

  def replied(self, index: int):
    if self._waiting:
      self._waiting.discard(index)
      if not self._waiting:
        self.first_reply.set()


async def _status(error: Exception, call) -> str:
  """The gRPC status name of a failed call, else what went wrong."""
  if isinstance(error, grpc.RpcError):  # grpc.aio.AioRpcError
    return error.code().name
  if call is not None and call.done():  # e.g. a write after the learner ended the call
    return (await call.code()).name
  return {
      EOFError: 'EOF',
      asyncio.TimeoutError: 'TIMEOUT',
      codec.InvalidMessageError: 'BAD_REPLY'
  }.get(type(error),
        type(error).__name__)


class _Injected(Exception):
  """A fault the soak injects into one actor: 'kill' or 'cut'."""


# Pauses after an injected fault: a killed actor process is restarted by its
# supervisor after a few seconds; a cut connection is redialled at once.
_RESTART_S = {'kill': (1.0, 5.0), 'cut': (0.0, 0.5)}


async def _actor(index: int, address: str, token: Optional[str], stop: asyncio.Event,
                 counters: _Counters, step_timeout_s: float, faults: Dict[int, str]):
  """One actor id: handshake, lock-step steps until `stop`; reconnects on
  errors. A fault in `faults[index]` drops its connection without a goodbye
  (the channel closed mid-unroll) and reconnects as a new run: after 1-5 s
  for 'kill' (an actor process restarted), at once for 'cut'."""
  metadata = ((server.TOKEN_METADATA_KEY, token),) if token else None
  rng = np.random.default_rng(index)
  attempt = 0
  while not stop.is_set():
    async with grpc.aio.insecure_channel(address, options=server.client_options()) as channel:
      stub = pb_grpc.LearnerServiceStub(channel)
      run_id = f'soak-{index}-{attempt}'
      attempt += 1
      call = None
      pause = 0.5  # then reconnect with a new run id
      try:
        reply = await stub.Handshake(pb.HandshakeRequest(actor_id=index,
                                                         run_id=run_id,
                                                         token=token or ''),
                                     timeout=step_timeout_s)
        spec = base.EnvSpec.from_dict(json.loads(reply.env_spec_json))
        num_envs = reply.env_batch_size
        action = spec.action
        action_dtype = np.int32 if action.kind == 'discrete' else np.float32
        action_shape = (num_envs,) + tuple(action.shape)
        env_ids = np.arange(index * num_envs, (index + 1) * num_envs, dtype=np.int32)
        envs = SyntheticCatch(spec, num_envs, seed=index * 1000 + attempt)
        call = stub.Stream(metadata=metadata)
        step = envs.reset()
        while not stop.is_set():
          request = codec.StepMessage.of(index, run_id, env_ids, step).to_proto()
          start = time.perf_counter()
          await call.write(request)
          reply = await asyncio.wait_for(call.read(), step_timeout_s)
          elapsed = time.perf_counter() - start
          if reply is grpc.aio.EOF:
            raise EOFError
          actions, done = codec.decode_reply(reply, action_dtype, action_shape)
          counters.stepped(elapsed)
          counters.replied(index)
          if index in faults:
            raise _Injected(faults.pop(index))
          if done:
            counters.errors['TRAINING_DONE'] += 1
            await stop.wait()
            break
          step = envs.step(actions)
        await call.done_writing()
        while await asyncio.wait_for(call.read(), step_timeout_s) is not grpc.aio.EOF:
          pass
      except _Injected as fault:
        pause = rng.uniform(*_RESTART_S[str(fault)])
      except (grpc.RpcError, asyncio.InvalidStateError, EOFError, asyncio.TimeoutError,
              codec.InvalidMessageError) as e:
        counters.errors[await _status(e, call)] += 1
      else:
        continue
      if call is not None:
        call.cancel()
    await asyncio.sleep(pause)


async def _inject_faults(rate_per_s: float,
                         streams: int,
                         faults: Dict[int, str],
                         counters: _Counters,
                         stop: asyncio.Event,
                         seed: int = 0) -> None:
  """At random times (a Poisson process of `rate_per_s`) marks a random
  stream for a 'kill' or a 'cut', half each."""
  rng = np.random.default_rng(seed)
  while not stop.is_set():
    await asyncio.sleep(rng.exponential(1.0 / rate_per_s))
    kind = 'kill' if rng.random() < 0.5 else 'cut'
    faults[int(rng.integers(streams))] = kind
    counters.faults[kind] += 1


async def _sample_rss(pid: int, stop: asyncio.Event, samples: List[float], every_s: float = 60.0):
  """Appends the learner's RSS (MB) every `every_s` until `stop`."""
  while not stop.is_set():
    await asyncio.sleep(every_s)
    samples.append(read_rss_mb(pid).get('VmRSS', float('nan')))


async def _drive(address: str, streams: int, seconds: float, token: Optional[str],
                 warmup_timeout_s: float, step_timeout_s: float, learner_pid: int,
                 fault_rate_per_s: float) -> dict:
  counters = _Counters(streams)
  stop = asyncio.Event()
  faults: Dict[int, str] = {}
  tasks = [
      asyncio.create_task(_actor(i, address, token, stop, counters, step_timeout_s, faults))
      for i in range(streams)
  ]
  try:
    await asyncio.wait_for(counters.first_reply.wait(), warmup_timeout_s)
  except asyncio.TimeoutError:
    counters.errors['WARMUP_TIMEOUT'] += 1
  rss_start = read_rss_mb(learner_pid).get('VmRSS', float('nan'))
  counters.measuring = True
  start = counters.started = time.perf_counter()
  injector = (asyncio.create_task(_inject_faults(fault_rate_per_s, streams, faults, counters, stop))
              if fault_rate_per_s > 0 else None)
  rss_by_minute: List[float] = []
  sampler = asyncio.create_task(_sample_rss(learner_pid, stop, rss_by_minute))
  await asyncio.sleep(seconds)
  counters.measuring = False
  elapsed = time.perf_counter() - start
  rss = read_rss_mb(learner_pid)
  stop.set()
  sampler.cancel()
  if injector is not None:
    injector.cancel()
  done, pending = await asyncio.wait(tasks, timeout=step_timeout_s + 5)
  for task in pending:
    task.cancel()
    counters.errors['STUCK_AT_STOP'] += 1
  for task in done:
    if task.exception() is not None:
      counters.errors[type(task.exception()).__name__] += 1
  return dict(counters=counters,
              elapsed=elapsed,
              rss_start=rss_start,
              rss=rss,
              rss_by_minute=rss_by_minute)


def _start_learner(config: str, logdir: str, env_batch_size: int, learner_flags: Sequence[str],
                   token: Optional[str]):
  args = [
      sys.executable,
      '-m',
      'seed_stac.learner',
      f'--config={config}',
      f'--logdir={logdir}',
      '--port=0',
      f'--config.actor.env_batch_size={env_batch_size}',
      '--config.learner.total_frames=1000000000000',  # outlasts any soak
      '--config.learner.log_interval_s=5'
  ] + list(learner_flags)
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
  if token:
    env['SEED_STAC_TOKEN'] = token
  log_path = os.path.join(logdir, 'learner.log')
  with open(log_path, 'w') as log:
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
  return process, log_path


def _wait_for_port(process, log_path: str, timeout_s: float) -> int:
  deadline = time.monotonic() + timeout_s
  while time.monotonic() < deadline:
    with open(log_path) as f:
      match = _LISTENING.search(f.read())
    if match:
      return int(match.group(1))
    if process.poll() is not None:
      break
    time.sleep(0.2)
  with open(log_path) as f:
    tail = f.read()[-3000:]
  raise RuntimeError(f'the learner did not start listening (exit status '
                     f'{process.poll()}); its log ends:\n{tail}')


def _stop_learner(process, timeout_s: float = 60.0) -> Optional[int]:
  if process.poll() is None:
    process.send_signal(signal.SIGTERM)
    try:
      process.wait(timeout_s)
    except subprocess.TimeoutExpired:
      process.kill()
      process.wait()
  return process.returncode


def _dropped_steps(logdir: str) -> Optional[int]:
  """The learner's count of env steps lost in unfinished unrolls of actors
  that left (its last log row), None before its first row."""
  path = os.path.join(logdir, 'progress.csv')
  if not os.path.exists(path):
    return None
  with open(path) as f:
    rows = list(csv.DictReader(f))
  return int(float(rows[-1]['dropped_steps'])) if rows else None


def _mb(value: float) -> Optional[float]:
  return None if value is None or np.isnan(value) else round(value, 1)


def run_soak(streams: int = 256,
             seconds: float = 60.0,
             env_batch_size: int = 2,
             config: str = 'configs/catch.py',
             learner_flags: Sequence[str] = (),
             token: Optional[str] = None,
             logdir: Optional[str] = None,
             startup_timeout_s: float = 300.0,
             warmup_timeout_s: float = 300.0,
             step_timeout_s: float = 60.0,
             fault_rate_per_s: float = 0.0) -> dict:
  """Runs the soak; returns the summary dict (see `format_summary`).

  fault_rate_per_s: > 0 kills or cuts a random stream's connection at this
    mean rate while measuring (`_inject_faults`).

  logdir: the learner's run directory (default a temporary one, removed).
  learner_flags: extra flags for the learner binary, e.g.
    ['--config.learner.inference_batch_size=128'].
  """
  own_logdir = logdir is None
  logdir = logdir or tempfile.mkdtemp(prefix='soak_')
  process, log_path = _start_learner(config, logdir, env_batch_size, learner_flags, token)
  try:
    port = _wait_for_port(process, log_path, startup_timeout_s)
    result = asyncio.run(
        _drive(f'127.0.0.1:{port}', streams, seconds, token, warmup_timeout_s, step_timeout_s,
               process.pid, fault_rate_per_s))
    alive = process.poll() is None
    peak = read_rss_mb(process.pid).get('VmHWM', result['rss'].get('VmHWM', float('nan')))
  finally:
    exit_code = _stop_learner(process)
    dropped = _dropped_steps(logdir)
    if own_logdir:
      shutil.rmtree(logdir, ignore_errors=True)
  counters, elapsed = result['counters'], result['elapsed']
  errors = dict(counters.errors)
  if not alive:
    errors['LEARNER_EXITED'] = 1
  steps_per_s = counters.steps / elapsed
  minutes = [counters.steps_by_minute[m] for m in range(int(elapsed // 60))]  # whole minutes
  return dict(
      streams=streams,
      env_batch_size=env_batch_size,
      seconds=round(elapsed, 2),
      steps=counters.steps,
      steps_per_s=round(steps_per_s, 1),
      env_frames_per_s=round(steps_per_s * env_batch_size, 1),
      latency_ms_p50=round(percentile_ms(counters.latencies, 50), 2),
      latency_ms_p99=round(percentile_ms(counters.latencies, 99), 2),
      steps_per_s_by_minute=[round(m / 60.0, 1) for m in minutes],
      errors=errors,
      faults=dict(counters.faults),
      dropped_env_steps=dropped,
      learner_peak_rss_mb=_mb(peak),  # None: the learner was gone
      learner_rss_start_mb=_mb(result['rss_start']),
      learner_rss_end_mb=_mb(result['rss'].get('VmRSS')),
      learner_rss_mb_by_minute=[_mb(v) for v in result['rss_by_minute']],
      learner_exit_code=exit_code)


def format_summary(summary: dict) -> str:
  """The one-line summary `main` prints."""
  mb = lambda key: '?' if summary[key] is None else f'{summary[key]:.0f}'
  errors = summary['errors']
  error_text = (', '.join(f'{k} {v}' for k, v in sorted(errors.items())) if errors else 'none')
  by_minute = summary.get('steps_per_s_by_minute') or []
  over_time = (f' (per minute {min(by_minute):.0f}-{max(by_minute):.0f})' if by_minute else '')
  faults = summary.get('faults') or {}
  fault_text = (', faults injected: ' + ', '.join(f'{k} {v}' for k, v in sorted(faults.items()))
                + f", env steps dropped {summary.get('dropped_env_steps')}" if faults else '')
  return (f"soak: {summary['streams']} streams x {summary['env_batch_size']} envs, "
          f"{summary['seconds']:.1f} s: {summary['steps_per_s']:.1f} steps/s{over_time}, "
          f"{summary['env_frames_per_s']:.1f} env frames/s, step latency "
          f"p50 {summary['latency_ms_p50']:.2f} ms p99 {summary['latency_ms_p99']:.2f} ms, "
          f"errors: {error_text}{fault_text}; learner peak RSS {mb('learner_peak_rss_mb')} MB "
          f"(RSS {mb('learner_rss_start_mb')} -> {mb('learner_rss_end_mb')} MB while measured)")


def plot_summary(summary: dict, path: str) -> None:
  """Steps/s and the learner's RSS per minute of a soak, one panel each."""
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  steps = summary.get('steps_per_s_by_minute') or []
  rss = summary.get('learner_rss_mb_by_minute') or []
  figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
  top.plot(range(1, len(steps) + 1), steps, marker='.')
  top.set_ylabel('steps/s')
  top.set_ylim(bottom=0)
  faults = summary.get('faults') or {}
  fault_text = ', '.join(f'{v} {k}' for k, v in sorted(faults.items())) or 'no faults'
  top.set_title(f"{summary['streams']} streams x {summary['env_batch_size']} envs, {fault_text}")
  bottom.plot(range(1, len(rss) + 1), [np.nan if v is None else v for v in rss], marker='.')
  bottom.set_ylabel('learner RSS (MB)')
  bottom.set_xlabel('minute')
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)


def main(argv):
  del argv
  from absl import flags
  f = flags.FLAGS
  summary = run_soak(streams=f.streams,
                     seconds=f.seconds,
                     env_batch_size=f.env_batch_size,
                     config=f.config,
                     learner_flags=f.learner_flag or (),
                     token=f.token or os.environ.get('SEED_STAC_TOKEN'),
                     fault_rate_per_s=f.fault_rate)
  print(format_summary(summary), flush=True)
  if f.out:
    with open(f.out, 'w') as out:
      json.dump(summary, out, indent=2, sort_keys=True)
  if f.figure:
    plot_summary(summary, f.figure)


def _define_flags():
  """Only when run as a binary, so importing this module defines no flags."""
  from absl import flags
  flags.DEFINE_integer('streams', 256, 'Concurrent actor streams (distinct actor ids).')
  flags.DEFINE_float('seconds', 60.0, 'Measured time, after every stream got its first reply.')
  flags.DEFINE_integer('env_batch_size', 2,
                       'Environments per stream (config.actor.env_batch_size).')
  flags.DEFINE_string('config', 'configs/catch.py', "The learner's --config.")
  flags.DEFINE_multi_string(
      'learner_flag', None, 'Extra learner flag, e.g. '
      '--learner_flag=--config.learner.inference_batch_size=128.')
  flags.DEFINE_string('token', None, 'Shared token (default $SEED_STAC_TOKEN).')
  flags.DEFINE_string('out', None, 'Also write the summary here as JSON.')
  flags.DEFINE_string('figure', None, 'Also plot steps/s and learner RSS per minute here (PNG).')
  flags.DEFINE_float(
      'fault_rate', 0.0, 'Faults per second while measuring: a random stream is killed '
      '(reconnects after 1-5 s as a new run) or its connection cut (reconnects at once).')


if __name__ == '__main__':
  from absl import app
  _define_flags()
  app.run(main)
