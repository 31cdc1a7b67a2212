"""Tests for seed_stac.envs.rwrl.

The wiring (arguments passed to `load`, errors, action repeat) is tested
against a fake `realworldrl_suite.environments` built on dm_control; the
behaviour (specs, seeding, the difficulty levels' challenges, constraints)
against the real package, which is not on PyPI: those tests skip unless it is
installed (`make test` installs the vendored copy from ../shared/vendor).
"""

import importlib
import sys
import types

from dm_control import suite
import numpy as np
import pytest

from seed_stac import envs
from seed_stac.envs import rwrl

_ALL_TASKS = (('cartpole_swingup', 'cartpole', 'realworld_swingup'), ('walker_walk', 'walker',
                                                                      'realworld_walk'))


def _real_suite_importable() -> bool:
  try:
    importlib.import_module('realworldrl_suite.environments')
  except ImportError:
    return False
  return True


requires_suite = pytest.mark.skipif(
    not _real_suite_importable(),
    reason='realworldrl_suite not installed: pip install '
    '../shared/vendor/realworldrl_suite (vendored copy), or from github: '
    f'{rwrl.INSTALL_COMMAND}')


@pytest.fixture
def fake_suite(monkeypatch):
  """Installs a fake package; `calls` records every load() call."""
  calls = []

  def load(domain_name, task_name, **kwargs):
    calls.append(dict(domain_name=domain_name, task_name=task_name, **kwargs))
    dmc_task = task_name[len('realworld_'):]
    env = suite.load(domain_name,
                     dmc_task,
                     task_kwargs={'random': kwargs['random']},
                     environment_kwargs={'flat_observation': True})
    if kwargs.get('safety_spec', {}).get('enable'):
      # The suite's task interface: constraint names and the live flags.
      env.task.constraints = {'first': None, 'second': None}
      env.task.constraints_obs = np.array([True, False])
    return env

  package = types.ModuleType('realworldrl_suite')
  environments = types.ModuleType('realworldrl_suite.environments')
  environments.ALL_TASKS = _ALL_TASKS
  environments.load = load
  package.environments = environments
  monkeypatch.setitem(sys.modules, 'realworldrl_suite', package)
  monkeypatch.setitem(sys.modules, 'realworldrl_suite.environments', environments)
  return calls


def test_missing_package_error_gives_install_command(monkeypatch):
  # None in sys.modules makes the import fail even if it is installed.
  monkeypatch.setitem(sys.modules, 'realworldrl_suite', None)
  monkeypatch.setitem(sys.modules, 'realworldrl_suite.environments', None)
  with pytest.raises(ImportError) as info:
    rwrl.make_rwrl('walker-realworld_walk')
  assert ('pip install https://github.com/google-research/realworldrl_suite/archive/'
          in str(info.value))


def test_load_arguments(fake_suite):
  env = rwrl.make_rwrl('walker-realworld_walk', seed=3, difficulty='hard')
  assert fake_suite == [
      dict(domain_name='walker',
           task_name='realworld_walk',
           combined_challenge='hard',
           log_output=None,
           random=3,
           environment_kwargs=dict(log_safety_vars=False, flat_observation=True))
  ]
  assert env.spec.name == 'walker-realworld_walk'
  assert env.spec.observation_shape == (24,)
  assert env.spec.observation_dtype == 'float32'
  assert env.spec.action.shape == (6,)
  observation = env.reset()
  assert observation.shape == (24,) and observation.dtype == np.float32
  step = env.step(np.zeros(6, np.float32))
  assert step.observation.shape == (24,)


def test_constraints_option_appends_the_task_flags(fake_suite):
  env = rwrl.make_rwrl('walker-realworld_walk', constraints=True)
  assert fake_suite[0]['safety_spec'] == dict(enable=True, observations=False)
  assert env.spec.observation_shape == (24 + 2,)
  np.testing.assert_array_equal(env.reset()[-2:], [1.0, 1.0])  # At reset.
  step = env.step(np.zeros(6, np.float32))
  assert step.observation.dtype == np.float32
  np.testing.assert_array_equal(step.observation[-2:], [1.0, 0.0])


def test_action_repeat_sets_frames_per_step(fake_suite):
  env = rwrl.make_rwrl('cartpole-realworld_swingup', action_repeat=100)
  assert env.spec.frames_per_step == 100
  env.reset()
  steps = [env.step(np.zeros(1)) for _ in range(10)]
  assert steps[-1].truncated and not steps[-1].terminated


def test_errors(fake_suite):
  with pytest.raises(ValueError,
                     match=r"unknown rwrl difficulty 'extreme'.*"
                     r"\['easy', 'hard', 'medium'\]"):
    rwrl.make_rwrl('walker-realworld_walk', difficulty='extreme')
  with pytest.raises(ValueError,
                     match=r"unknown realworldrl_suite task "
                     r"'walker-walk'.*walker-realworld_walk"):
    rwrl.make_rwrl('walker-walk')
  with pytest.raises(ValueError, match='action_repeat'):
    rwrl.make_rwrl('walker-realworld_walk', action_repeat=0)
  with pytest.raises(ValueError, match="rwrl constraints must be True or "
                     "False, got 'yes'"):
    rwrl.make_rwrl('walker-realworld_walk', constraints='yes')
  assert not fake_suite  # Nothing was built for bad arguments.


# --- The real package. ---------------------------------------------------

# Task features + the combined challenge's extra Gaussian features.
_BASE_FEATURES = {'cartpole-realworld_swingup': 5, 'walker-realworld_walk': 24}
_EXTRA_FEATURES = {'easy': 10, 'medium': 20, 'hard': 50}
_ACTION_SIZE = {'cartpole-realworld_swingup': 1, 'walker-realworld_walk': 6}
_NUM_CONSTRAINTS = {'cartpole-realworld_swingup': 3, 'walker-realworld_walk': 4}


def _actions(action_size, num_steps):
  """A fixed, varied action sequence in [-1, 1]."""
  t = np.arange(num_steps, dtype=np.float32)[:, None]
  return np.sin(0.3 * t + np.arange(action_size, dtype=np.float32))


def _rollout(env, actions):
  """(observations [T+1, N], rewards [T]) for fixed actions from reset."""
  observations = [env.reset()]
  rewards = []
  for action in actions:
    step = env.step(action)
    observations.append(step.observation)
    rewards.append(step.reward)
  return np.stack(observations), np.array(rewards)


@requires_suite
@pytest.mark.parametrize('difficulty', rwrl.DIFFICULTIES)
@pytest.mark.parametrize('name', sorted(_BASE_FEATURES))
def test_real_specs(name, difficulty):
  env = rwrl.make_rwrl(name, seed=0, difficulty=difficulty)
  size = _BASE_FEATURES[name] + _EXTRA_FEATURES[difficulty]
  assert env.spec.name == name
  assert env.spec.observation_shape == (size,)
  assert env.spec.observation_dtype == 'float32'
  assert env.spec.frames_per_step == 1
  action = env.spec.action
  assert action.kind == 'continuous'
  assert action.shape == (_ACTION_SIZE[name],)
  assert action.minimum == (-1.0,) * _ACTION_SIZE[name]
  assert action.maximum == (1.0,) * _ACTION_SIZE[name]
  observations, rewards = _rollout(env, _actions(_ACTION_SIZE[name], 5))
  assert observations.shape == (6, size) and observations.dtype == np.float32
  assert np.all(np.isfinite(observations)) and np.all(np.isfinite(rewards))
  env.close()


@requires_suite
def test_real_factory_options():
  assert 'constraints' in envs.valid_options('rwrl')
  env = envs.create_environment('rwrl',
                                'cartpole-realworld_swingup',
                                seed=1,
                                difficulty='medium',
                                constraints=True,
                                action_repeat=2)
  assert env.spec.observation_shape == (5 + 20 + 3,)
  assert env.spec.frames_per_step == 2


@requires_suite
@pytest.mark.parametrize('difficulty', rwrl.DIFFICULTIES)
@pytest.mark.parametrize('name', sorted(_BASE_FEATURES))
def test_real_same_seed_same_trajectory(name, difficulty):
  # The challenges' noise, perturbations and extra features come from the
  # suite's np.random: the adapter gives each environment its own stream.
  actions = _actions(_ACTION_SIZE[name], 40)
  first = rwrl.make_rwrl(name, seed=7, difficulty=difficulty)
  second = rwrl.make_rwrl(name, seed=7, difficulty=difficulty)
  other = rwrl.make_rwrl(name, seed=8, difficulty=difficulty)
  observations, rewards = _rollout(first, actions)
  # Interleaved with another environment's steps: no shared stream.
  other.reset()
  second_observations = [second.reset()]
  second_rewards = []
  for action in actions:
    other.step(action)
    step = second.step(action)
    second_observations.append(step.observation)
    second_rewards.append(step.reward)
  np.testing.assert_array_equal(observations, np.stack(second_observations))
  np.testing.assert_array_equal(rewards, np.array(second_rewards))
  other_observations, _ = _rollout(rwrl.make_rwrl(name, seed=8, difficulty=difficulty), actions)
  assert not np.array_equal(observations[0], other_observations[0])


@requires_suite
def test_real_leaves_global_numpy_random_alone():
  np.random.seed(123)
  expected = np.random.random_sample(3)
  np.random.seed(123)
  env = rwrl.make_rwrl('walker-realworld_walk', seed=0, difficulty='hard')
  _rollout(env, _actions(6, 10))
  np.testing.assert_array_equal(np.random.random_sample(3), expected)


def _cartpole_challenges(difficulty, num_steps=200, num_resets=6):
  """Same seed and zero actions: (pole lengths over resets, mean |applied -
  commanded action|, observation error vs the true state)."""
  from dm_control.suite import cartpole  # pylint: disable=g-import-not-at-top
  env = rwrl.make_rwrl('cartpole-realworld_swingup', seed=0, difficulty=difficulty)
  lengths = []
  for _ in range(num_resets):
    env.reset()
    # The pole is a capsule: size[1] is its half length.
    lengths.append(2 * env.env.physics.named.model.geom_size['pole_1'][1])
  applied, observed, true = [], [], []
  for _ in range(num_steps):
    step = env.step(np.zeros(1, np.float32))
    physics = env.env.physics
    applied.append(float(physics.control()[0]))
    observed.append(step.observation[:5])
    features = cartpole.Balance.get_observation(env.env.task, physics)
    true.append(np.concatenate([features['position'], features['velocity']]))
  observed, true = np.array(observed), np.array(true)
  # Observations are delayed (3/6/9 steps): the best-matching lag's error.
  start = 20
  error = min(
      np.median(np.abs(observed[start:] - true[start - lag:num_steps - lag])) for lag in range(12))
  return np.array(lengths), float(np.mean(np.abs(applied))), float(error)


@requires_suite
def test_real_harder_difficulty_changes_dynamics_and_observations():
  results = {d: _cartpole_challenges(d) for d in rwrl.DIFFICULTIES}
  easy_lengths, easy_action_noise, easy_error = results['easy']
  hard_lengths, hard_action_noise, hard_error = results['hard']
  # Perturbation: a new pole length at every reset, in a wider range.
  assert np.all((easy_lengths >= 0.9 - 1e-6) & (easy_lengths <= 1.1 + 1e-6))
  assert np.all((hard_lengths >= 0.5 - 1e-6) & (hard_lengths <= 2.3 + 1e-6))
  assert np.ptp(hard_lengths) > 0.5 > np.ptp(easy_lengths) > 0.0
  # Action noise (std 0.1 / 0.3 / 1.0, clipped to the bounds).
  noise = [results[d][1] for d in rwrl.DIFFICULTIES]
  assert noise == sorted(noise) and len(set(noise)) == 3
  assert easy_action_noise < 0.15 and hard_action_noise > 0.4
  # Observation noise (std 0.1 / 0.3 / 1.0, plus dropped and stuck values).
  errors = [results[d][2] for d in rwrl.DIFFICULTIES]
  assert errors == sorted(errors)
  assert easy_error < 0.15 and hard_error > 0.4
  # So the same seed and actions give different true trajectories.
  actions = _actions(1, 30)
  positions = {}
  for difficulty in ('easy', 'hard'):
    env = rwrl.make_rwrl('cartpole-realworld_swingup', seed=0, difficulty=difficulty)
    env.reset()
    positions[difficulty] = []
    for action in actions:
      env.step(action)
      positions[difficulty].append(env.env.physics.data.qpos.copy())
  assert not np.allclose(positions['easy'], positions['hard'])


@requires_suite
@pytest.mark.parametrize('name', sorted(_BASE_FEATURES))
def test_real_constraints_off_by_default(name):
  env = rwrl.make_rwrl(name, seed=0)
  assert not env.env.task.safety_enabled
  assert env.spec.observation_shape == (_BASE_FEATURES[name] + 10,)


@requires_suite
def test_real_constraints_are_the_last_observation_entries():
  name = 'walker-realworld_walk'
  env = rwrl.make_rwrl(name, seed=0, difficulty='easy', constraints=True)
  task = env.env.task
  assert list(task.constraints) == [
      'joint_angle_constraint', 'joint_velocity_constraint', 'dangerous_fall_constraint',
      'torso_upright_constraint'
  ]
  size = _BASE_FEATURES[name] + 10 + 4
  assert env.spec.observation_shape == (size,)
  observation = env.reset()
  assert observation.shape == (size,) and observation.dtype == np.float32
  np.testing.assert_array_equal(observation[-4:], np.ones(4))
  violations = np.zeros(4)
  rewards = []
  # Bang-bang torques make the walker fall within ~40 steps.
  for t in range(120):
    action = np.full(6, 1.0 if (t // 25) % 2 == 0 else -1.0, np.float32)
    step = env.step(action)
    flags = step.observation[-4:]
    assert set(np.unique(flags)) <= {0.0, 1.0}
    # The current step's values, not delayed like the other features.
    np.testing.assert_array_equal(flags, task.constraints_obs.astype(np.float32))
    violations += flags == 0.0
    rewards.append(step.reward)
  assert violations[2] > 0  # dangerous_fall_constraint
  # Exposed only: the same seed and actions without constraints give the
  # same features and rewards (the flags are appended, nothing else moves).
  plain = rwrl.make_rwrl(name, seed=0, difficulty='easy')
  plain_observations, plain_rewards = _rollout(
      plain, [np.full(6, 1.0 if (t // 25) % 2 == 0 else -1.0, np.float32) for t in range(120)])
  np.testing.assert_array_equal(plain_rewards, rewards)
  np.testing.assert_array_equal(plain_observations[-1], step.observation[:-4])


@requires_suite
def test_real_episode_ends_truncated_at_the_time_limit():
  # 1000 control steps (10 s); with action_repeat 10, 100 adapter steps.
  env = rwrl.make_rwrl('cartpole-realworld_swingup', seed=0, action_repeat=10)
  env.reset()
  steps = [env.step(np.zeros(1, np.float32)) for _ in range(100)]
  assert not any(s.terminated or s.truncated for s in steps[:-1])
  assert steps[-1].truncated and not steps[-1].terminated
  with pytest.raises(RuntimeError, match='reset'):
    env.step(np.zeros(1, np.float32))


@requires_suite
def test_real_errors():
  with pytest.raises(ValueError,
                     match=r"unknown realworldrl_suite task "
                     r"'cartpole-swingup'.*cartpole-realworld_swingup.*"
                     r"humanoid-realworld_walk"):
    rwrl.make_rwrl('cartpole-swingup')
  with pytest.raises(ValueError, match=r"unknown realworldrl_suite task "
                     r"'walker_walk'"):
    rwrl.make_rwrl('walker_walk')
  with pytest.raises(ValueError, match=r"unknown rwrl difficulty 'Easy'"):
    rwrl.make_rwrl('walker-realworld_walk', difficulty='Easy')
  with pytest.raises(ValueError, match=r"unknown rwrl difficulty None"):
    rwrl.make_rwrl('walker-realworld_walk', difficulty=None)
  with pytest.raises(ValueError, match='seed must be a non-negative'):
    rwrl.make_rwrl('walker-realworld_walk', seed=-1)
