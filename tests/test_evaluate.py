"""seed_stac.evaluate: plays a trained Catch run; errors for bad run dirs."""

import json
import os

import pytest

from configs import catch
from seed_stac.evaluation import evaluate, load_config
from seed_stac.launch import run_local


@pytest.fixture(scope='module')
def catch_run(tmp_path_factory):
  config = catch.get_config('stac')
  config.learner.total_frames = 2000
  config.learner.batch_size = 4
  logdir = str(tmp_path_factory.mktemp('runs') / 'catch')
  run_local(config, logdir, num_actors=1, show_progress=False)
  return logdir


@pytest.mark.slow
def test_plays_episodes_from_the_latest_checkpoint(catch_run, tmp_path):
  result = evaluate(catch_run, episodes=4, greedy=True)
  assert len(result['returns']) == 4
  assert all(r in (-1.0, 1.0) for r in result['returns'])  # Catch pays +-1 per episode
  assert result['checkpoint'].startswith(os.path.join(catch_run, 'checkpoints'))
  assert 'human_normalized_mean' not in result
  json.dumps(result)


@pytest.mark.slow
def test_video_needs_pixels(catch_run, tmp_path):
  with pytest.raises(ValueError, match='pixel'):
    evaluate(catch_run, episodes=1, video=str(tmp_path / 'catch.gif'))


def test_not_a_run_directory(tmp_path):
  with pytest.raises(FileNotFoundError, match='config.json'):
    load_config(str(tmp_path))
