"""Tests for seed_stac.envs.rwrl.

realworldrl_suite is not installable from PyPI, so the wiring is tested
against a fake `realworldrl_suite.environments` built on dm_control, and the
real-package test is skipped when it is absent.
"""

import importlib.util
import sys
import types

from dm_control import suite
import numpy as np
import pytest

from seed_stac.envs import rwrl

_ALL_TASKS = (('cartpole_swingup', 'cartpole', 'realworld_swingup'),
              ('walker_walk', 'walker', 'realworld_walk'))


@pytest.fixture
def fake_suite(monkeypatch):
  """Installs a fake package; `calls` records every load() call."""
  calls = []

  def load(domain_name, task_name, **kwargs):
    calls.append(dict(domain_name=domain_name, task_name=task_name, **kwargs))
    dmc_task = task_name[len('realworld_'):]
    return suite.load(domain_name, dmc_task,
                      task_kwargs={'random': kwargs['random']},
                      environment_kwargs={'flat_observation': True})

  package = types.ModuleType('realworldrl_suite')
  environments = types.ModuleType('realworldrl_suite.environments')
  environments.ALL_TASKS = _ALL_TASKS
  environments.load = load
  package.environments = environments
  monkeypatch.setitem(sys.modules, 'realworldrl_suite', package)
  monkeypatch.setitem(sys.modules, 'realworldrl_suite.environments',
                      environments)
  return calls


def test_missing_package_error_gives_install_command(monkeypatch):
  # None in sys.modules makes the import fail even if it is installed.
  monkeypatch.setitem(sys.modules, 'realworldrl_suite', None)
  monkeypatch.setitem(sys.modules, 'realworldrl_suite.environments', None)
  with pytest.raises(ImportError) as info:
    rwrl.make_rwrl('walker-realworld_walk')
  assert ('pip install git+https://github.com/google-research/'
          'realworldrl_suite') in str(info.value)


def test_load_arguments(fake_suite):
  env = rwrl.make_rwrl('walker-realworld_walk', seed=3, difficulty='hard')
  assert fake_suite == [dict(
      domain_name='walker', task_name='realworld_walk',
      combined_challenge='hard', log_output=None, random=3,
      environment_kwargs=dict(log_safety_vars=False, flat_observation=True))]
  assert env.spec.name == 'walker-realworld_walk'
  assert env.spec.observation_shape == (24,)
  assert env.spec.observation_dtype == 'float32'
  assert env.spec.action.shape == (6,)
  observation = env.reset()
  assert observation.shape == (24,) and observation.dtype == np.float32
  step = env.step(np.zeros(6, np.float32))
  assert step.observation.shape == (24,)


def test_action_repeat_sets_frames_per_step(fake_suite):
  env = rwrl.make_rwrl('cartpole-realworld_swingup', action_repeat=100)
  assert env.spec.frames_per_step == 100
  env.reset()
  steps = [env.step(np.zeros(1)) for _ in range(10)]
  assert steps[-1].truncated and not steps[-1].terminated


def test_errors(fake_suite):
  with pytest.raises(ValueError, match=r"unknown rwrl difficulty 'extreme'.*"
                     r"\['easy', 'hard', 'medium'\]"):
    rwrl.make_rwrl('walker-realworld_walk', difficulty='extreme')
  with pytest.raises(ValueError, match=r"unknown realworldrl_suite task "
                     r"'walker-walk'.*walker-realworld_walk"):
    rwrl.make_rwrl('walker-walk')
  with pytest.raises(ValueError, match='action_repeat'):
    rwrl.make_rwrl('walker-realworld_walk', action_repeat=0)
  assert not fake_suite  # Nothing was built for bad arguments.


@pytest.mark.skipif(importlib.util.find_spec('realworldrl_suite') is None,
                    reason='realworldrl_suite is not installed')
@pytest.mark.parametrize('difficulty', rwrl.DIFFICULTIES)
def test_real_package(difficulty):
  env = rwrl.make_rwrl('cartpole-realworld_swingup', seed=0,
                       difficulty=difficulty)
  observation = env.reset()
  assert observation.shape == env.spec.observation_shape
  assert observation.dtype == np.float32
  step = env.step(np.zeros(env.spec.action.shape, np.float32))
  assert step.observation.shape == env.spec.observation_shape
