"""Tests for seed_stac.envs.minatar against the real `minatar` package."""

import numpy as np
import pytest

from seed_stac.envs import minatar

# Channels and minimal action sets of MinAtar 1.0.15.
EXPECTED = {
    'Asterix': (4, 5),
    'Breakout': (4, 3),
    'Freeway': (7, 3),
    'Seaquest': (10, 6),
    'SpaceInvaders': (6, 4)
}


def play(env, actions):
  """(observations, rewards, terminated, truncated) of a fixed action sequence,
  resetting after an episode ends."""
  trace = [env.reset()]
  rewards, terminated, truncated = [], [], []
  for action in actions:
    step = env.step(action)
    trace.append(step.observation)
    rewards.append(step.reward)
    terminated.append(step.terminated)
    truncated.append(step.truncated)
    if step.terminated or step.truncated:
      trace.append(env.reset())
  return np.stack(trace), np.array(rewards), np.array(terminated), np.array(truncated)


@pytest.mark.parametrize('game', sorted(EXPECTED))
def test_spec_and_observations(game):
  env = minatar.MinAtar(game, seed=0)
  channels, num_actions = EXPECTED[game]
  assert env.spec.name == game
  assert env.spec.observation_shape == (10, 10, channels)
  assert env.spec.observation_dtype == 'bool'
  assert env.spec.action.num_actions == num_actions
  assert env.spec.frame_stack == 1 and env.spec.frames_per_step == 1
  observation = env.reset()
  assert observation.dtype == bool and observation.shape == (10, 10, channels)
  assert observation.any()


def test_same_seed_same_episodes_other_seed_differs():
  actions = np.random.default_rng(0).integers(0, 4, 300)
  first = play(minatar.MinAtar('SpaceInvaders', seed=3), actions)
  again = play(minatar.MinAtar('SpaceInvaders', seed=3), actions)
  other = play(minatar.MinAtar('SpaceInvaders', seed=4), actions)
  for a, b in zip(first, again):
    np.testing.assert_array_equal(a, b)
  assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_breakout_ends_at_game_over_with_its_reward_and_the_action_set_maps():
  """Always 'stay' (our action 0 is MinAtar's no-op): the ball is missed sooner
  or later; the episode terminates, not truncates, and every reward is 0 or 1."""
  env = minatar.MinAtar('Breakout', seed=0, sticky_action_prob=0.0)
  _, rewards, terminated, truncated = play(env, [0] * 200)
  assert terminated.any() and not truncated.any()
  assert set(np.unique(rewards)) <= {0.0, 1.0}


def test_sticky_actions_repeat_the_previous_action():
  actions = np.random.default_rng(1).integers(0, 3, 200)
  plain = play(minatar.MinAtar('Breakout', seed=0, sticky_action_prob=0.0), actions)
  sticky = play(minatar.MinAtar('Breakout', seed=0, sticky_action_prob=0.5), actions)
  assert not all(np.array_equal(a, b) for a, b in zip(plain, sticky))


def test_time_limit_is_a_truncation():
  env = minatar.MinAtar('Freeway', seed=0, max_episode_steps=5)
  env.reset()
  steps = [env.step(1) for _ in range(5)]
  assert [s.truncated for s in steps] == [False] * 4 + [True]
  assert not any(s.terminated for s in steps)
  with pytest.raises(RuntimeError, match='reset'):
    env.step(1)


def test_bad_arguments_name_what_is_wrong():
  with pytest.raises(ValueError, match="unknown MinAtar game 'Pong'.*Breakout"):
    minatar.MinAtar('Pong')
  with pytest.raises(ValueError, match='sticky_action_prob'):
    minatar.MinAtar('Breakout', sticky_action_prob=1.0)
  with pytest.raises(ValueError, match='max_episode_steps'):
    minatar.MinAtar('Breakout', max_episode_steps=-1)
  env = minatar.MinAtar('Breakout')
  env.reset()
  with pytest.raises(ValueError, match=r'\[0, 3\)'):
    env.step(3)
