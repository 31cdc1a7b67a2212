"""Runtime and training throughput on loopback, all measured in this one run:

  python -m benchmarks.throughput            # about 14 minutes on 2 cores
  python -m benchmarks.throughput --parts=ceiling,d --train_seconds=30

(a) transport ceiling: env steps/s through the real learner (gRPC, batcher,
    per-env state, a tiny MLP policy) with Catch, training off.
(b) atari_transport_ratio: Pong env steps/s through the learner (N actors,
    tiny policy, training off) divided by N processes stepping Pong in-process
    with random actions (the same environment code, no learner), measured
    just before and just after the run through the learner and averaged.
    Beside it, where the gap goes: `fake_learner_ratio`, the same actors
    against a learner that only decodes each message and answers zeros
    (`rpc/loopback_benchmark.py`), and the tiny policy's own inference cost
    in CPU microseconds per env step at the run's inference batch, and the
    cores the learner and the actors used during the run through the
    learner (`cpu_use.py`), also as CPU microseconds per env step beside the
    in-process cost.
(c) the IMPALA deep network's inference rate on this CPU (frames/s) at the
    batch sizes the batcher forms.
ceiling: `ceiling_fps`, emulator frames/s of random Pong play through one
    ale_py `AtariVectorEnv` with as many threads as this process has CPUs:
    what the machine could do with no network at all. Measured first, and
    again after each (d) run.
(d) end-to-end training: `train_fps_<torso>_<agent>` (emulator frames/s of
    `seed_stac.local --config=configs/atari.py:Pong,<agent>,<torso>`, the
    config's batch, `--train_actors` actors, after `--warmup_steps` learner
    steps) and `train_fraction_<torso>_<agent>` = train_fps over the mean of
    the ceilings measured just before and just after that run (this host's
    speed drifts by up to 2x over minutes), a ratio that carries over
    between machines where absolute rates do not.

Rates (a), (b) come from the learner's own per-interval fps log, median over
the second half of the intervals; (d) is the mean over the intervals after
warm-up (training admits frames in bursts of one batch), so start-up (building environments) and
shutdown are excluded; the in-process rate also excludes building them.
"""

import csv
import multiprocessing
import os
import statistics
import tempfile
import time

from absl import app, flags
import numpy as np

from benchmarks import cpu_use
from benchmarks import frame_rates
from seed_stac.types import InferenceInput

flags.DEFINE_integer('num_actors', 4, 'Actor processes for (a) and (b).')
flags.DEFINE_integer('catch_env_batch_size', 64, 'Envs per actor for (a).')
flags.DEFINE_integer('atari_env_batch_size', 32, 'Envs per actor for (b).')
flags.DEFINE_float('seconds', 30.0, 'Approximate length of each runtime measurement.')
flags.DEFINE_integer('atari_inference_batch_size', 64, 'Inference batch for (b).')
flags.DEFINE_list('parts', ['a', 'b', 'c', 'ceiling', 'd'], 'Which measurements to run.')
flags.DEFINE_list('inference_batch_sizes', ['8', '16', '32', '64'], 'Batch sizes for (c).')
flags.DEFINE_integer('ceiling_envs', 16, 'Envs of the vector env for the ceiling.')
flags.DEFINE_list('torsos', ['nature', 'resnet'], 'Torsos for (d).')
flags.DEFINE_list('agents', ['impala', 'stac'], 'Agents for (d).')
flags.DEFINE_integer('train_actors', 2, 'Actor processes for (d).')
flags.DEFINE_integer('warmup_steps', 3,
                     '(d): learner steps before measuring (tracing, first batches).')
flags.DEFINE_float('train_seconds', 75.0,
                   '(d): seconds measured after warm-up, per torso and agent.')
flags.DEFINE_list('train_set', [], "(d): config overrides, e.g. 'env.options.num_threads=1'.")
FLAGS = flags.FLAGS

_LOG_INTERVAL_S = 2.0


def _median_fps(logdir: str) -> float:
  """Median fps over the second half of the log intervals (last one dropped).

  Actors build their environments first (about 0.2 s per Pong env), so the
  early intervals measure start-up, not the runtime.
  """
  with open(os.path.join(logdir, 'progress.csv')) as f:
    rates = [float(row['fps']) for row in csv.DictReader(f)][:-1]
  return statistics.median(rates[len(rates) // 2:])


def runtime_steps_per_second(config, num_actors: int, frames_per_second_guess: float) -> float:
  """Env steps/s through the learner with training off."""
  from seed_stac.launch import run_local
  config.learner.total_frames = int(frames_per_second_guess * FLAGS.seconds)
  config.learner.log_interval_s = _LOG_INTERVAL_S
  config.learner.checkpoint_interval_s = 1e9
  with tempfile.TemporaryDirectory() as logdir:
    run_local(config, logdir, num_actors, train=False, show_progress=False)
    return _median_fps(logdir) / config_frames_per_step(config)


def config_frames_per_step(config) -> int:
  return 4 if config.env.kind == 'atari' else 1


def tiny_policy(config):
  """A 4-unit MLP: on 4x84x84 frames even 16 units cost ~0.45M multiply-adds
  per step, which (b) would then measure instead of the runtime; (c) reports
  the real network's cost."""
  config.network.torso = 'mlp'
  config.network.mlp.sizes = (4,)
  config.network.lstm_size = 0
  return config


def _random_pong_steps(args):
  """One process stepping a batch of Pong envs with random actions."""
  seed, batch_size, seconds = args
  from seed_stac import envs
  batch = envs.create_env_batch('atari', 'Pong', seed, batch_size)
  batch.reset()
  rng = np.random.default_rng(seed)
  steps, start = 0, time.perf_counter()
  while time.perf_counter() - start < seconds:
    batch.step(rng.integers(0, batch.spec.action.num_actions, batch_size).astype(np.int32))
    steps += batch_size
  rate = steps / (time.perf_counter() - start)
  batch.close()
  return rate


def in_process_pong_steps_per_second(num_processes: int, batch_size: int) -> float:
  context = multiprocessing.get_context('spawn')
  with context.Pool(num_processes) as pool:
    rates = pool.map(_random_pong_steps,
                     [(i, batch_size, FLAGS.seconds / 2) for i in range(num_processes)])
  return sum(rates)


def _pong_shaped_spec():
  """Pong's EnvSpec without building ALE in this (TensorFlow) process."""
  from seed_stac.envs.base import ActionSpec, EnvSpec
  return EnvSpec('pong-shaped', (84, 84, 1),
                 'uint8',
                 ActionSpec('discrete', num_actions=6),
                 frame_stack=4,
                 frames_per_step=4)


def _inference_inputs(spec, rows: int, rng=None) -> InferenceInput:
  """One inference batch of `rows` frame stacks (zeros, or random with rng)."""
  shape = (rows,) + spec.stacked_observation_shape
  return InferenceInput(observation=(np.zeros(shape, np.uint8) if rng is None else rng.integers(
      0, 256, shape, dtype=np.uint8)),
                        prev_action=np.zeros(rows, np.int32),
                        reward=np.zeros(rows, np.float32),
                        first=np.zeros(rows, bool))


def impala_inference_rates(batch_sizes):
  """Frames/s of the IMPALA deep network's policy step at each batch size."""
  from configs import atari
  from seed_stac import builder
  from seed_stac.learner.inference import make_inference_fn
  spec = _pong_shaped_spec()
  network = builder.build_network(atari.get_config('Pong'), spec)
  infer = make_inference_fn(network, seed=0)
  rates = {}
  for n in batch_sizes:
    inputs = _inference_inputs(spec, n)
    for _ in range(3):
      infer(inputs)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < 3.0:
      infer(inputs)
      calls += 1
    rates[n] = calls * n / (time.perf_counter() - start)
  return rates


def main(_):
  from configs import atari, catch
  n = FLAGS.num_actors

  if 'a' in FLAGS.parts:
    measure_transport_ceiling(catch, n)
  if 'b' in FLAGS.parts:
    measure_atari_ratio(atari, n)
  if 'c' in FLAGS.parts:
    rates = impala_inference_rates([int(b) for b in FLAGS.inference_batch_sizes])
    print('(c) impala_resnet_inference_frames_per_s '
          + ' '.join(f'batch{b}={r:,.0f}' for b, r in rates.items()),
          flush=True)
  if 'ceiling' in FLAGS.parts or 'd' in FLAGS.parts:
    ceiling = measure_ceiling()
    print(
        f'ceiling_fps={ceiling:.0f} (random Pong, AtariVectorEnv, {FLAGS.ceiling_envs} envs, '
        f'{os.cpu_count()} threads)',
        flush=True)
  if 'd' in FLAGS.parts:
    for torso in FLAGS.torsos:
      for agent in FLAGS.agents:
        fps = frame_rates.training_frames_per_second(agent, torso, FLAGS.train_actors,
                                                     FLAGS.warmup_steps, FLAGS.train_seconds,
                                                     FLAGS.train_set)
        # The ceiling just after this run is also the one just before the next.
        before, ceiling = ceiling, measure_ceiling()
        print(
            f'(d) train_fps_{torso}_{agent}={fps:.0f} '
            f'train_fraction_{torso}_{agent}={2 * fps / (before + ceiling):.3f} '
            f'(ceiling before {before:.0f}, after {ceiling:.0f})',
            flush=True)


def measure_ceiling() -> float:
  return frame_rates.ceiling_frames_per_second(FLAGS.ceiling_envs, FLAGS.seconds / 3)


def measure_transport_ceiling(catch, n):
  config = tiny_policy(catch.get_config('impala'))
  config.actor.env_batch_size = FLAGS.catch_env_batch_size
  config.learner.inference_batch_size = n * FLAGS.catch_env_batch_size
  ceiling = runtime_steps_per_second(config, n, 30_000)
  print(
      f'(a) transport_ceiling_env_steps_per_s={ceiling:,.0f} '
      f'(catch, {n} actors x {FLAGS.catch_env_batch_size} envs, 4-unit MLP, training off)',
      flush=True)


def measure_atari_ratio(atari, n):
  """The in-process rate is measured just before and just after the runs
  through a learner and averaged: this host's speed drifts by up to 2x over
  minutes, which one measurement on one side would read as a ratio change."""
  from seed_stac.rpc import loopback_benchmark
  config = tiny_policy(atari.get_config('Pong,impala'))
  config.actor.env_batch_size = FLAGS.atari_env_batch_size
  config.learner.inference_batch_size = FLAGS.atari_inference_batch_size
  before = in_process_pong_steps_per_second(n, FLAGS.atari_env_batch_size)
  recorder = cpu_use.Recorder(os.getpid())
  try:
    # The in-process rate sizes the run: about `seconds` of stepping here.
    through_learner = runtime_steps_per_second(config, n, 4 * before)
  finally:
    recorder.stop()
  cores = recorder.steady_cores(n)
  env_config = dict(kind='atari', name='Pong', seed=0, options=dict(config.env.options))
  fake_learner = loopback_benchmark.measure(n,
                                            FLAGS.atari_env_batch_size,
                                            FLAGS.seconds / 2,
                                            env_config=env_config)
  after = in_process_pong_steps_per_second(n, FLAGS.atari_env_batch_size)
  in_process = (before + after) / 2
  inference_us = tiny_policy_inference_us_per_step(config)
  print(
      f'(b) pong_steps_per_s_through_learner={through_learner:,.0f} '
      f'pong_steps_per_s_in_process={in_process:,.0f} '
      f'(before {before:,.0f}, after {after:,.0f}) '
      f'atari_transport_ratio={through_learner / in_process:.3f} '
      f'({n} actors x {FLAGS.atari_env_batch_size} envs, '
      f'inference batch {config.learner.inference_batch_size})',
      flush=True)
  # With every core busy, an env step costs 1/rate core-seconds; adding the
  # inference's CPU to the fake learner's gives what a learner doing nothing
  # else could reach.
  bound = 1 / (1 / fake_learner + 1e-6 * inference_us / os.cpu_count())
  print(
      f'(b) pong_steps_per_s_fake_learner={fake_learner:,.0f} '
      f'fake_learner_ratio={fake_learner / in_process:.3f} '
      f'tiny_policy_inference_cpu_us_per_step={inference_us:.0f} '
      f'ratio_bound_fake_learner_plus_inference={bound / in_process:.3f}',
      flush=True)
  # In-process, every core steps envs: an env step costs cores / rate.
  print('(b) cores_through_learner ' + ' '.join(f'{k}={v:.2f}' for k, v in cores.items())
        + f' learner_cpu_us_per_step={_us_per_step(cores, "learner", through_learner):.0f}'
        f' actors_cpu_us_per_step={_us_per_step(cores, "actors", through_learner):.0f}'
        f' in_process_cpu_us_per_step={1e6 * os.cpu_count() / in_process:.0f}',
        flush=True)


def _us_per_step(cores: dict, role: str, steps_per_s: float) -> float:
  return 1e6 * sum(v for k, v in cores.items() if k.startswith(role)) / steps_per_s


def tiny_policy_inference_us_per_step(config, calls: int = 30) -> float:
  """CPU microseconds of the learner's inference function per env step (one
  row of a full inference batch), on random Pong frames."""
  from seed_stac import builder
  from seed_stac.learner.inference import make_inference_fn
  spec = _pong_shaped_spec()
  infer = make_inference_fn(builder.build_network(config, spec), seed=0)
  rows = config.learner.inference_batch_size
  inputs = _inference_inputs(spec, rows, np.random.default_rng(0))
  infer(inputs)  # traces
  start = time.process_time()
  for _ in range(calls):
    infer(inputs)
  return 1e6 * (time.process_time() - start) / (calls * rows)


if __name__ == '__main__':
  app.run(main)
