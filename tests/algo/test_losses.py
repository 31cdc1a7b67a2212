"""Loss terms against written-out formulas; truncation; KL."""

import numpy as np
import pytest
import tensorflow as tf

from seed_stac.algo import losses
from seed_stac.algo.metaparams import Hyperparameters
from seed_stac.algo.vtrace import leaky_vtrace
from seed_stac.nets.distributions import CategoricalAdapter, GaussianAdapter


def _data(rng, T=5, B=3, A=4, truncated=None):
  params = tf.constant(rng.normal(size=[T + 1, B, A]))
  values = tf.constant(rng.normal(size=[T + 1, B]))
  action = tf.constant(rng.integers(0, A, [T, B]).astype(np.int32))
  transitions = losses.Transitions(
      action=action,
      behaviour_log_prob=tf.constant(np.log(np.full([T, B], 1 / A))),
      reward=tf.constant(rng.normal(size=[T, B])),
      terminated=tf.constant(rng.random([T, B]) < 0.2),
      truncated=tf.constant(np.zeros([T, B], bool) if truncated is None else truncated))
  return params, values, transitions


def test_head_loss_matches_formula():
  rng = np.random.default_rng(0)
  params, values, tr = _data(rng)
  hp = Hyperparameters(gamma=0.9,
                       lambda_=0.8,
                       g_v=0.3,
                       g_p=0.7,
                       g_e=0.05,
                       alpha_rho=0.5,
                       alpha_c=0.4)
  loss, terms = losses.head_loss(params, values, tr, hp, CategoricalAdapter(4))
  log_pi = tf.nn.log_softmax(params[:-1]).numpy()
  log_prob = np.take_along_axis(log_pi, tr.action.numpy()[..., None], -1)[..., 0]
  discounts = 0.9 * (1 - tr.terminated.numpy())
  vt = leaky_vtrace(values[:-1],
                    values[-1],
                    tr.reward,
                    discounts,
                    log_prob - tr.behaviour_log_prob.numpy(),
                    alpha_rho=0.5,
                    alpha_c=0.4,
                    lambda_=0.8)
  value_loss = np.mean((vt.vs.numpy() - values[:-1].numpy())**2)
  policy_loss = -np.mean(vt.pg_advantages.numpy() * log_prob)
  entropy = np.mean(-np.sum(np.exp(log_pi) * log_pi, -1))
  assert terms['value_loss'].numpy() == pytest.approx(value_loss)
  assert terms['policy_loss'].numpy() == pytest.approx(policy_loss)
  assert terms['entropy'].numpy() == pytest.approx(entropy)
  assert loss.numpy() == pytest.approx(0.3 * value_loss + 0.7 * policy_loss - 0.05 * entropy)


def test_truncation_bootstraps_from_the_value_and_cuts_the_trace():
  rng = np.random.default_rng(1)
  truncated = np.zeros([5, 3], bool)
  truncated[2, 1] = True
  params, values, tr = _data(rng, truncated=truncated)
  tr = tr._replace(terminated=tf.zeros([5, 3], tf.bool))
  hp = Hyperparameters(gamma=0.9)
  # Equivalent data: reward r + gamma * V(x_t) at the cut, discount 0 there.
  reward = tr.reward.numpy().copy()
  reward[2, 1] += 0.9 * values.numpy()[2, 1]
  equivalent = tr._replace(reward=tf.constant(reward),
                           truncated=tf.zeros([5, 3], tf.bool),
                           terminated=tf.constant(truncated))
  a, terms_a = losses.head_loss(params, values, tr, hp, CategoricalAdapter(4))
  b, terms_b = losses.head_loss(params, values, equivalent, hp, CategoricalAdapter(4))
  assert a.numpy() == pytest.approx(b.numpy())
  # A termination at the same step gives a different (no-bootstrap) loss.
  c, _ = losses.head_loss(
      params, values,
      tr._replace(terminated=tf.constant(truncated), truncated=tf.zeros([5, 3], tf.bool)), hp,
      CategoricalAdapter(4))
  assert c.numpy() != pytest.approx(a.numpy())


def test_kl_zero_for_equal_policies_and_positive_otherwise():
  rng = np.random.default_rng(2)
  params = tf.constant(rng.normal(size=[4, 2, 3]))
  adapter = CategoricalAdapter(3)
  assert losses.kl_to_constant(params, params, adapter).numpy() == pytest.approx(0.0)
  assert losses.kl_to_constant(params + rng.normal(size=[4, 2, 3]), params, adapter) > 0


def test_gaussian_head_loss_uses_unclipped_log_prob():
  rng = np.random.default_rng(3)
  adapter = GaussianAdapter(2)
  params = tf.constant(rng.normal(size=[4, 3, 4]))
  action = rng.normal(scale=3.0, size=[3, 3, 2])  # outside [-1, 1] on purpose
  dist = adapter(params[:-1])
  log_prob = dist.log_prob(action).numpy()
  mean, raw = params[:-1, ..., :2].numpy(), params[:-1, ..., 2:].numpy()
  scale = np.log1p(np.exp(raw)) + 1e-3
  expected = np.sum(-0.5 * ((action - mean) / scale)**2 - np.log(scale) - 0.5 * np.log(2 * np.pi),
                    -1)
  np.testing.assert_allclose(log_prob, expected, rtol=1e-6)
  assert np.all(dist.stddev().numpy() >= 1e-3)


def _ppo_surrogate_gradient_is_zero(ratio, advantage, epsilon):
  """Brute force: d/dr of min(r A, clip(r, 1 - e, 1 + e) A), by finite
  difference at r, is zero (the clipped branch is the minimum and flat)."""
  surrogate = lambda r: min(r * advantage, float(np.clip(r, 1 - epsilon, 1 + epsilon)) * advantage)
  h = 1e-7
  return surrogate(ratio + h) == surrogate(ratio - h)


def test_trust_region_mask_is_where_the_ppo_surrogate_has_a_gradient():
  rng = np.random.default_rng(7)
  ratio = np.exp(rng.normal(0.0, 0.4, size=[6, 5]))
  advantages = rng.normal(size=[6, 5])
  mask = losses.trust_region_mask(tf.constant(np.log(ratio)), tf.constant(advantages), 0.2).numpy()
  expected = [[0.0 if _ppo_surrogate_gradient_is_zero(r, a, 0.2) else 1.0
               for r, a in zip(rr, aa)]
              for rr, aa in zip(ratio, advantages)]
  np.testing.assert_array_equal(mask, expected)
  assert 0 < mask.mean() < 1
  assert losses.trust_region_mask(tf.constant(np.log(ratio)), tf.constant(advantages),
                                  0.0).numpy().min() == 1.0


def test_trust_region_keeps_the_policy_loss_of_samples_inside_it_only():
  rng = np.random.default_rng(8)
  params, values, tr = _data(rng)
  hp = Hyperparameters(0.9, 1.0, 0.5, 1.0, 0.01, 1.0, 1.0)
  _, plain = losses.head_loss(params, values, tr, hp, CategoricalAdapter(4))
  _, clipped = losses.head_loss(params, values, tr, hp, CategoricalAdapter(4), trust_region=0.1)
  log_rhos = losses.log_importance_ratios(params, tr, CategoricalAdapter(4))
  vt = leaky_vtrace(values[:-1], values[-1], tr.reward, 0.9 *
                    (1 - tf.cast(tr.terminated, tf.float64)), log_rhos)
  mask = losses.trust_region_mask(log_rhos, vt.pg_advantages, 0.1).numpy()
  log_prob = (log_rhos + tr.behaviour_log_prob).numpy()
  assert 0 < mask.mean() < 1  # the test exercises both sides
  assert clipped['policy_loss'].numpy() == pytest.approx(-np.mean(mask * vt.pg_advantages.numpy()
                                                                  * log_prob))
  assert clipped['trust_region_masked'].numpy() == pytest.approx(1 - mask.mean())
  assert clipped['value_loss'].numpy() == pytest.approx(plain['value_loss'].numpy())
  assert 'trust_region_masked' not in plain


def test_ratio_stats_split_fresh_and_replayed_columns():
  ratio = np.array([[1.0, 2.0, 0.5], [1.0, 3.0, 1.5]])
  replayed = tf.constant([False, True, True])
  stats = losses.ratio_stats(tf.constant(np.log(ratio)), replayed, clip_rho=1.0)
  assert stats['is_ratio/fresh_mean'].numpy() == pytest.approx(1.0)
  assert stats['is_ratio/fresh_above_clip'].numpy() == 0.0
  assert stats['is_ratio/replayed_mean'].numpy() == pytest.approx(7.0 / 4)
  assert stats['is_ratio/replayed_above_clip'].numpy() == pytest.approx(3 / 4)
  assert stats['is_ratio/fresh_abs_log'].numpy() == pytest.approx(0.0)
  replayed_abs_log = (np.log(2.0) + np.log(2.0) + np.log(3.0) + np.log(1.5)) / 4
  assert stats['is_ratio/replayed_abs_log'].numpy() == pytest.approx(replayed_abs_log)
  none_replayed = losses.ratio_stats(tf.constant(np.log(ratio)), tf.zeros(3, tf.bool), 1.0)
  assert np.isnan(none_replayed['is_ratio/replayed_mean'].numpy())


def test_normalized_advantages_are_standardised():
  rng = np.random.default_rng(9)
  params, values, tr = _data(rng)
  hp = Hyperparameters(0.9, 1.0, 0.5, 1.0, 0.01, 1.0, 1.0)
  _, terms = losses.head_loss(params,
                              values,
                              tr,
                              hp,
                              CategoricalAdapter(4),
                              normalize_advantages=True)
  log_rhos = losses.log_importance_ratios(params, tr, CategoricalAdapter(4))
  vt = leaky_vtrace(values[:-1], values[-1], tr.reward, 0.9 *
                    (1 - tf.cast(tr.terminated, tf.float64)), log_rhos)
  advantages = vt.pg_advantages.numpy()
  standard = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
  log_prob = (log_rhos + tr.behaviour_log_prob).numpy()
  assert terms['policy_loss'].numpy() == pytest.approx(-np.mean(standard * log_prob))
