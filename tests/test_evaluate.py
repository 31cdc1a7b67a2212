"""seed_stac.evaluate: plays a trained Catch run; errors for bad run dirs."""

import json
import os

import numpy as np
import pytest

from configs import catch
from seed_stac.envs.base import ActionSpec, EnvSpec
from seed_stac.types import InferenceInput
from seed_stac.evaluation import evaluate, load_config, random_inference_fn
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


def test_random_policy_needs_no_checkpoint_and_plays_at_chance(tmp_path):
  config = catch.get_config('impala')
  (tmp_path / 'config.json').write_text(config.to_json())
  result = evaluate(str(tmp_path), episodes=300, seed=3, policy='random')
  assert result['policy'] == 'random' and result['checkpoint'] is None
  # Catch (10 rows x 5 columns, 3 actions): a random walk of 9 steps catches
  # the ball about one time in five, so the mean return is near -0.6.
  assert -0.8 < result['mean_return'] < -0.4
  with pytest.raises(ValueError, match="policy must be one of"):
    evaluate(str(tmp_path), episodes=1, policy='greedy')


def test_random_policy_samples_inside_the_action_bounds():
  spec = EnvSpec('box', (3,), 'float32',
                 ActionSpec('continuous', shape=(2,), minimum=(-1.0, 0.0), maximum=(1.0, 4.0)))
  inputs = lambda n: InferenceInput(None, None, np.zeros(n, np.float32), None)
  outputs = random_inference_fn(spec, seed=0)(inputs(5000))
  actions = outputs.action
  assert actions.shape == (5000, 2) and actions.dtype == np.float32
  assert np.all(actions >= [-1, 0]) and np.all(actions <= [1, 4])
  np.testing.assert_allclose(actions.mean(0), [0, 2], atol=0.1)
  np.testing.assert_allclose(outputs.log_prob, -np.log(2 * 4))
  discrete = EnvSpec('d', (3,), 'float32', ActionSpec('discrete', num_actions=4))
  counts = np.bincount(random_inference_fn(discrete, 0)(inputs(4000)).action)
  assert counts.shape == (4,) and counts.min() > 850
