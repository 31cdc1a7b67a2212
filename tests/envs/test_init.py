"""Tests for the seed_stac.envs factory functions."""

import os
import subprocess
import sys

import numpy as np
import pytest

from seed_stac import envs
from seed_stac.envs import catch

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize('kind,name,options,spec_name', [
    ('catch', 'catch', {
        'rows': 6
    }, 'catch'),
    ('cartpole', 'CartPole-v1', {}, 'CartPole-v1'),
    ('atari', 'ALE/Pong-v5', {
        'repeat_action_probability': 0.25
    }, 'Pong'),
    ('dmc', 'cartpole-swingup', {
        'mode': 'pixels'
    }, 'cartpole-swingup'),
    ('minatar', 'space_invaders', {
        'sticky_action_prob': 0.0
    }, 'SpaceInvaders'),
])
def test_create_environment(kind, name, options, spec_name):
  env = envs.create_environment(kind, name, 0, **options)
  assert isinstance(env, envs.Environment)
  assert env.spec.name == spec_name
  observation = env.reset()
  assert observation.shape == env.spec.observation_shape
  assert observation.dtype == np.dtype(env.spec.observation_dtype)


def test_specs_round_trip_through_dicts():
  spec = envs.create_environment('dmc', 'cartpole-swingup', 0).spec
  assert envs.EnvSpec.from_dict(spec.to_dict()) == spec


def test_create_env_batch_seeds_each_env():
  batch = envs.create_env_batch('catch', 'catch', seed=10, batch_size=5)
  assert isinstance(batch, envs.EnvBatch) and len(batch) == 5
  observations = batch.reset()
  expected = np.stack([catch.Catch(seed=10 + i).reset() for i in range(5)])
  np.testing.assert_array_equal(observations, expected)


def test_valid_options():
  assert set(envs.valid_options('atari')) == {
      'noop_max', 'max_episode_frames', 'full_action_space', 'repeat_action_probability',
      'terminal_on_life_loss'
  }
  assert set(envs.valid_options('dmc')) == {'mode', 'action_repeat', 'camera_id', 'frame_stack'}
  assert set(envs.valid_options('rwrl')) == {'difficulty', 'action_repeat', 'constraints'}
  assert set(envs.valid_options('minatar')) == {
      'sticky_action_prob', 'difficulty_ramping', 'max_episode_steps'
  }
  assert envs.valid_options('cartpole') == ()


def test_errors():
  with pytest.raises(ValueError,
                     match=r"unknown environment kind 'procgen'.*"
                     r"\['atari', 'cartpole', 'catch', 'dm_env', 'dmc', 'gym', 'minatar', "
                     r"'rwrl'\]"):
    envs.create_environment('procgen', 'Pong', 0)
  with pytest.raises(ValueError,
                     match=r"unknown option\(s\) \['sticky'\] for "
                     r"environment kind 'atari'.*'noop_max'"):
    envs.create_environment('atari', 'Pong', 0, sticky=True)
  with pytest.raises(ValueError,
                     match=r"\['mode'\] for environment kind "
                     r"'cartpole'; valid options: \[\]"):
    envs.create_environment('cartpole', 'CartPole-v1', 0, mode='pixels')
  with pytest.raises(ValueError,
                     match=r"unknown cartpole environment name "
                     r"'CartPole-v0'.*CartPole-v1"):
    envs.create_environment('cartpole', 'CartPole-v0', 0)
  with pytest.raises(ValueError, match='unknown Atari game'):
    envs.create_environment('atari', 'Pongo', 0)
  with pytest.raises(ValueError, match='batch_size'):
    envs.create_env_batch('catch', 'catch', 0, batch_size=0)
  with pytest.raises(ValueError, match='seed'):
    envs.create_env_batch('catch', 'catch', -1, batch_size=2)


def test_package_import_is_light():
  code = ('import sys\n'
          'import seed_stac.envs\n'
          'heavy = [m for m in ("ale_py", "dm_control", "gymnasium", '
          '"tensorflow") if m in sys.modules]\n'
          'print(heavy)\n')
  out = subprocess.run([sys.executable, '-c', code],
                       cwd=_ROOT,
                       capture_output=True,
                       text=True,
                       timeout=60,
                       check=True)
  assert out.stdout.strip() == '[]'
