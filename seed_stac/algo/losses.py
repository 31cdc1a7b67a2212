"""The IMPALA loss of one head and the STAC outer loss.

For a head with hyperparameters eta = (gamma, lambda, g_v, g_p, g_e, alphas):

    L(theta; eta) = g_v * L_V + g_p * L_pi + g_e * L_H
    L_V  = R_{t,b} (v_t - V(x_t))^2
    L_pi = -R_{t,b} pg_advantage_t * log pi(a_t|x_t)
    L_H  = -R_{t,b} H(pi(.|x_t))

with v_t and pg_advantage_t from leaky V-trace and R the reduction over time
and batch: 'sum' (IMPALA's convention, which its RMSProp epsilon, initial
mean-square and gradient clip were tuned for) or 'mean' (scale-free optimizers
such as Adam). The outer loss adds g_kl * R KL(pi_theta' || pi_theta) with
pi_theta a constant, reduced the same way.

With a trust region e > 0 (for reused samples), L_pi keeps only the samples
where PPO's clipped surrogate min(r A, clip(r, 1 - e, 1 + e) A), r = pi/mu,
still has a gradient: a sample whose ratio has left [1 - e, 1 + e] in the
direction its advantage pushes it is masked out (`trust_region_mask`).

A time-limit truncation is not a termination: the discount stays gamma. The
final observation of a truncated episode is not kept (the actor resets), so
its value is approximated by that of the last kept observation:
r_t + gamma * V(x_t), and the trace is cut there.
"""

import dataclasses
from typing import Dict, Optional, Tuple

import tensorflow as tf

from seed_stac.algo import vtrace
from seed_stac.algo.metaparams import Hyperparameters
from seed_stac.algo.vtrace import to_dtype
from seed_stac.types import Transitions

REDUCTIONS = ('mean', 'sum')


def reduce_over_time_and_batch(x: tf.Tensor, reduction: str) -> tf.Tensor:
  """[T, B] -> scalar: the mean or the sum of all elements."""
  if reduction == 'sum':
    return tf.reduce_sum(x)
  if reduction == 'mean':
    return tf.reduce_mean(x)
  raise ValueError(f'reduction must be one of {REDUCTIONS}, got {reduction!r}')


@dataclasses.dataclass(frozen=True)
class VTraceClips:
  """rho_bar, c_bar and rho_bar_pg; None disables a clip."""
  rho: Optional[float] = 1.0
  c: Optional[float] = 1.0
  pg_rho: Optional[float] = 1.0


def log_importance_ratios(policy_params: tf.Tensor, transitions: Transitions,
                          distribution) -> tf.Tensor:
  """log pi(a_t|x_t) - log mu(a_t|x_t), [T, B]; policy_params [T + 1, B, P]."""
  dist = distribution(policy_params[:-1])
  action = transitions.action
  if action.dtype.is_floating:
    action = tf.cast(action, policy_params.dtype)
  return dist.log_prob(action) - tf.cast(transitions.behaviour_log_prob, policy_params.dtype)


def trust_region_mask(log_rhos: tf.Tensor, advantages: tf.Tensor, epsilon: float) -> tf.Tensor:
  """[T, B] of 0 and 1: 0 where the gradient of PPO's clipped surrogate
  min(r A, clip(r, 1 - e, 1 + e) A) vanishes, i.e. r > 1 + e with A > 0 or
  r < 1 - e with A < 0 (r = exp(log_rhos)); 1 elsewhere and everywhere for
  e = 0. A constant (no gradient)."""
  log_rhos, advantages = tf.stop_gradient(log_rhos), tf.stop_gradient(advantages)
  if not epsilon:
    return tf.ones_like(advantages)
  ratio = tf.exp(log_rhos)
  outside = (((ratio > 1.0 + epsilon) & (advantages > 0))
             | ((ratio < 1.0 - epsilon) & (advantages < 0)))
  return 1.0 - tf.cast(outside, advantages.dtype)


def ratio_stats(log_rhos: tf.Tensor,
                replayed: tf.Tensor,
                clip_rho: Optional[float],
                prefix: str = 'is_ratio') -> Dict[str, tf.Tensor]:
  """How off-policy the batch is, for fresh and replayed unrolls apart: the
  mean importance ratio, the fraction above clip_rho (None: above 1), and the
  mean |log ratio|. The first two cannot show how far the policies are apart
  (E_mu[pi / mu] = 1 for any pi, and about half of the ratios exceed 1 as
  soon as pi != mu); mean |log ratio| is 0 on-policy and grows with the gap.
  log_rhos [T, B]; replayed [B] bool. NaN where the batch has no such unroll."""
  log_rhos = tf.stop_gradient(log_rhos)
  ratio = tf.exp(log_rhos)
  above = tf.cast(ratio > (1.0 if clip_rho is None else clip_rho), ratio.dtype)
  stats = {}
  for name, columns in (('fresh', ~replayed), ('replayed', replayed)):
    weights = tf.broadcast_to(tf.cast(columns, ratio.dtype)[None], tf.shape(ratio))
    count = tf.reduce_sum(weights)  # 0 / 0 = NaN without such columns
    for stat, values in (('mean', ratio), ('above_clip', above), ('abs_log', tf.abs(log_rhos))):
      stats[f'{prefix}/{name}_{stat}'] = tf.reduce_sum(weights * values) / count
  return stats


def standardise(x: tf.Tensor, epsilon: float = 1e-8) -> tf.Tensor:
  """(x - mean) / (std + epsilon) over all elements (PPO's advantage
  normalization). Advantages carry no theta-gradient (V-trace's targets are
  constants), so nothing is stopped here: the meta-gradient flows through the
  statistics too and stays exact."""
  mean, variance = tf.nn.moments(x, axes=list(range(len(x.shape))))
  return (x - mean) / (tf.sqrt(variance) + epsilon)


def head_loss(policy_params: tf.Tensor,
              values: tf.Tensor,
              transitions: Transitions,
              hp: Hyperparameters,
              distribution,
              clips: VTraceClips = VTraceClips(),
              target_outputs: Optional[Tuple[tf.Tensor, tf.Tensor]] = None,
              reduction: str = 'mean',
              trust_region: float = 0.0,
              normalize_advantages: bool = False,
              value_scale: Optional[tf.Tensor] = None) -> Tuple[tf.Tensor, Dict[str, tf.Tensor]]:
  """One head's weighted loss and its terms.

  Args:
    policy_params: [T + 1, B, P] policy parameters at x_0..x_T.
    values: [T + 1, B] V(x_0..x_T); the last is the bootstrap value.
    transitions: the T transitions.
    hp: this head's hyperparameters (floats or scalar tensors).
    distribution: maps policy params to a tfd.Distribution over actions.
    target_outputs: optional (policy_params, values) at which the V-trace
      targets are evaluated (default: the live ones, under stop-gradient).
      Gradients treat targets as constants; this makes that explicit, so
      finite differences can hold them fixed too.
    reduction: 'mean' or 'sum' over time and batch.
    trust_region: e of `trust_region_mask` (0: off).
    normalize_advantages: the policy-gradient advantages are standardised
      over time and batch (`standardise`), so the policy term's scale, and
      its balance with the entropy term, does not depend on the return's.
    value_scale: PopArt's sigma of this head (a scalar): the value error is
      divided by it squared and the advantages by it, i.e. the losses of the
      normalized value (`nets/normalization.PopArt`). None: unscaled.

  Returns:
    (scalar loss, dict of scalar terms for logging).
  """
  dtype = values.dtype
  dist = distribution(policy_params[:-1])
  action = transitions.action
  if action.dtype.is_floating:
    action = tf.cast(action, dtype)
  log_prob = dist.log_prob(action)
  entropy = dist.entropy()
  if target_outputs is None:
    target_log_prob, target_values = log_prob, values
  else:
    target_params, target_values = target_outputs
    target_log_prob = distribution(target_params[:-1]).log_prob(action)
  not_terminated = 1.0 - tf.cast(transitions.terminated, dtype)
  truncated = tf.cast(transitions.truncated, dtype)
  gamma = to_dtype(hp.gamma, dtype)
  discounts = gamma * not_terminated * (1.0 - truncated)
  rewards = (tf.cast(transitions.reward, dtype)
             + gamma * truncated * tf.stop_gradient(target_values[:-1]))
  log_rhos = target_log_prob - tf.cast(transitions.behaviour_log_prob, dtype)
  targets = vtrace.leaky_vtrace(target_values[:-1],
                                target_values[-1],
                                rewards,
                                discounts,
                                log_rhos,
                                alpha_rho=hp.alpha_rho,
                                alpha_c=hp.alpha_c,
                                lambda_=hp.lambda_,
                                clip_rho_threshold=clips.rho,
                                clip_c_threshold=clips.c,
                                clip_pg_rho_threshold=clips.pg_rho)
  reduce = lambda x: reduce_over_time_and_batch(x, reduction)
  advantages = targets.pg_advantages
  value_error = targets.vs - values[:-1]
  if value_scale is not None:
    sigma = tf.stop_gradient(tf.cast(value_scale, dtype))
    advantages, value_error = advantages / sigma, value_error / sigma
  if normalize_advantages:
    advantages = standardise(advantages)
  mask = trust_region_mask(log_rhos, advantages, trust_region)
  value_loss = reduce(tf.square(value_error))
  policy_loss = -reduce(mask * advantages * log_prob)
  entropy_loss = -reduce(entropy)
  loss = (to_dtype(hp.g_v, dtype) * value_loss + to_dtype(hp.g_p, dtype) * policy_loss
          + to_dtype(hp.g_e, dtype) * entropy_loss)
  terms = {
      'value_loss': value_loss,
      'policy_loss': policy_loss,
      'entropy': -entropy_loss,
      'mean_is_ratio': tf.reduce_mean(tf.exp(tf.stop_gradient(log_rhos))),
  }
  if value_scale is not None:  # what PopArt's statistics move toward
    terms['target_mean'] = tf.reduce_mean(tf.stop_gradient(targets.vs))
    terms['target_square_mean'] = tf.reduce_mean(tf.square(tf.stop_gradient(targets.vs)))
  if trust_region:
    terms['trust_region_masked'] = 1.0 - tf.reduce_mean(mask)
  return loss, terms


def kl_to_constant(new_params: tf.Tensor,
                   old_params: tf.Tensor,
                   distribution,
                   reduction: str = 'mean') -> tf.Tensor:
  """R_{t,b} KL(pi_new || pi_old) with pi_old a constant; params [T, B, P]."""
  old = distribution(tf.stop_gradient(old_params))
  return reduce_over_time_and_batch(distribution(new_params).kl_divergence(old), reduction)


def outer_loss(policy_params: tf.Tensor,
               values: tf.Tensor,
               old_policy_params: tf.Tensor,
               transitions: Transitions,
               outer: Hyperparameters,
               kl_coef: float,
               distribution,
               clips: VTraceClips = VTraceClips(),
               target_outputs=None,
               reduction: str = 'mean',
               trust_region: float = 0.0,
               normalize_advantages: bool = False,
               value_scale: Optional[tf.Tensor] = None) -> Tuple[tf.Tensor, Dict[str, tf.Tensor]]:
  """The main head's loss at theta' with FIXED outer hyperparameters + KL.

  policy_params, values: [T + 1, B, P], [T + 1, B] at theta'.
  old_policy_params: [T + 1, B, P] at theta (treated as a constant).
  target_outputs, reduction, trust_region, normalize_advantages, value_scale:
  as in `head_loss`.
  """
  loss, terms = head_loss(policy_params, values, transitions, outer, distribution, clips,
                          target_outputs, reduction, trust_region, normalize_advantages,
                          value_scale)
  kl = kl_to_constant(policy_params[:-1], old_policy_params[:-1], distribution, reduction)
  terms = dict(terms, kl=kl)
  return loss + to_dtype(kl_coef, loss.dtype) * kl, terms
