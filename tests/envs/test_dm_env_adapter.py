"""Tests for seed_stac.envs.dm_env_adapter with a scripted fake dm_env."""

import collections

import dm_env
from dm_env import specs
import numpy as np
import pytest

from seed_stac.envs import base
from seed_stac.envs import dm_env_adapter


class FakeEnv(dm_env.Environment):
  """Episodes of `length` steps, reward = step index; ends with `discount`."""

  def __init__(self, length, final_discount):
    self._length = length
    self._final_discount = final_discount
    self._t = 0
    self.actions = []

  def reset(self):
    self._t = 0
    return dm_env.restart(self._observation())

  def step(self, action):
    self.actions.append(np.array(action))
    self._t += 1
    if self._t == self._length:
      return dm_env.TimeStep(dm_env.StepType.LAST, float(self._t), self._final_discount,
                             self._observation())
    return dm_env.transition(float(self._t), self._observation())

  def _observation(self):
    return collections.OrderedDict(b=np.full((2,), self._t, np.float64), a=np.array(-1.0))

  def observation_spec(self):
    return collections.OrderedDict(b=specs.Array((2,), np.float64), a=specs.Array((), np.float64))

  def action_spec(self):
    return specs.BoundedArray((2,), np.float64, minimum=[-1.0, 0.0], maximum=1.0)


def _adapter(length=5, final_discount=1.0, action_repeat=1):
  env = FakeEnv(length, final_discount)
  spec = base.EnvSpec(name='fake',
                      observation_shape=(3,),
                      observation_dtype='float32',
                      action=dm_env_adapter.continuous_action_spec(env.action_spec()),
                      frames_per_step=action_repeat)
  observe = lambda ts: dm_env_adapter.flatten_observation(ts.observation)
  return env, dm_env_adapter.DmEnvAdapter(env, spec, observe, action_repeat)


def test_flatten_keeps_dict_order():
  flat = dm_env_adapter.flatten_observation(
      collections.OrderedDict(z=np.array([[1, 2]]), a=np.array(3.0)))
  assert flat.dtype == np.float32
  np.testing.assert_array_equal(flat, [1, 2, 3])
  np.testing.assert_array_equal(dm_env_adapter.flatten_observation(np.ones((2, 2))), np.ones(4))


def test_action_spec_broadcasts_bounds():
  _, env = _adapter()
  action = env.spec.action
  assert action.kind == 'continuous' and action.shape == (2,)
  assert action.minimum == (-1.0, 0.0) and action.maximum == (1.0, 1.0)


def test_truncation_when_discount_is_one():
  _, env = _adapter(length=3, final_discount=1.0)
  env.reset()
  steps = [env.step([0.0, 0.0]) for _ in range(3)]
  assert [s.truncated for s in steps] == [False, False, True]
  assert not any(s.terminated for s in steps)


def test_termination_when_discount_is_zero():
  _, env = _adapter(length=3, final_discount=0.0)
  env.reset()
  steps = [env.step([0.0, 0.0]) for _ in range(3)]
  assert [s.terminated for s in steps] == [False, False, True]
  assert not any(s.truncated for s in steps)


def test_action_repeat_sums_rewards_and_stops_at_last():
  fake, env = _adapter(length=5, action_repeat=2)
  observation = env.reset()
  np.testing.assert_array_equal(observation, [0, 0, -1])
  first = env.step([0.5, 0.5])
  assert first.reward == 1.0 + 2.0
  np.testing.assert_array_equal(first.observation, [2, 2, -1])
  assert env.step([0.5, 0.5]).reward == 3.0 + 4.0
  last = env.step([0.5, 0.5])  # Only one step is left in the episode.
  assert last.reward == 5.0 and last.truncated
  assert len(fake.actions) == 5


def test_actions_clipped_and_cast_to_env_dtype():
  fake, env = _adapter()
  env.reset()
  env.step(np.array([3.0, -2.0], np.float32))
  assert fake.actions[-1].dtype == np.float64
  np.testing.assert_array_equal(fake.actions[-1], [1.0, 0.0])


def test_errors():
  _, env = _adapter(length=1)
  with pytest.raises(RuntimeError, match='call reset'):
    env.step([0.0, 0.0])
  env.reset()
  with pytest.raises(ValueError, match=r'shape \(2,\)'):
    env.step([0.0])
  with pytest.raises(ValueError, match='finite'):
    env.step([np.inf, 0.0])
  env.step([0.0, 0.0])
  with pytest.raises(RuntimeError, match='after the episode ended'):
    env.step([0.0, 0.0])
  with pytest.raises(ValueError, match='action_repeat'):
    _adapter(action_repeat=0)
