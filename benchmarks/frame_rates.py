"""Throughput measurements that need no flags (library of
benchmarks.throughput): the random-play ceiling of one AtariVectorEnv and the
end-to-end training rate of a real local run.
"""

import csv
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np


def ceiling_frames_per_second(num_envs: int, seconds: float) -> float:
  """Emulator frames/s of random Pong play through one AtariVectorEnv with
  one thread per CPU of this process (building it excluded)."""
  from seed_stac import envs
  from seed_stac.envs import atari_vector
  threads = atari_vector.default_num_threads(os.cpu_count() or 1)
  batch = envs.create_env_batch('atari', 'Pong', 0, num_envs, num_threads=threads)
  batch.reset()
  rng = np.random.default_rng(0)
  num_actions = batch.spec.action.num_actions
  steps, start = 0, time.perf_counter()
  while time.perf_counter() - start < seconds:
    batch.step(rng.integers(0, num_actions, num_envs).astype(np.int32))
    steps += num_envs
  rate = steps * batch.spec.frames_per_step / (time.perf_counter() - start)
  batch.close()
  return rate


def _read_progress(path: str):
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [row for row in csv.DictReader(f) if row.get('fps')]


def training_frames_per_second(agent: str,
                               torso: str,
                               num_actors: int,
                               warmup_steps: int,
                               seconds: float,
                               overrides=()) -> float:
  """Emulator frames/s of real Pong training (`seed_stac.local`, its own
  process), averaged over the log intervals that start after `warmup_steps`
  learner steps, once `seconds` of them are logged. RuntimeError if the run
  stops first or never warms up. overrides: 'key=value' config settings."""
  interval_s = 5.0
  with tempfile.TemporaryDirectory() as logdir:
    command = [
        sys.executable, '-m', 'seed_stac.local', f'--config=configs/atari.py:Pong,{agent},{torso}',
        f'--logdir={logdir}', f'--num_actors={num_actors}',
        f'--config.learner.log_interval_s={interval_s}',
        '--config.learner.checkpoint_interval_s=1e9'
    ] + [f'--config.{setting}' for setting in overrides]
    process = subprocess.Popen(command,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE,
                               env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'))
    deadline = time.time() + 20 * seconds + 600
    try:
      while time.time() < deadline and process.poll() is None:
        time.sleep(interval_s)
        rows = _read_progress(os.path.join(logdir, 'progress.csv'))
        # A row's fps covers the interval before it: skip the first warm one.
        warm = [float(r['fps']) for r in rows if float(r['learner_steps'] or 0) >= warmup_steps][1:]
        if len(warm) * interval_s >= seconds:
          return statistics.fmean(warm)
      error = process.stderr.read().decode()[-2000:] if process.poll() is not None else ''
      raise RuntimeError(f'{agent}/{torso}: no {seconds:.0f} s of training logged; {error}')
    finally:
      if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
          process.wait(60)
        except subprocess.TimeoutExpired:
          process.kill()
