"""Leaky V-trace against brute-force references
(docs/algorithm.md#properties-the-tests-check, items 1-4)."""

import numpy as np
import pytest
import tensorflow as tf

from seed_stac.algo.vtrace import leaky_vtrace


def _mix(is_ratio, alpha, clip):
  return is_ratio if clip is None else alpha * min(clip, is_ratio) + (1 - alpha) * is_ratio


def brute_force(values, bootstrap, rewards, discounts, log_rhos, alpha_rho, alpha_c, lam, rho_bar,
                c_bar, pg_bar):
  """Double loop over (b, t) and the explicit sum over future steps."""
  T, B = values.shape
  is_ratio = np.exp(log_rhos)
  vs = np.zeros_like(values)
  pg = np.zeros_like(values)
  v_next = np.concatenate([values[1:], bootstrap[None]], 0)
  for b in range(B):
    for t in range(T):
      total = values[t, b]
      weight = 1.0
      for s in range(t, T):
        rho = _mix(is_ratio[s, b], alpha_rho, rho_bar)
        delta = rho * (rewards[s, b] + discounts[s, b] * v_next[s, b] - values[s, b])
        total += weight * delta
        c = lam * _mix(is_ratio[s, b], alpha_c, c_bar)
        weight *= discounts[s, b] * c
      vs[t, b] = total
  vs_next = np.concatenate([vs[1:], bootstrap[None]], 0)
  for b in range(B):
    for t in range(T):
      rho_pg = _mix(is_ratio[t, b], alpha_rho, pg_bar)
      pg[t, b] = rho_pg * (rewards[t, b] + discounts[t, b] * vs_next[t, b] - values[t, b])
  return vs, pg


def random_inputs(rng, T=6, B=3):
  return dict(values=rng.normal(size=[T, B]),
              bootstrap_value=rng.normal(size=[B]),
              rewards=rng.normal(size=[T, B]),
              discounts=rng.uniform(0.8, 1.0, size=[T, B]) * (rng.random([T, B]) > 0.15),
              log_rhos=rng.normal(scale=0.7, size=[T, B]))


@pytest.mark.parametrize('seed', range(8))
def test_matches_brute_force(seed):
  rng = np.random.default_rng(seed)
  x = random_inputs(rng)
  alpha_rho, alpha_c, lam = rng.uniform(size=3)
  clips = [None if rng.random() < 0.2 else float(rng.uniform(0.5, 2.0)) for _ in range(3)]
  out = leaky_vtrace(x['values'],
                     x['bootstrap_value'],
                     x['rewards'],
                     x['discounts'],
                     x['log_rhos'],
                     alpha_rho=alpha_rho,
                     alpha_c=alpha_c,
                     lambda_=lam,
                     clip_rho_threshold=clips[0],
                     clip_c_threshold=clips[1],
                     clip_pg_rho_threshold=clips[2])
  vs, pg = brute_force(x['values'], x['bootstrap_value'], x['rewards'], x['discounts'],
                       x['log_rhos'], alpha_rho, alpha_c, lam, *clips)
  np.testing.assert_allclose(out.vs.numpy(), vs, rtol=1e-10, atol=1e-10)
  np.testing.assert_allclose(out.pg_advantages.numpy(), pg, rtol=1e-10, atol=1e-10)


def vtrace_reference(values, bootstrap, rewards, discounts, log_rhos, rho_bar=1.0, c_bar=1.0):
  """Espeholt et al. (2018) V-trace, written from their recursion."""
  rhos = np.minimum(rho_bar, np.exp(log_rhos))
  cs = np.minimum(c_bar, np.exp(log_rhos))
  v_next = np.concatenate([values[1:], bootstrap[None]], 0)
  deltas = rhos * (rewards + discounts * v_next - values)
  acc = np.zeros_like(bootstrap)
  vs = np.zeros_like(values)
  for t in reversed(range(len(values))):
    acc = deltas[t] + discounts[t] * cs[t] * acc
    vs[t] = values[t] + acc
  return vs


def test_alpha_one_is_vtrace():
  x = random_inputs(np.random.default_rng(1))
  out = leaky_vtrace(x['values'],
                     x['bootstrap_value'],
                     x['rewards'],
                     x['discounts'],
                     x['log_rhos'],
                     alpha_rho=1.0,
                     alpha_c=1.0,
                     lambda_=1.0)
  expected = vtrace_reference(x['values'], x['bootstrap_value'], x['rewards'], x['discounts'],
                              x['log_rhos'])
  np.testing.assert_allclose(out.vs.numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize('alpha', [0.0, 0.3, 1.0])
def test_on_policy_is_lambda_return(alpha):
  x = random_inputs(np.random.default_rng(2))
  lam = 0.7
  out = leaky_vtrace(x['values'],
                     x['bootstrap_value'],
                     x['rewards'],
                     x['discounts'],
                     np.zeros_like(x['values']),
                     alpha_rho=alpha,
                     alpha_c=alpha,
                     lambda_=lam)
  v_next = np.concatenate([x['values'][1:], x['bootstrap_value'][None]], 0)
  ret = x['bootstrap_value'].copy()
  expected = np.zeros_like(x['values'])
  for t in reversed(range(len(x['values']))):
    ret = x['rewards'][t] + x['discounts'][t] * ((1 - lam) * v_next[t] + lam * ret)
    expected[t] = ret
  np.testing.assert_allclose(out.vs.numpy(), expected, rtol=1e-10)


def test_alpha_zero_lambda_one_is_per_decision_is():
  rng = np.random.default_rng(3)
  x = random_inputs(rng)
  out = leaky_vtrace(x['values'],
                     x['bootstrap_value'],
                     x['rewards'],
                     x['discounts'],
                     x['log_rhos'],
                     alpha_rho=0.0,
                     alpha_c=0.0,
                     lambda_=1.0)
  vs, _ = brute_force(x['values'], x['bootstrap_value'], x['rewards'], x['discounts'],
                      x['log_rhos'], 0.0, 0.0, 1.0, None, None, None)
  np.testing.assert_allclose(out.vs.numpy(), vs, rtol=1e-10)


def test_zero_discount_splits_the_trace():
  x = random_inputs(np.random.default_rng(4), T=8)
  x['discounts'][3] = 0.0
  kw = dict(alpha_rho=0.6, alpha_c=0.4, lambda_=0.9)
  whole = leaky_vtrace(x['values'], x['bootstrap_value'], x['rewards'], x['discounts'],
                       x['log_rhos'], **kw).vs.numpy()
  # The first piece's bootstrap value is irrelevant: its last discount is 0.
  first = leaky_vtrace(x['values'][:4], np.full(3, 123.0), x['rewards'][:4], x['discounts'][:4],
                       x['log_rhos'][:4], **kw).vs.numpy()
  second = leaky_vtrace(x['values'][4:], x['bootstrap_value'], x['rewards'][4:], x['discounts'][4:],
                        x['log_rhos'][4:], **kw).vs.numpy()
  np.testing.assert_allclose(whole, np.concatenate([first, second]), rtol=1e-10)


def test_lambda_zero_makes_steps_independent():
  x = random_inputs(np.random.default_rng(5))
  whole = leaky_vtrace(x['values'],
                       x['bootstrap_value'],
                       x['rewards'],
                       x['discounts'],
                       x['log_rhos'],
                       lambda_=0.0).vs.numpy()
  v_next = np.concatenate([x['values'][1:], x['bootstrap_value'][None]], 0)
  for t in range(len(whole)):
    one = leaky_vtrace(x['values'][t:t + 1],
                       v_next[t],
                       x['rewards'][t:t + 1],
                       x['discounts'][t:t + 1],
                       x['log_rhos'][t:t + 1],
                       lambda_=0.0).vs.numpy()
    np.testing.assert_allclose(whole[t], one[0], rtol=1e-10)


def test_trailing_dims_and_tensor_arguments():
  rng = np.random.default_rng(6)
  shape = [5, 2, 3]
  args = [
      rng.normal(size=shape),
      rng.normal(size=shape[1:]),
      rng.normal(size=shape),
      np.full(shape, 0.9),
      rng.normal(size=shape)
  ]
  out = leaky_vtrace(*args,
                     alpha_rho=tf.constant(0.5, tf.float64),
                     lambda_=tf.constant(0.8, tf.float64))
  assert out.vs.shape == shape and out.pg_advantages.shape == shape
  for k in range(3):
    flat = leaky_vtrace(*[a[..., k] for a in args], alpha_rho=0.5, lambda_=0.8)
    np.testing.assert_allclose(out.vs.numpy()[..., k], flat.vs.numpy(), rtol=1e-12)


def test_no_theta_gradient_through_targets():
  x = {k: tf.constant(v) for k, v in random_inputs(np.random.default_rng(7)).items()}
  with tf.GradientTape(persistent=True) as tape:
    tape.watch([x['values'], x['bootstrap_value'], x['log_rhos']])
    out = leaky_vtrace(x['values'], x['bootstrap_value'], x['rewards'], x['discounts'],
                       x['log_rhos'])
    total = tf.reduce_sum(out.vs) + tf.reduce_sum(out.pg_advantages)
  for name in ('values', 'bootstrap_value', 'log_rhos'):
    grad = tape.gradient(total, x[name])
    assert grad is None or not np.any(grad.numpy()), name


@pytest.mark.parametrize('name', ['gamma', 'lambda_', 'alpha'])
def test_eta_gradient_matches_finite_difference(name):
  x = random_inputs(np.random.default_rng(8))
  base = {'gamma': 0.9, 'lambda_': 0.8, 'alpha': 0.6}
  not_done = (x['discounts'] > 0).astype(np.float64)

  def objective(params):
    out = leaky_vtrace(x['values'],
                       x['bootstrap_value'],
                       x['rewards'],
                       params['gamma'] * not_done,
                       x['log_rhos'],
                       alpha_rho=params['alpha'],
                       alpha_c=params['alpha'],
                       lambda_=params['lambda_'])
    weights = tf.constant(np.linspace(-1, 1, x['values'].size).reshape(x['values'].shape))
    return tf.reduce_sum(out.vs * weights) + tf.reduce_sum(out.pg_advantages * weights**2)

  variable = tf.Variable(base[name], dtype=tf.float64)
  with tf.GradientTape() as tape:
    value = objective(dict(base, **{name: variable}))
  analytic = tape.gradient(value, variable).numpy()
  eps = 1e-6
  plus = objective(dict(base, **{name: base[name] + eps})).numpy()
  minus = objective(dict(base, **{name: base[name] - eps})).numpy()
  numeric = (plus - minus) / (2 * eps)
  assert abs(analytic) > 1e-3
  np.testing.assert_allclose(analytic, numeric, rtol=1e-6)
