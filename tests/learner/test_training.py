"""Unroll assembly: B columns of T + 1 rows become one time-major batch."""

import numpy as np

from seed_stac.learner.env_state import STEP_FIELDS
from seed_stac.learner.training import stack_columns

T1, B = 4, 3  # T + 1 rows, B columns


def _column(rng, b):
  shapes = dict(observation=((2, 5, 5, 1), np.uint8),
                prev_action=((), np.int32),
                reward=((), np.float32),
                first=((), bool),
                terminated=((), bool),
                truncated=((), bool),
                action=((), np.int32),
                behaviour_log_prob=((), np.float32))
  assert set(shapes) == set(STEP_FIELDS)
  rows = {
      k: [rng.integers(0, 100, shape).astype(dtype) for _ in range(T1)]
      for k, (shape, dtype) in shapes.items()
  }
  core = (np.full(6, b, np.float32),)
  return rows, core


def test_stack_columns_matches_a_brute_force_time_major_stack():
  rng = np.random.default_rng(0)
  columns = [_column(rng, b) for b in range(B)]
  unroll = stack_columns(columns)
  for k in STEP_FIELDS:
    got = getattr(unroll, k).numpy()
    expected = np.array([[columns[b][0][k][t] for b in range(B)] for t in range(T1)])
    assert got.dtype == expected.dtype, k
    np.testing.assert_array_equal(got, expected, err_msg=k)
  np.testing.assert_array_equal(unroll.core_state[0].numpy()[:, 0], np.arange(B))


def test_stacked_batch_does_not_alias_the_recorded_rows():
  rng = np.random.default_rng(1)
  columns = [_column(rng, b) for b in range(B)]
  unroll = stack_columns(columns)
  before = unroll.observation.numpy().copy()
  for rows, _ in columns:
    for row in rows['observation']:
      row[...] = 255
  np.testing.assert_array_equal(unroll.observation.numpy(), before)
