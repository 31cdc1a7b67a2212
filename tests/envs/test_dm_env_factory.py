"""env.kind='dm_env': a user's dm_env factory by 'module:function'."""

import dm_env
from dm_env import specs
import numpy as np
import pytest

from seed_stac.envs import create_environment
from seed_stac.envs import dm_env_factory


def test_the_example_corridor_spec_and_episode_ends():
  env = create_environment('dm_env', 'examples.corridor_dm_env:make_env', seed=0)
  assert env.spec.action.kind == 'discrete' and env.spec.action.num_actions == 2
  assert env.spec.observation_shape == (8,) and env.spec.observation_dtype == 'float32'
  np.testing.assert_array_equal(env.reset(), np.eye(8, dtype=np.float32)[0])
  steps = [env.step(1) for _ in range(7)]
  assert steps[-1].terminated and not steps[-1].truncated and steps[-1].reward == 1.0
  env.reset()
  steps = [env.step(0) for _ in range(50)]  # pushes into the wall until the cut
  assert steps[-1].truncated and not steps[-1].terminated
  env.reset()
  with pytest.raises(ValueError):
    env.step(2)  # not one of the 2 actions


def test_make_kwargs_and_action_repeat():
  env = create_environment('dm_env',
                           'examples.corridor_dm_env:make_env',
                           seed=0,
                           make_kwargs={'length': 3},
                           action_repeat=2)
  assert env.spec.observation_shape == (3,) and env.spec.frames_per_step == 2
  env.reset()
  step = env.step(1)  # two moves right: the goal; rewards summed over the repeats
  assert step.terminated and step.reward == pytest.approx(-0.01 + 1.0)


class _Continuous(dm_env.Environment):

  def reset(self):
    return dm_env.restart(np.zeros((84, 84, 3), np.uint8))

  def step(self, action):
    self.last_action = action
    return dm_env.transition(float(action[0]), np.zeros((84, 84, 3), np.uint8))

  def observation_spec(self):
    return specs.Array((84, 84, 3), np.uint8)

  def action_spec(self):
    return specs.BoundedArray((1,), np.float64, -1.0, 1.0)


class _IntegerBox(_Continuous):

  def action_spec(self):
    return specs.BoundedArray((2,), np.int32, 0, 3)


def make_continuous(seed):
  return _Continuous()


def make_integer_box():
  return _IntegerBox()


def make_not_an_env():
  return object()


def test_images_and_continuous_actions():
  env = create_environment('dm_env', f'{__name__}:make_continuous', seed=0)
  assert env.spec.observation_dtype == 'uint8' and env.spec.frame_stack == 4
  assert env.spec.action.kind == 'continuous' and env.spec.action.maximum == (1.0,)
  env.reset()
  assert env.step(np.array([5.0], np.float32)).reward == 1.0  # clipped to the bound


@pytest.mark.parametrize('name, error, message', [
    ('no_colon', ValueError, "must be 'module:function'"),
    ('examples.corridor_dm_env:missing', ValueError, "has no function 'missing'"),
    ('no_such_module:make', ImportError, 'no_such_module'),
    (f'{__name__}:make_not_an_env', ValueError, 'not a dm_env.Environment'),
    (f'{__name__}:make_integer_box', ValueError, 'unsupported action spec'),
])
def test_bad_factories_fail_clearly(name, error, message):
  with pytest.raises(error, match=message):
    dm_env_factory.make_dm_env(name)
