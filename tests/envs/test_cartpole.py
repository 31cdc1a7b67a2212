"""Tests for seed_stac.envs.cartpole."""

import numpy as np
import pytest

from seed_stac.envs import cartpole


def _balance(observation):
  """A linear controller that keeps the pole up for the full 500 steps."""
  x, x_dot, theta, theta_dot = observation
  return int(0.1 * x + 0.5 * x_dot + 10 * theta + 2 * theta_dot > 0)


def _run(env, policy):
  observation = env.reset()
  steps = 0
  while True:
    step = env.step(policy(observation))
    steps += 1
    if step.terminated or step.truncated:
      return steps, step
    observation = step.observation


def test_spec_and_shapes():
  env = cartpole.CartPole(seed=0)
  assert env.spec.name == 'CartPole-v1'
  assert env.spec.observation_shape == (4,)
  assert env.spec.observation_dtype == 'float32'
  assert env.spec.action.num_actions == 2
  observation = env.reset()
  assert observation.shape == (4,) and observation.dtype == np.float32
  step = env.step(np.int32(1))
  assert step.observation.dtype == np.float32 and step.reward == 1.0


def test_time_limit_is_truncation_not_termination():
  steps, last = _run(cartpole.CartPole(seed=0), _balance)
  assert steps == 500
  assert last.truncated and not last.terminated


def test_falling_is_termination():
  steps, last = _run(cartpole.CartPole(seed=0), lambda observation: 1)
  assert steps < 500
  assert last.terminated and not last.truncated


def test_both_flags_from_gymnasium_count_as_termination(monkeypatch):
  env = cartpole.CartPole(seed=0)
  env.reset()
  monkeypatch.setattr(
      env._env,
      'step',  # pylint: disable=protected-access
      lambda action: (np.zeros(4), 1.0, True, True, {}))
  step = env.step(0)
  assert step.terminated and not step.truncated


def test_seeding_is_reproducible_and_resets_continue_the_rng():
  first = [cartpole.CartPole(seed=5).reset() for _ in range(2)]
  np.testing.assert_array_equal(first[0], first[1])
  env = cartpole.CartPole(seed=5)
  a, b = env.reset(), env.reset()
  assert not np.array_equal(a, b)
  assert not np.array_equal(cartpole.CartPole(seed=6).reset(), first[0])


def test_errors():
  env = cartpole.CartPole(seed=0)
  with pytest.raises(RuntimeError, match='call reset'):
    env.step(0)
  env.reset()
  with pytest.raises(ValueError, match=r'\[0, 2\)'):
    env.step(2)
  with pytest.raises(ValueError, match='scalar integer'):
    env.step(0.5)
  _, _ = _run(env, lambda observation: 1)
  with pytest.raises(RuntimeError, match='after the episode ended'):
    env.step(0)
