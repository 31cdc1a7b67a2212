"""Tests for seed_stac.envs.checks."""

import numpy as np
import pytest

from seed_stac.envs import base
from seed_stac.envs import checks

_BOX = base.ActionSpec(kind='continuous', shape=(2,), minimum=(-1.0, 0.0), maximum=(1.0, 2.0))


@pytest.mark.parametrize('seed', [0, 7, np.int64(3)])
def test_check_seed_accepts_non_negative_ints(seed):
  assert checks.check_seed(seed) == int(seed)
  assert isinstance(checks.check_seed(seed), int)


@pytest.mark.parametrize('seed', [-1, 1.0, '1', None, True])
def test_check_seed_rejects_bad_seeds(seed):
  with pytest.raises(ValueError, match='seed must be a non-negative integer'):
    checks.check_seed(seed)


def test_check_int():
  assert checks.check_int('n', 3, 1) == 3
  for bad in (0, 2.5, 'x', False):
    with pytest.raises(ValueError, match='n must be an integer >= 1'):
      checks.check_int('n', bad, 1)


@pytest.mark.parametrize('action', [0, 2, np.int32(1), np.array(2)])
def test_discrete_action_accepts_integers(action):
  assert checks.discrete_action(action, 3) == int(action)


@pytest.mark.parametrize('action,message', [
    (3, r'in \[0, 3\), got 3'),
    (-1, r'in \[0, 3\), got -1'),
    (1.0, 'scalar integer'),
    (np.array([1]), 'scalar integer'),
    (True, 'scalar integer'),
])
def test_discrete_action_rejects(action, message):
  with pytest.raises(ValueError, match=message):
    checks.discrete_action(action, 3)


def test_continuous_action_clips_to_bounds():
  out = checks.continuous_action([5.0, -3.0], _BOX)
  assert out.dtype == np.float32
  np.testing.assert_array_equal(out, [1.0, 0.0])
  np.testing.assert_array_equal(checks.continuous_action(np.array([0.25, 1.5]), _BOX), [0.25, 1.5])


def test_continuous_action_rejects_shape_and_nan():
  with pytest.raises(ValueError, match=r'shape \(2,\), got shape \(3,\)'):
    checks.continuous_action([0.0, 0.0, 0.0], _BOX)
  with pytest.raises(ValueError, match='finite'):
    checks.continuous_action([np.nan, 0.0], _BOX)


def test_check_choice_lists_valid_choices():
  with pytest.raises(ValueError, match=r"unknown color 'red'.*\['blue', 'green'\]"):
    checks.check_choice('color', 'red', ('green', 'blue'))
  checks.check_choice('color', 'blue', ('green', 'blue'))


@pytest.mark.parametrize('name', ['cartpole-fly', 'cartpole', 'swingup-cartpole', '', None, 3])
def test_split_task_name_rejects_names_not_in_the_suite(name):
  tasks = [('cartpole', 'swingup'), ('walker', 'walk')]
  with pytest.raises(ValueError,
                     match=r"unknown demo task .*; valid names: "
                     r"cartpole-swingup, walker-walk$"):
    checks.split_task_name(name, tasks, 'demo')


def test_split_task_name_splits_at_the_first_dash():
  tasks = [('cartpole', 'swingup'), ('walker', 'realworld_walk-hard')]
  assert checks.split_task_name('cartpole-swingup', tasks, 'demo') == ('cartpole', 'swingup')
  assert checks.split_task_name('walker-realworld_walk-hard', iter(tasks),
                                'demo') == ('walker', 'realworld_walk-hard')
