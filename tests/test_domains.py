"""Smoke runs of the paper's domains through the whole system: learner + 2
actor processes on real ALE Pong and real DM Control cartpole-swingup
(features), a few thousand frames each, finishing cleanly with finite losses
and a checkpoint that `evaluate` loads and plays."""

import math
import os

import pytest

from configs import atari, dmc_features
from seed_stac.evaluation import evaluate
from seed_stac.launch import run_local


def _small(config, total_frames):
  config.learner.total_frames = total_frames
  # A replaying config needs at least one fresh and one replayed unroll.
  config.learner.batch_size = 4 if config.learner.replay_fraction else 2
  config.learner.unroll_length = 10
  config.learner.log_interval_s = 1.0
  config.actor.env_batch_size = 2
  return config


def _check(row, logdir, config):
  assert row['frames'] >= config.learner.total_frames and row['learner_steps'] >= 1
  for key in ('inner_loss', 'outer_loss', 'main/value_loss', 'main/gamma'):
    assert math.isfinite(row[key]), (key, row[key])
  assert os.listdir(os.path.join(logdir, 'checkpoints'))
  result = evaluate(logdir, episodes=1)
  assert len(result['returns']) == 1 and math.isfinite(result['mean_return'])
  return result


@pytest.mark.slow
def test_pong(tmp_path):
  config = _small(atari.get_config('Pong,stac'), 4000)
  config.network.resnet.channels = (8, 16)  # the IMPALA net is tested elsewhere
  config.network.resnet.fc_size = 64
  config.env.options.max_episode_frames = 2000  # keeps the evaluation episode short
  logdir = str(tmp_path / 'pong')
  result = _check(run_local(config, logdir, num_actors=2, show_progress=False), logdir, config)
  assert 'human_normalized_mean' in result


@pytest.mark.slow
def test_dmc_cartpole_swingup_features(tmp_path):
  config = _small(dmc_features.get_config('cartpole-swingup,stac'), 3000)
  logdir = str(tmp_path / 'dmc')
  _check(run_local(config, logdir, num_actors=2, show_progress=False), logdir, config)
