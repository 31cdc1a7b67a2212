"""Tests for seed_stac.envs.batch."""

import numpy as np
import pytest

from seed_stac.envs import base
from seed_stac.envs import batch
from seed_stac.envs import catch


class CountingEnv(base.Environment):
  """Episodes of `length` steps; obs = [episode index, t]; reward = action.

  The last step is truncated if `truncate` else terminated.
  """

  def __init__(self, length, truncate=False):
    self._length = length
    self._truncate = truncate
    self._episode = -1
    self._t = 0
    self.spec = base.EnvSpec(name='counting',
                             observation_shape=(2,),
                             observation_dtype='int32',
                             action=base.ActionSpec(kind='discrete', num_actions=10))

  def reset(self):
    self._episode += 1
    self._t = 0
    return np.array([self._episode, 0], np.int32)

  def step(self, action):
    self._t += 1
    end = self._t == self._length
    return base.Step(np.array([self._episode, self._t], np.int32),
                     float(action),
                     terminated=end and not self._truncate,
                     truncated=end and self._truncate)


def test_reset_shapes_and_dtypes():
  envs = batch.EnvBatch([catch.Catch(seed=s) for s in range(3)])
  assert len(envs) == 3
  assert envs.spec == catch.Catch().spec
  observations = envs.reset()
  assert observations.shape == (3, 50) and observations.dtype == np.float32


def test_auto_reset_and_episode_stats():
  envs = batch.EnvBatch([CountingEnv(2), CountingEnv(3, truncate=True)])
  np.testing.assert_array_equal(envs.reset(), [[0, 0], [0, 0]])
  out = envs.step(np.array([1, 4], np.int32))
  assert out.observation.dtype == np.int32
  np.testing.assert_array_equal(out.observation, [[0, 1], [0, 1]])
  np.testing.assert_array_equal(out.reward, [1.0, 4.0])
  assert out.reward.dtype == np.float32
  assert np.isnan(out.episode_return).all()
  np.testing.assert_array_equal(out.episode_length, [0, 0])

  out = envs.step([2, 5])  # Env 0 terminates: next episode's first obs.
  np.testing.assert_array_equal(out.observation, [[1, 0], [0, 2]])
  np.testing.assert_array_equal(out.terminated, [True, False])
  np.testing.assert_array_equal(out.truncated, [False, False])
  assert out.episode_return[0] == 3.0 and np.isnan(out.episode_return[1])
  np.testing.assert_array_equal(out.episode_length, [2, 0])
  assert out.episode_return.dtype == np.float32
  assert out.episode_length.dtype == np.int32

  out = envs.step([7, 6])  # Env 1 is truncated; env 0's new episode counts.
  np.testing.assert_array_equal(out.observation, [[1, 1], [1, 0]])
  np.testing.assert_array_equal(out.terminated, [False, False])
  np.testing.assert_array_equal(out.truncated, [False, True])
  assert np.isnan(out.episode_return[0]) and out.episode_return[1] == 15.0
  np.testing.assert_array_equal(out.episode_length, [0, 3])

  out = envs.step([1, 0])
  assert out.episode_return[0] == 8.0 and out.episode_length[0] == 2


def test_reset_clears_running_stats():
  envs = batch.EnvBatch([CountingEnv(2)])
  envs.reset()
  envs.step([5])
  envs.reset()
  envs.step([1])
  assert envs.step([1]).episode_return[0] == 2.0


def test_catch_auto_reset_matches_a_fresh_episode():
  envs = batch.EnvBatch([catch.Catch(seed=s) for s in range(4)])
  twins = [catch.Catch(seed=s) for s in range(4)]
  for twin in twins:
    twin.reset()
  envs.reset()
  for _ in range(8):
    out = envs.step(np.ones(4, np.int32))
    assert not out.terminated.any()
  out = envs.step(np.ones(4, np.int32))
  assert out.terminated.all() and not out.truncated.any()
  assert set(out.episode_return) <= {1.0, -1.0}
  np.testing.assert_array_equal(out.episode_length, 9)
  np.testing.assert_array_equal(out.observation, np.stack([twin.reset() for twin in twins]))


def test_continuous_actions():
  from seed_stac.envs import dmc  # pylint: disable=g-import-not-at-top
  envs = batch.EnvBatch([dmc.make_dmc('cartpole-swingup', seed=s) for s in range(2)])
  assert envs.reset().shape == (2, 5)
  out = envs.step(np.zeros((2, 1), np.float64))
  assert out.observation.shape == (2, 5)
  with pytest.raises(ValueError, match=r'shape \(2, 1\)'):
    envs.step(np.zeros(2, np.float32))
  with pytest.raises(ValueError, match='must be finite, got \\[nan\\] for env 1'):
    envs.step(np.array([[0.0], [np.nan]]))


def test_errors():
  with pytest.raises(ValueError, match='at least one'):
    batch.EnvBatch([])
  with pytest.raises(ValueError, match='share one spec; env 1'):
    batch.EnvBatch([catch.Catch(), catch.Catch(rows=5)])
  envs = batch.EnvBatch([catch.Catch(seed=s) for s in range(2)])
  with pytest.raises(RuntimeError, match='before reset'):
    envs.step([1, 1])
  envs.reset()
  with pytest.raises(ValueError, match=r'shape \(2,\) and integer dtype, got '
                     r'shape \(3,\)'):
    envs.step([1, 1, 1])
  with pytest.raises(ValueError, match='integer dtype.*float'):
    envs.step(np.array([1.0, 1.0]))
  with pytest.raises(ValueError, match=r'\[0, 3\), got 3 for env 1'):
    envs.step([1, 3])


def test_a_bad_action_steps_no_env():
  """The batch is checked before env 0 steps, so a refused step loses nothing."""
  envs = batch.EnvBatch([catch.Catch(seed=s) for s in range(2)])
  twins = batch.EnvBatch([catch.Catch(seed=s) for s in range(2)])
  np.testing.assert_array_equal(envs.reset(), twins.reset())
  with pytest.raises(ValueError, match='for env 1'):
    envs.step([0, -1])
  for _ in range(3):
    out, twin_out = envs.step([0, 2]), twins.step([0, 2])
    np.testing.assert_array_equal(out.observation, twin_out.observation)
