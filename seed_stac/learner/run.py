"""The learner process: gRPC service + batched inference + training loop.

`run_learner` owns an asyncio loop (gRPC and batching) in the calling thread
and a training thread. It resumes from the latest checkpoint in `logdir`,
logs every `log_interval_s`, checkpoints every `checkpoint_interval_s`, at
the end and on SIGTERM, and tells actors to stop at `total_frames` (or
once a log row's mean return reaches `stop_at_return`, when set).
"""

import asyncio
import dataclasses
import json
import math
import os
import signal
import threading
import time
from typing import Any, Callable, Optional

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from seed_stac import builder
from seed_stac import config as config_lib
from seed_stac.envs.base import EnvSpec
from seed_stac.envs.subprocess_env import SubprocessEnvironment
from seed_stac.learner.batcher import InferenceBatcher
from seed_stac.learner import devices
from seed_stac.learner.checkpoints import Checkpointer
from seed_stac.learner.inference import BatchedPolicy, zero_inputs
from seed_stac.learner import logs
from seed_stac.learner.actor_hub import EpisodeStats, ActorHub
from seed_stac.learner.training import Trainer
from seed_stac.learner.unroll_sources import make_unroll_source
from seed_stac.rpc import server as rpc_server


def env_config_dict(config) -> dict:
  return dict(kind=config.env.kind,
              name=config.env.name,
              seed=config.seed,
              options=config.env.options.to_dict())


def environment_spec(config) -> EnvSpec:
  """Builds one environment in a clean child process to read its spec.

  The learner process then never loads simulator/renderer native libraries
  (MuJoCo's EGL brings its own LLVM, which clashes with TensorFlow's). A bad
  env name or option still fails here, at start, with the adapter's message.
  """
  env = SubprocessEnvironment(config.env.kind, config.env.name, config.seed,
                              **config.env.options.to_dict())
  try:
    return env.spec
  finally:
    env.close()


def run_learner(config,
                logdir: str,
                address: str = '127.0.0.1:0',
                token: Optional[str] = None,
                on_ready: Optional[Callable[[int], None]] = None,
                show_progress: bool = True,
                train: bool = True,
                summary_dir: Optional[str] = None,
                tls: Optional[rpc_server.TlsFiles] = None) -> dict:
  """Trains until `config.learner.total_frames`; returns the last log row.

  train=False serves inference only and drops the unrolls (benchmarks of
  the runtime itself). summary_dir: where TensorBoard events go (default
  `logdir`). tls: serve actors over TLS.
  """
  config_lib.validate(config)
  devices.require(config.learner.device, config.learner.strategy)
  tf.io.gfile.makedirs(logdir)
  spec = environment_spec(config)
  keras.utils.set_random_seed(config.seed)  # network initialisation
  agent = builder.build_agent(config, spec)
  devices.check_tpu(config.learner.device)
  device, jit_compile = devices.inference_placement(agent.updater.strategy)
  policy = BatchedPolicy(agent.network, config.seed, device=device, jit_compile=jit_compile)
  # Where the policy really runs: one batch of the size the batcher sends.
  inference_device = policy.ran_on(
      zero_inputs(spec, agent.network, config.learner.inference_batch_size))
  used = dict(train=devices.training_devices(agent.updater.strategy), inference=[inference_device])
  print(f"Learner trains on {', '.join(used['train'])}; infers on {inference_device}", flush=True)
  check_resumable(logdir, config)
  # The resolved config, plus the devices this run really used.
  resolved = json.loads(config.to_json_best_effort(sort_keys=True))
  with tf.io.gfile.GFile(os.path.join(logdir, 'config.json'), 'w') as f:
    json.dump(dict(resolved, devices=used), f, indent=2, sort_keys=True)
  frames = tf.Variable(0, dtype=tf.int64, trainable=False)
  checkpointer = Checkpointer(os.path.join(logdir, 'checkpoints'),
                              frames=frames,
                              **agent.checkpoint_objects())
  restored = checkpointer.restore_latest()
  if restored:
    print(f'Resumed from {restored} at {int(frames.numpy()):,} frames', flush=True)
  # The log continues from the checkpoint: rows written after it are gone
  # with the progress they describe.
  dropped = logs.rewind_progress(logdir, int(frames.numpy()))
  if dropped:
    print(f'progress.csv: {dropped} rows after frame {int(frames.numpy()):,} removed', flush=True)
  logger = logs.RunLogger(
      logs.make_sinks(config.log, logdir, config.learner.total_frames, show_progress, summary_dir,
                      resolved))
  parts = RunParts(config, logdir, spec, agent, policy, logger, frames, checkpointer)
  return asyncio.run(_serve_actors_and_train(parts, address, token, on_ready, train, tls))


def check_resumable(logdir: str, config) -> None:
  """Refuses a run directory whose checkpoints another config wrote: a
  different environment or network would crash inside the restore or train
  the wrong thing. Raises ConfigError naming each difference."""
  saved_path = os.path.join(logdir, 'config.json')
  checkpoints = tf.io.gfile.glob(os.path.join(logdir, 'checkpoints', 'ckpt-*.index'))
  if not checkpoints or not tf.io.gfile.exists(saved_path):
    return
  with tf.io.gfile.GFile(saved_path) as f:
    saved = json.load(f)
  differences = config_lib.resume_differences(saved, config)
  if differences:
    raise config_lib.ConfigError(
        f'{logdir} holds a run of another config, which it would resume: '
        f'{"; ".join(differences)}. Use a new --logdir for this config, or the saved '
        f'config ({saved_path}).')


@dataclasses.dataclass(frozen=True)
class RunParts:
  """What `run_learner` builds before serving: the validated config, where
  the run writes, the environment's spec, the agent, its batched policy, its
  logger, the frame counter the checkpoints hold and the checkpointer."""
  config: Any
  logdir: str
  spec: EnvSpec
  agent: builder.Agent
  policy: BatchedPolicy
  logger: logs.RunLogger
  frames: tf.Variable
  checkpointer: Checkpointer


async def _serve_actors_and_train(parts: RunParts, address: str, token: Optional[str],
                                  on_ready: Optional[Callable[[int], None]], train: bool,
                                  tls: Optional[rpc_server.TlsFiles]) -> dict:
  config, spec, agent = parts.config, parts.spec, parts.agent
  learner = config.learner
  source = make_unroll_source(learner.batch_size, learner.unroll_queue_capacity,
                              learner.replay_fraction, learner.replay_capacity, config.seed)
  training_done = threading.Event()
  stats = EpisodeStats(frames=int(parts.frames.numpy()))
  batcher = InferenceBatcher(parts.policy, learner.inference_batch_size, learner.batch_timeout_ms)
  hub = ActorHub(spec, env_config_dict(config), config.actor.env_batch_size, batcher,
                 agent.network.initial_state(1), learner.unroll_length, source if train else None,
                 stats, training_done)
  max_message_bytes = rpc_server.step_message_bytes(spec.observation_shape, spec.observation_dtype,
                                                    config.actor.env_batch_size)
  server, port = await rpc_server.start_server(hub,
                                               address,
                                               token,
                                               tls=tls,
                                               max_message_bytes=max_message_bytes)
  print(f'Learner listening on port {port}; logdir {parts.logdir}', flush=True)
  trainer = Trainer(agent.updater, source, learner.passes)
  # Log rows before the first step already carry every metaparameter column.
  trainer.latest_stats = {k: float(v) for k, v in agent.metaparams.as_dict().items()}
  trainer.latest_stats['learner_steps'] = float(agent.updater.num_steps.numpy())
  if train:
    trainer.start()
  stop = asyncio.Event()
  loop = asyncio.get_running_loop()
  for sig in (signal.SIGTERM, signal.SIGINT):
    try:
      loop.add_signal_handler(sig, stop.set)
    except (ValueError, RuntimeError):  # not the main thread (tests)
      pass
  if on_ready:
    on_ready(port)
  row, finished, idle_message = await _monitor(learner, stats, trainer, parts.logger,
                                               parts.checkpointer, parts.frames, stop,
                                               hub.describe_actors, InferenceLoad(batcher))
  if finished:
    training_done.set()
    await asyncio.sleep(0.5)  # let actors receive training_done
  # On a signal (preemption) actors are not told to stop: they reconnect to
  # the restarted learner, which resumes from the checkpoint written here.
  trainer.stop.set()
  if trainer.is_alive():
    trainer.join()
  parts.frames.assign(stats.frames)
  parts.checkpointer.save()
  await server.stop(1.0)
  await batcher.close()
  parts.logger.close()
  if trainer.error:
    raise trainer.error
  if idle_message:
    raise IdleExit(idle_message)
  return row


class IdleExit(RuntimeError):
  """No environment step arrived for learner.idle_exit_s; the message says
  which actors are missing. The state is checkpointed."""


# The learner binary's exit status after IdleExit: a supervisor should not
# restart it into the same wait (GKE's podFailurePolicy fails the Job on it).
IDLE_EXIT_CODE = 3


class IdleWatch:
  """Notices when no environment step has arrived for `threshold_s`.

  `check(frames, now)` returns 'first' once `threshold_s` has passed without
  progress, then 'repeat' every min(60 s, threshold_s) until frames move
  again, else None. `idle_s(now)` is how long it has been.
  """

  def __init__(self, threshold_s: float, frames: int, now: float):
    self.threshold_s = threshold_s
    self.repeat_s = min(60.0, threshold_s)
    self._frames, self._since, self._warned = frames, now, None

  def check(self, frames: int, now: float) -> Optional[str]:
    if frames != self._frames:
      self._frames, self._since, self._warned = frames, now, None
      return None
    if now - self._since < self.threshold_s:
      return None
    if self._warned is None:
      self._warned = now
      return 'first'
    if now - self._warned >= self.repeat_s:
      self._warned = now
      return 'repeat'
    return None

  def idle_s(self, now: float) -> float:
    return now - self._since


async def _save(checkpointer, frames, stats):
  frames.assign(stats.frames)
  await asyncio.get_running_loop().run_in_executor(None, checkpointer.save)


def reached_return(row: dict, stop_at_return: Optional[float]) -> bool:
  """Whether a log row's mean episode return meets `stop_at_return` (None: never)."""
  return stop_at_return is not None and row.get('episode_return', math.nan) >= stop_at_return


class InferenceLoad:
  """The inference batcher's load since the last call: the mean fraction of
  real (not padding) rows per inference batch, and the fraction of batches
  that ran before they were full (at `batch_timeout_ms`). A low fill means
  fewer envs than `inference_batch_size` are ever waiting: lower it, or add
  actors."""

  def __init__(self, batcher: InferenceBatcher):
    self._batcher = batcher
    self._last = batcher.stats

  def __call__(self) -> dict:
    now = self._batcher.stats
    batches = now.batches_run - self._last.batches_run
    rows = now.rows_run - self._last.rows_run
    flushes = now.timeout_flushes - self._last.timeout_flushes
    self._last = now
    if not batches:
      return dict(inference_batch_fill=math.nan, inference_timeout_fraction=math.nan)
    return dict(inference_batch_fill=rows / (batches * now.batch_size),
                inference_timeout_fraction=flushes / batches)


async def _monitor(learner, stats, trainer, logger, checkpointer, frames, stop,
                   describe_actors: Callable[[], str], inference_load: Callable[[], dict]):
  """Logs and checkpoints until total_frames, stop_at_return, a stop signal,
  a trainer error or `learner.idle_exit_s` without a step. Returns (the last
  log row, whether training finished, the idle message or None)."""
  last_log = last_checkpoint = time.monotonic()
  last_frames = stats.frames
  idle = IdleWatch(learner.idle_warning_s, stats.frames, last_log)
  returns, lengths = [], []
  row = {}
  while not stop.is_set() and trainer.error is None:
    await asyncio.sleep(0.05)
    now = time.monotonic()
    warning = idle.check(stats.frames, now)
    if warning:
      if warning == 'first':  # The state to resume from is on disk while nobody works.
        await _save(checkpointer, frames, stats)
        last_checkpoint = now
      logging.warning(
          'No environment steps for %.0f s (no actor connected or none stepping); '
          'waiting at %d frames, checkpoint current; %s', idle.idle_s(now), stats.frames,
          describe_actors())
    if learner.idle_exit_s and idle.idle_s(now) >= learner.idle_exit_s:
      await _save(checkpointer, frames, stats)
      return row, False, (f'No environment step for {idle.idle_s(now):.0f} s '
                          f'(learner.idle_exit_s={learner.idle_exit_s:g}): '
                          f'{describe_actors()}. Stopped at {stats.frames:,} frames with a '
                          'checkpoint; start the learner again with the same logdir to resume.')
    done = stats.frames >= learner.total_frames
    if now - last_log >= learner.log_interval_s or done:
      finished = stats.take_episodes()
      if finished[0]:  # else the row repeats the last finished episodes
        returns, lengths = finished
      row = dict(trainer.latest_stats,
                 frames=stats.frames,
                 learner_steps=trainer.latest_stats.get('learner_steps', 0.0),
                 fps=(stats.frames - last_frames) / max(now - last_log, 1e-9),
                 episode_return=float(np.mean(returns)) if returns else math.nan,
                 episode_length=float(np.mean(lengths)) if lengths else math.nan,
                 episodes=float(len(returns)),
                 dropped_steps=float(stats.dropped_steps),
                 **inference_load())
      logger.write(row)
      last_log, last_frames = now, stats.frames
      if not done and reached_return(row, learner.stop_at_return):
        print(
            f"Mean episode return {row['episode_return']:.3g} reached "
            f'stop_at_return={learner.stop_at_return:g} at {stats.frames:,} frames',
            flush=True)
        done = True
    if now - last_checkpoint >= learner.checkpoint_interval_s:
      await _save(checkpointer, frames, stats)
      last_checkpoint = now
    if done:
      return row, True, None
  return row, False, None
