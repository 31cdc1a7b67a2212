"""Tests for seed_stac.envs.resize (exact area averaging)."""

import math

import numpy as np
import pytest

from seed_stac.envs import resize


def _reference_area_resize(image, out_h, out_w):
  """Slow, independent reference: replicate pixels up to the LCM grid, where
  every output pixel covers whole cells, then take plain block means."""
  in_h, in_w = image.shape
  lcm_h, lcm_w = math.lcm(in_h, out_h), math.lcm(in_w, out_w)
  fine = np.repeat(np.repeat(image.astype(np.float64), lcm_h // in_h, axis=0),
                   lcm_w // in_w,
                   axis=1)
  blocks = fine.reshape(out_h, lcm_h // out_h, out_w, lcm_w // out_w)
  return blocks.mean(axis=(1, 3))


def test_weights_rows_sum_to_one():
  weights = resize.area_weights(210, 84)
  assert weights.shape == (84, 210)
  np.testing.assert_allclose(weights.sum(axis=1), 1.0)
  assert (weights >= 0).all()


def test_atari_resize_matches_reference():
  rng = np.random.default_rng(0)
  image = rng.integers(0, 256, (210, 160), dtype=np.uint8)
  out = resize.AreaResizer((210, 160), (84, 84))(image)
  assert out.shape == (84, 84) and out.dtype == np.uint8
  expected = _reference_area_resize(image, 84, 84)
  # float32 vs float64 can only disagree where the mean is within rounding
  # error of a .5 tie.
  diff = np.abs(out.astype(np.float64) - expected)
  assert diff.max() <= 0.5 + 1e-3
  assert (out == np.rint(expected)).mean() > 0.999


def test_integer_factor_is_block_mean():
  image = np.arange(16, dtype=np.uint8).reshape(4, 4) * 10
  out = resize.AreaResizer((4, 4), (2, 2))(image)
  np.testing.assert_array_equal(out, [[25, 45], [105, 125]])


def test_constant_and_extreme_images_survive():
  resizer = resize.AreaResizer((210, 160), (84, 84))
  for value in (0, 255, 37):
    image = np.full((210, 160), value, np.uint8)
    np.testing.assert_array_equal(resizer(image), value)


def test_errors():
  with pytest.raises(ValueError, match='only downscales'):
    resize.AreaResizer((10, 10), (20, 5))
  resizer = resize.AreaResizer((210, 160), (84, 84))
  with pytest.raises(ValueError, match=r'shape \(210, 160\), got \(84, 84\)'):
    resizer(np.zeros((84, 84), np.uint8))
