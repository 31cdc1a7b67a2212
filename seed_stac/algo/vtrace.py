"""Leaky V-trace (Zahavy et al. 2020, section 3; Espeholt et al. 2018).

All tensors are time-major `[T, B, ...]` (any trailing dims). With IS ratios
`IS_t = exp(log_rhos_t)`:

    rho~_t = alpha_rho * min(rho_bar, IS_t) + (1 - alpha_rho) * IS_t
    c~_t   = lambda * (alpha_c * min(c_bar, IS_t) + (1 - alpha_c) * IS_t)
    delta_t = rho~_t * (r_t + d_t * V(x_{t+1}) - V(x_t))
    v_t - V(x_t) = delta_t + d_t * c~_t * (v_{t+1} - V(x_{t+1})),  v_T = V(x_T)
    pg_advantage_t = rho~pg_t * (r_t + d_t * v_{t+1} - V(x_t))

where `rho~pg` mixes with its own clip `rho_bar_pg`. alpha = 1 is V-trace;
alpha = 0 with lambda = 1 is per-decision importance sampling.

Gradient semantics (they matter for meta-gradients): values, the bootstrap
value and the log-ratios are constants (stop-gradient), so no gradient with
respect to the network parameters flows through the targets. Gradients with
respect to `discounts` (gamma), `rewards`, `lambda_` and the alphas DO flow;
most public V-traces stop the gradient of their outputs, which would silently
zero the meta-gradient of gamma, lambda and alpha.
"""

from typing import NamedTuple, Optional, Union

import tensorflow as tf

Scalar = Union[float, tf.Tensor]


class VTraceReturns(NamedTuple):
  """vs: [T, B, ...] value targets; pg_advantages: [T, B, ...]."""
  vs: tf.Tensor
  pg_advantages: tf.Tensor


def to_dtype(x, dtype) -> tf.Tensor:
  """Casts tensors; converts Python/NumPy numbers directly at `dtype` (no
  detour through float32, which would cost precision in float64)."""
  if isinstance(x, (tf.Tensor, tf.Variable)):
    return tf.cast(x, dtype)
  return tf.convert_to_tensor(x, dtype)


def _mix(is_ratios: tf.Tensor, alpha: Scalar, clip_threshold: Optional[float]) -> tf.Tensor:
  """alpha * min(clip, IS) + (1 - alpha) * IS; no clip when threshold is None."""
  if clip_threshold is None:
    return is_ratios
  clipped = tf.minimum(to_dtype(clip_threshold, is_ratios.dtype), is_ratios)
  return alpha * clipped + (1.0 - alpha) * is_ratios


def leaky_vtrace(values: tf.Tensor,
                 bootstrap_value: tf.Tensor,
                 rewards: tf.Tensor,
                 discounts: tf.Tensor,
                 log_rhos: tf.Tensor,
                 *,
                 alpha_rho: Scalar = 1.0,
                 alpha_c: Scalar = 1.0,
                 lambda_: Scalar = 1.0,
                 clip_rho_threshold: Optional[float] = 1.0,
                 clip_c_threshold: Optional[float] = 1.0,
                 clip_pg_rho_threshold: Optional[float] = 1.0) -> VTraceReturns:
  """Leaky V-trace targets and policy-gradient advantages.

  Args:
    values: [T, B, ...] V(x_t) for t = 0..T-1.
    bootstrap_value: [B, ...] V(x_T).
    rewards: [T, B, ...] r_t.
    discounts: [T, B, ...] d_t = gamma * (1 - terminated_t).
    log_rhos: [T, B, ...] log pi(a_t|x_t) - log mu(a_t|x_t).
    alpha_rho, alpha_c, lambda_: floats or scalar tensors (may be tuned).
    clip_*_threshold: rho_bar, c_bar, rho_bar_pg; None means no clipping.

  Returns:
    VTraceReturns of [T, B, ...] tensors, dtype of `values`.
  """
  values = tf.stop_gradient(tf.convert_to_tensor(values))
  dtype = values.dtype
  bootstrap_value = tf.stop_gradient(to_dtype(bootstrap_value, dtype))
  log_rhos = tf.stop_gradient(to_dtype(log_rhos, dtype))
  rewards, discounts, alpha_rho, alpha_c, lambda_ = (
      to_dtype(x, dtype) for x in (rewards, discounts, alpha_rho, alpha_c, lambda_))

  is_ratios = tf.exp(log_rhos)
  rhos = _mix(is_ratios, alpha_rho, clip_rho_threshold)
  cs = lambda_ * _mix(is_ratios, alpha_c, clip_c_threshold)
  values_tp1 = tf.concat([values[1:], bootstrap_value[None]], axis=0)
  deltas = rhos * (rewards + discounts * values_tp1 - values)

  def backward_step(acc, step):
    delta, discount, c = step
    return delta + discount * c * acc

  corrections = tf.scan(backward_step, (deltas, discounts, cs),
                        initializer=tf.zeros_like(bootstrap_value),
                        reverse=True)
  vs = values + corrections

  vs_tp1 = tf.concat([vs[1:], bootstrap_value[None]], axis=0)
  pg_rhos = _mix(is_ratios, alpha_rho, clip_pg_rho_threshold)
  pg_advantages = pg_rhos * (rewards + discounts * vs_tp1 - values)
  return VTraceReturns(vs=vs, pg_advantages=pg_advantages)
