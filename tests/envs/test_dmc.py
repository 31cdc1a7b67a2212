"""Tests for seed_stac.envs.dmc on real dm_control tasks."""

import os
import subprocess
import sys

from dm_control import suite
import numpy as np
import pytest

from seed_stac.envs import dmc

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_features_mode():
  env = dmc.make_dmc('cartpole-swingup', seed=0)
  spec = env.spec
  assert spec.name == 'cartpole-swingup'
  assert spec.observation_shape == (5,)  # position (3,) + velocity (2,)
  assert spec.observation_dtype == 'float32'
  assert spec.frame_stack == 1 and spec.frames_per_step == 1
  assert spec.action.kind == 'continuous' and spec.action.shape == (1,)
  assert spec.action.minimum == (-1.0,) and spec.action.maximum == (1.0,)
  observation = env.reset()
  assert observation.shape == (5,) and observation.dtype == np.float32
  # Same values and order as the suite's own dict.
  raw = suite.load('cartpole', 'swingup', task_kwargs={'random': 0})
  timestep = raw.reset()
  np.testing.assert_allclose(
      observation,
      np.concatenate([timestep.observation['position'], timestep.observation['velocity']]),
      rtol=1e-6)
  step = env.step(np.array([0.3], np.float32))
  raw_step = raw.step([0.3])
  assert step.reward == pytest.approx(raw_step.reward)
  assert step.observation.dtype == np.float32


def test_pixels_mode():
  env = dmc.make_dmc('cartpole-swingup', seed=0, mode='pixels')
  spec = env.spec
  assert spec.observation_shape == (84, 84, 3)
  assert spec.observation_dtype == 'uint8'
  assert spec.frame_stack == 3
  assert spec.stacked_observation_shape == (3, 84, 84, 3)
  observation = env.reset()
  assert observation.shape == (84, 84, 3) and observation.dtype == np.uint8
  assert observation.min() < observation.max()
  moved = env.step(np.ones(1, np.float32)).observation
  for _ in range(10):
    moved = env.step(np.ones(1, np.float32)).observation
  assert moved.shape == (84, 84, 3) and not np.array_equal(moved, observation)
  assert dmc.make_dmc('cartpole-swingup', mode='pixels', frame_stack=4).spec.frame_stack == 4


def test_time_limit_is_truncation_with_large_action_repeat():
  # cartpole: 1000 control steps per episode -> 10 agent steps of 100.
  env = dmc.make_dmc('cartpole-swingup', seed=0, mode='pixels', action_repeat=100)
  assert env.spec.frames_per_step == 100
  env.reset()
  steps = [env.step(np.zeros(1)) for _ in range(10)]
  assert steps[-1].truncated and not steps[-1].terminated
  assert not any(s.truncated or s.terminated for s in steps[:-1])
  assert steps[-1].observation.shape == (84, 84, 3)
  with pytest.raises(RuntimeError, match='call reset'):
    env.step(np.zeros(1))


def test_action_repeat_sums_rewards():
  env = dmc.make_dmc('cartpole-swingup', seed=1, action_repeat=3)
  raw = suite.load('cartpole', 'swingup', task_kwargs={'random': 1})
  env.reset()
  raw.reset()
  for _ in range(4):
    expected = sum(raw.step([0.5]).reward for _ in range(3))
    assert env.step([0.5]).reward == pytest.approx(expected)


def test_actions_are_clipped():
  clipped = dmc.make_dmc('cartpole-swingup', seed=2)
  exact = dmc.make_dmc('cartpole-swingup', seed=2)
  clipped.reset()
  exact.reset()
  for _ in range(5):
    a = clipped.step(np.array([7.0])).observation
    b = exact.step(np.array([1.0])).observation
  np.testing.assert_array_equal(a, b)


def test_seeded_determinism():
  a = dmc.make_dmc('cartpole-swingup', seed=4).reset()
  b = dmc.make_dmc('cartpole-swingup', seed=4).reset()
  c = dmc.make_dmc('cartpole-swingup', seed=5).reset()
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)


def test_quadruped_defaults_to_camera_2(monkeypatch):
  cameras = []
  real_render = dmc.render_pixels

  def spy(physics, camera_id):
    cameras.append(camera_id)
    return real_render(physics, camera_id)

  monkeypatch.setattr(dmc, 'render_pixels', spy)
  dmc.make_dmc('quadruped-walk', mode='pixels')
  dmc.make_dmc('cartpole-swingup', mode='pixels')
  dmc.make_dmc('cartpole-swingup', mode='pixels', camera_id=1)
  assert cameras == [2, 0, 1]


def test_render_failure_says_what_to_install(monkeypatch):
  from dm_control.mujoco import engine  # pylint: disable=g-import-not-at-top

  def broken(*args, **kwargs):
    raise RuntimeError('No OpenGL rendering backend is available.')

  monkeypatch.setattr(engine.Physics, 'render', broken)
  with pytest.raises(RuntimeError, match='(?s)rendering failed.*MUJOCO_GL.*'
                     'libegl1.*osmesa'):
    dmc.make_dmc('cartpole-swingup', mode='pixels')


def test_errors():
  with pytest.raises(ValueError,
                     match=r"unknown dm_control task 'cartpole-fly'.*"
                     'cartpole-swingup.*walker-walk'):
    dmc.make_dmc('cartpole-fly')
  with pytest.raises(ValueError, match='unknown dm_control task'):
    dmc.make_dmc('cartpole')
  with pytest.raises(ValueError, match=r"unknown dmc mode 'rgb'.*features"):
    dmc.make_dmc('cartpole-swingup', mode='rgb')
  with pytest.raises(ValueError, match='camera_id only applies'):
    dmc.make_dmc('cartpole-swingup', camera_id=0)
  with pytest.raises(ValueError, match=r'camera_id .* \[-1, 2\)'):
    dmc.make_dmc('cartpole-swingup', mode='pixels', camera_id=5)
  with pytest.raises(ValueError, match='action_repeat'):
    dmc.make_dmc('cartpole-swingup', action_repeat=0)
  with pytest.raises(ValueError, match='frame_stack'):
    dmc.make_dmc('cartpole-swingup', frame_stack=0)
  env = dmc.make_dmc('cartpole-swingup')
  env.reset()
  with pytest.raises(ValueError, match=r'shape \(1,\)'):
    env.step(np.zeros(2))


def _import_dmc_in_subprocess(mujoco_gl):
  environ = dict(os.environ)
  environ.pop('MUJOCO_GL', None)
  if mujoco_gl is not None:
    environ['MUJOCO_GL'] = mujoco_gl
  code = ('import os\n'
          'try:\n'
          '  from seed_stac.envs import dmc\n'
          '  print("MUJOCO_GL=" + os.environ["MUJOCO_GL"])\n'
          'except ImportError as e:\n'
          '  print("ImportError: " + str(e))\n')
  return subprocess.run([sys.executable, '-c', code],
                        cwd=_ROOT,
                        env=environ,
                        capture_output=True,
                        text=True,
                        timeout=60,
                        check=True).stdout


def test_mujoco_gl_defaults_to_egl_and_bad_backend_is_explained():
  assert 'MUJOCO_GL=egl' in _import_dmc_in_subprocess(None)
  assert 'MUJOCO_GL=osmesa' in _import_dmc_in_subprocess('osmesa')
  out = _import_dmc_in_subprocess('nonsense')
  assert 'ImportError: importing dm_control failed' in out
  assert 'apt-get install libegl1' in out
