"""seed_stac.nets.distributions: the squashed Gaussian and the discretized
policy against brute-force densities, Monte Carlo entropies and sums over
every action; bounds and bad arguments."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from seed_stac.envs.base import ActionSpec
from seed_stac.nets import distributions

BOX = ActionSpec('continuous', shape=(2,), minimum=(-1.0, 0.0), maximum=(1.0, 4.0))


def _squashed(mean, scale, spec=BOX):
  raw_scale = np.log(np.expm1(np.asarray(scale, np.float64) - 1e-3))
  params = tf.constant(np.concatenate([mean, raw_scale], -1), tf.float64)
  return distributions.make_distribution_adapter(spec, continuous_policy='tanh_gaussian')(params)


def _normal_log_pdf(x, mean, scale):
  return -0.5 * ((x - mean) / scale)**2 - np.log(scale) - 0.5 * np.log(2 * np.pi)


def test_squashed_log_prob_is_the_change_of_variables_density():
  mean, scale = np.array([0.3, -0.8]), np.array([0.7, 1.5])
  dist = _squashed(mean, scale)
  low, high = np.array([-1.0, 0.0]), np.array([1.0, 4.0])
  u = np.array([[0.1, -2.0], [1.5, 0.4], [-0.9, 3.0]])
  y = low + (high - low) * (np.tanh(u) + 1) / 2
  dy_du = (high - low) / 2 * (1 - np.tanh(u)**2)
  expected = np.sum(_normal_log_pdf(u, mean, scale) - np.log(dy_du), -1)
  np.testing.assert_allclose(dist.log_prob(tf.constant(y)).numpy(), expected, rtol=1e-6)


def test_squashed_density_integrates_to_one_and_entropy_matches_monte_carlo():
  spec = ActionSpec('continuous', shape=(1,), minimum=(-2.0,), maximum=(2.0,))
  for mean, scale in ((0.0, 0.3), (1.2, 1.0), (-0.5, 1.5)):
    dist = _squashed([mean], [scale], spec)
    # Points in y, dense near the bounds where the density may pile up.
    grid = 2.0 * np.tanh(np.linspace(-12, 12, 200_001))[:, None]
    density = np.exp(dist.log_prob(tf.constant(grid)).numpy())
    assert np.trapezoid(density, grid[:, 0]) == pytest.approx(1.0, abs=2e-3)
    many = _squashed(np.full([200_000, 1], mean), np.full([200_000, 1], scale), spec)
    draws = many.sample(seed=(3, 4))
    monte_carlo = -np.mean(many.log_prob(draws).numpy())
    assert dist.entropy().numpy() == pytest.approx(monte_carlo, abs=0.02)


def test_squashed_entropy_is_bounded_by_the_uniform_one():
  """A Gaussian's entropy grows with log(scale) for ever; the squashed one
  cannot exceed the uniform distribution's log(high - low) per dimension."""
  uniform = np.log(2.0) + np.log(4.0)
  entropies = [float(_squashed([0.0, 0.0], [s, s]).entropy()) for s in (0.5, 1, 3, 10, 100)]
  assert max(entropies) < uniform
  assert entropies[-1] < entropies[2]  # past some scale, more spread saturates: less entropy


def test_squashed_samples_stay_inside_the_bounds_and_keep_a_finite_log_prob():
  dist = _squashed(np.array([[8.0, -8.0]] * 1000), np.array([[5.0, 5.0]] * 1000))
  action = dist.sample(seed=(5, 6)).numpy()
  assert np.all(action[:, 0] >= -1) and np.all(action[:, 0] <= 1)
  assert np.all(action[:, 1] >= 0) and np.all(action[:, 1] <= 4)
  assert np.all(np.isfinite(dist.log_prob(tf.constant(action)).numpy()))
  np.testing.assert_allclose(_squashed([0.0, 0.0], [1.0, 1.0]).mode().numpy(), [0.0, 2.0])


def test_squashed_kl_is_the_kl_of_the_unsquashed_gaussians():
  p, q = _squashed([0.3, -0.8], [0.7, 1.5]), _squashed([0.1, 0.2], [1.0, 0.5])
  expected = sum(
      np.log(s2 / s1) + (s1**2 + (m1 - m2)**2) / (2 * s2**2) - 0.5
      for m1, s1, m2, s2 in ((0.3, 0.7, 0.1, 1.0), (-0.8, 1.5, 0.2, 0.5)))
  assert float(p.kl_divergence(q)) == pytest.approx(expected, rel=1e-4)
  assert float(p.kl_divergence(p)) == pytest.approx(0.0, abs=1e-12)


def _discretized(logits):
  adapter = distributions.make_distribution_adapter(BOX, continuous_policy='discretized', bins=3)
  return adapter(tf.constant(np.asarray(logits, np.float32).reshape(-1)))


def test_discretized_probabilities_sum_to_one_over_every_grid_action():
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(2, 3))
  dist = _discretized(logits)
  grid = [(-1.0, 0.0, 1.0), (0.0, 2.0, 4.0)]
  total = 0.0
  for a0, a1 in itertools.product(*grid):
    p = np.exp(float(dist.log_prob(tf.constant([a0, a1]))))
    expected = np.prod([
        np.exp(logits[d, i]) / np.exp(logits[d]).sum()
        for d, i in enumerate((grid[0].index(a0), grid[1].index(a1)))
    ])
    assert p == pytest.approx(expected, rel=1e-5)
    total += p
  assert total == pytest.approx(1.0, rel=1e-5)
  # An off-grid value reads its nearest bin; values past a bound, the edge bin.
  np.testing.assert_allclose(dist.log_prob(tf.constant([0.4, 4.7])),
                             dist.log_prob(tf.constant([0.0, 4.0])))
  probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
  assert float(dist.entropy()) == pytest.approx(-np.sum(probs * np.log(probs)), rel=1e-5)


def test_discretized_samples_and_mode_are_grid_values():
  dist = _discretized([[0.0, 5.0, 0.0], [0.0, 0.0, 9.0]])
  np.testing.assert_allclose(dist.mode().numpy(), [0.0, 4.0])
  many = distributions.make_distribution_adapter(BOX, continuous_policy='discretized',
                                                 bins=3)(tf.zeros([500, 6]))
  values = many.sample(seed=(7, 8)).numpy()
  assert set(np.unique(values[:, 0])) == {-1.0, 0.0, 1.0}
  assert set(np.unique(values[:, 1])) == {0.0, 2.0, 4.0}


def test_bounded_policies_refuse_unbounded_actions_and_bad_settings():
  unbounded = ActionSpec('continuous', shape=(1,), minimum=(-np.inf,), maximum=(1.0,))
  for policy in ('tanh_gaussian', 'discretized'):
    with pytest.raises(ValueError, match='finite action bounds'):
      distributions.make_distribution_adapter(unbounded, continuous_policy=policy)
  with pytest.raises(ValueError, match='at least 2 bins'):
    distributions.make_distribution_adapter(BOX, continuous_policy='discretized', bins=1)
  with pytest.raises(ValueError, match='continuous_policy must be one of'):
    distributions.make_distribution_adapter(BOX, continuous_policy='beta')
