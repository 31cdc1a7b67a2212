"""benchmarks.soak: a tiny run against a real learner reports every summary
field with no errors; its synthetic Catch sends what a real actor would."""

import asyncio
import json
import os
import subprocess
import sys

from absl import flags
import numpy as np
import pytest

from benchmarks import soak
from seed_stac import envs
from seed_stac.rpc import codec

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_importing_defines_no_flags():
  assert 'streams' not in flags.FLAGS and 'seconds' not in flags.FLAGS


def test_synthetic_catch_plays_by_the_catch_rules():
  spec = envs.create_environment('catch', 'catch', 0).spec
  game = soak.SyntheticCatch(spec, num_envs=3, seed=0)
  rng = np.random.default_rng(1)
  step = game.reset()
  env_ids = np.arange(3, 6, dtype=np.int32)
  ends = []
  for t in range(1, 28):
    batch = codec.StepMessage.of(1, 'r', env_ids, step)
    # What the learner decodes.
    batch = codec.StepMessage.from_proto(batch.to_proto(), codec.StepLayout.of(spec, 3))
    boards = batch.observation.reshape(3, 10, 5)
    assert (boards.sum(axis=(1, 2)) == 2).all() and boards[:, 9].sum(axis=1).min() == 1
    step = game.step(rng.integers(0, 3, size=3).astype(np.int32))
    ended = step.terminated
    if ended.any():
      ends.append(t)
      assert set(np.abs(step.reward[ended])) == {1.0}
      np.testing.assert_array_equal(step.episode_return[ended], step.reward[ended])
      assert (step.episode_length[ended] == 9).all()
    assert (step.reward[~ended] == 0).all() and np.isnan(step.episode_return[~ended]).all()
  assert ends == [9, 18, 27]  # the ball falls one row per step, all envs in lock step


def test_percentiles_and_summary_line():
  assert soak.percentile_ms([0.001, 0.002, 0.003], 50) == pytest.approx(2.0)
  assert np.isnan(soak.percentile_ms([], 99))
  line = soak.format_summary(
      dict(streams=8,
           env_batch_size=2,
           seconds=5.0,
           steps=10,
           steps_per_s=2.0,
           env_frames_per_s=4.0,
           latency_ms_p50=1.0,
           latency_ms_p99=3.0,
           errors={'UNAVAILABLE': 2},
           learner_peak_rss_mb=None,
           learner_rss_start_mb=1.0,
           learner_rss_end_mb=2.0,
           learner_exit_code=143))
  assert 'errors: UNAVAILABLE 2' in line and 'peak RSS ? MB' in line


@pytest.mark.slow
def test_a_tiny_soak_reports_every_field_and_no_errors(tmp_path):
  out, figure = tmp_path / 'soak.json', tmp_path / 'soak.png'
  result = subprocess.run([
      sys.executable, '-m', 'benchmarks.soak', '--streams=8', '--seconds=5', f'--out={out}',
      f'--figure={figure}'
  ],
                          cwd=ROOT,
                          capture_output=True,
                          text=True,
                          timeout=600,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'))
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  assert 'soak: 8 streams x 2 envs' in result.stdout
  summary = json.loads(out.read_text())
  assert set(summary) == {
      'streams', 'env_batch_size', 'seconds', 'steps', 'steps_per_s', 'env_frames_per_s',
      'latency_ms_p50', 'latency_ms_p99', 'errors', 'learner_peak_rss_mb', 'learner_rss_start_mb',
      'learner_rss_end_mb', 'learner_exit_code', 'steps_per_s_by_minute', 'faults',
      'dropped_env_steps', 'learner_rss_mb_by_minute'
  }
  assert figure.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
  assert summary['errors'] == {}, summary['errors']
  assert summary['streams'] == 8 and summary['env_batch_size'] == 2
  assert summary['steps'] > 0 and summary['steps_per_s'] > 0
  assert summary['env_frames_per_s'] == pytest.approx(2 * summary['steps_per_s'], rel=1e-3)
  assert 0 < summary['latency_ms_p50'] <= summary['latency_ms_p99']
  assert summary['learner_peak_rss_mb'] >= summary['learner_rss_start_mb'] > 0
  assert summary['learner_exit_code'] == 143  # stopped by SIGTERM, as a supervisor would


@pytest.mark.slow
def test_a_soak_with_faults_counts_them_and_the_dropped_steps():
  summary = soak.run_soak(streams=6,
                          seconds=8.0,
                          fault_rate_per_s=2.0,
                          learner_flags=['--config.learner.log_interval_s=1'])
  assert sum(summary['faults'].values()) >= 3
  assert summary['steps'] > 0 and summary['learner_exit_code'] == 143
  assert summary['dropped_env_steps'] > 0  # faults cut unrolls short
  unexpected = set(summary['errors']) - {'ALREADY_EXISTS'}
  assert not unexpected, summary['errors']
  assert 'faults injected:' in soak.format_summary(summary)


def test_the_learner_memory_is_sampled_until_stopped():
  samples = []

  async def sample_then_stop():
    stop = asyncio.Event()
    task = asyncio.create_task(soak._sample_rss(os.getpid(), stop, samples, every_s=0.05))
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(task, 1.0)

  asyncio.run(sample_then_stop())
  assert len(samples) >= 3 and all(mb > 1 for mb in samples)
