"""env.kind='gym': real Gymnasium environments by id, our registered example,
and clear errors for bad ids and unsupported spaces."""

import gymnasium
from gymnasium import spaces
import numpy as np
import pytest

from seed_stac.envs import create_environment
from seed_stac.envs.gym import GymEnvironment


def test_classic_control_discrete_spec_and_episode():
  env = create_environment('gym', 'CartPole-v1', seed=3)
  assert env.spec.action.kind == 'discrete' and env.spec.action.num_actions == 2
  assert env.spec.observation_shape == (4,) and env.spec.observation_dtype == 'float32'
  assert env.spec.frame_stack == 1
  first = env.reset()
  assert first.dtype == np.float32 and first.shape == (4,)
  # Seeded like gymnasium itself.
  reference = gymnasium.make('CartPole-v1')
  np.testing.assert_array_equal(first, reference.reset(seed=3)[0])
  step = env.step(np.int64(1))
  expected = reference.step(1)
  np.testing.assert_array_equal(step.observation, expected[0])
  assert step.reward == expected[1] and not step.terminated and not step.truncated
  with pytest.raises(ValueError):
    env.step(2)  # out of range
  env.close()


def test_box_actions_are_continuous_and_clipped():
  env = create_environment('gym', 'Pendulum-v1', seed=0)
  action = env.spec.action
  assert action.kind == 'continuous' and action.shape == (1,)
  assert action.minimum == (-2.0,) and action.maximum == (2.0,)
  env.reset()
  step = env.step(np.array([50.0], np.float32))  # clipped to 2, not an error
  assert np.isfinite(step.reward)


def test_time_limit_is_a_truncation_not_a_termination():
  env = create_environment('gym', 'MountainCar-v0', seed=0)  # 200-step limit, rarely solved
  env.reset()
  steps = [env.step(1) for _ in range(200)]
  assert steps[-1].truncated and not steps[-1].terminated
  assert not any(s.truncated or s.terminated for s in steps[:-1])
  with pytest.raises(RuntimeError, match='reset'):
    env.step(1)


def test_a_custom_environment_registered_by_an_imported_module():
  env = create_environment('gym',
                           'seed_stac_examples/GridWalk-v0',
                           seed=0,
                           import_module='examples.gridwalk')
  observation = env.reset()
  np.testing.assert_array_equal(observation, np.eye(8, dtype=np.float32)[0])
  steps = [env.step(1) for _ in range(7)]
  assert steps[-1].terminated and steps[-1].reward == 1.0
  assert [s.reward for s in steps[:-1]] == [-0.01] * 6


def test_make_kwargs_reach_gymnasium():
  env = create_environment('gym',
                           'seed_stac_examples/GridWalk-v0',
                           seed=0,
                           import_module='examples.gridwalk',
                           make_kwargs={'length': 3})
  assert env.spec.observation_shape == (3,)


class _DictObservations(gymnasium.Env):
  observation_space = spaces.Dict({'a': spaces.Box(0, 1, (2,))})
  action_space = spaces.Discrete(2)


class _MultiDiscreteActions(gymnasium.Env):
  observation_space = spaces.Box(0, 1, (2,))
  action_space = spaces.MultiDiscrete([2, 3])


@pytest.mark.parametrize('env_class, message', [
    (_DictObservations, 'unsupported observation space Dict'),
    (_MultiDiscreteActions, 'unsupported action space MultiDiscrete'),
])
def test_unsupported_spaces_fail_naming_the_space(env_class, message):
  env_id = f'seed_stac_tests/{env_class.__name__}-v0'
  if env_id not in gymnasium.registry:
    gymnasium.register(env_id, entry_point=env_class)
  with pytest.raises(ValueError, match=message) as error:
    GymEnvironment(env_id)
  assert 'supported: actions: Discrete, Box; observations: Box' in str(error.value)


def test_bad_ids_and_modules_fail_clearly():
  with pytest.raises(ValueError, match="gymnasium cannot make 'NoSuchEnv-v0'.*import_module"):
    create_environment('gym', 'NoSuchEnv-v0', seed=0)
  with pytest.raises(ImportError, match="env.options.import_module: cannot import 'no_such_pkg'"):
    create_environment('gym', 'CartPole-v1', seed=0, import_module='no_such_pkg')
  with pytest.raises(ValueError, match='unknown option'):
    create_environment('gym', 'CartPole-v1', seed=0, render=True)


def test_image_observations_stay_uint8_frames_and_ale_ids_register_themselves():
  env = create_environment('gym', 'ALE/Pong-v5', seed=0)
  assert env.spec.observation_dtype == 'uint8'
  assert env.spec.observation_shape == (210, 160, 3) and env.spec.frame_stack == 4
  assert env.reset().dtype == np.uint8
  env.close()
