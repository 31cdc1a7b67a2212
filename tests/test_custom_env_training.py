"""A user's own environment trains end to end, as Gymnasium (examples/gridwalk.py,
registered by a module the learner and the actor processes import) and as a
dm_env factory (examples/corridor_dm_env.py)."""

import pytest

from configs import dm_env as dm_env_config
from configs import gym as gym_config
from seed_stac.evaluation import evaluate
from seed_stac.launch import run_local


def _gridwalk():
  config = gym_config.get_config('seed_stac_examples/GridWalk-v0,impala')
  config.env.options.import_module = 'examples.gridwalk'
  return config


def _corridor():
  return dm_env_config.get_config('examples.corridor_dm_env:make_env,impala')


@pytest.mark.slow
@pytest.mark.parametrize('make_config', [_gridwalk, _corridor], ids=['gym', 'dm_env'])
def test_custom_environment_learns_past_random_play(tmp_path, make_config):
  config = make_config()
  config.learner.total_frames = 20_000
  logdir = str(tmp_path / 'run')
  row = run_local(config, logdir, num_actors=2, show_progress=False)
  random_play = evaluate(logdir, episodes=200, seed=1, policy='random')['mean_return']
  # Measured (seed 0): about 0.91 after 9k frames, the optimum is 0.94 (7
  # steps); random play is far below (the goal is 7 cells away, 50-step limit).
  assert row['frames'] >= 20_000
  assert row['episode_return'] >= 0.85 > random_play + 0.3, (row['episode_return'], random_play)
