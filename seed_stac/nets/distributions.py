"""Action distributions over policy-head parameters (TensorFlow Probability).

A distribution adapter turns the raw policy parameters a head emits,
`params [..., param_size]`, into a distribution whose events are single
actions, with `sample(seed)`, `mode()`, `log_prob`, `entropy` and
`kl_divergence`. The same adapter is used by inference (sampling) and by the
losses (log-probabilities, entropy, KL), so both always agree.

Continuous actions have three policies (`CONTINUOUS_POLICIES`):
- 'gaussian': a diagonal Gaussian whose samples the environment clips;
- 'tanh_gaussian': a Gaussian squashed into the bounds by tanh, with the
  log-det-Jacobian in its log-probability and a bounded entropy;
- 'discretized': a categorical over evenly spaced values per dimension
  (SEED RL's MuJoCo option); actions stay float32 values on that grid.
"""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from seed_stac.envs.base import ActionSpec

tfd = tfp.distributions


class CategoricalAdapter:
  """Discrete actions: a categorical over `num_actions` logits.

  params: [..., num_actions] float logits. Actions: [...] int32.
  """

  def __init__(self, num_actions: int):
    self.num_actions = num_actions
    self.param_size = num_actions
    self.action_shape = ()
    self.action_dtype = tf.int32

  def __call__(self, params: tf.Tensor) -> tfd.Distribution:
    return tfd.Categorical(logits=params, dtype=tf.int32)


class GaussianAdapter:
  """Continuous actions: a diagonal Gaussian.

  params: [..., 2 * action_size]: raw means, then pre-softplus scales.
  scale = softplus(raw) + min_scale, so it never collapses to zero. Actions are
  NOT squashed: the environment adapter clips them to the bounds, and the
  log-probability is that of the unclipped sample (docs/algorithm.md).

  mean_bounds=(low, high): mean = low + (high - low) * (tanh(raw) + 1) / 2, so
  the mean stays inside the action bounds. Unbounded, a mean that drifts past
  a bound gets no learning signal back: every sample clips to the same action,
  the return no longer depends on the sample, and the policy gradient is noise.
  None: mean = raw.
  """

  def __init__(self, action_size: int, min_scale: float = 1e-3, mean_bounds=None):
    self.action_size = action_size
    self.param_size = 2 * action_size
    self.action_shape = (action_size,)
    self.action_dtype = tf.float32
    self.min_scale = min_scale
    self.mean_bounds = None
    if mean_bounds is not None:
      low, high = (np.broadcast_to(np.asarray(b, np.float32), (action_size,)) for b in mean_bounds)
      if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(low < high)):
        raise ValueError(f'a bounded Gaussian mean needs finite bounds low < high, '
                         f'got {low} and {high}')
      self.mean_bounds = (low, high)

  def __call__(self, params: tf.Tensor) -> tfd.Distribution:
    mean, raw_scale = tf.split(params, 2, axis=-1)
    if self.mean_bounds is not None:
      low, high = (tf.constant(b, mean.dtype) for b in self.mean_bounds)
      mean = low + (high - low) * (tf.tanh(mean) + 1.0) / 2.0
    scale = tf.nn.softplus(raw_scale) + self.min_scale
    return tfd.Independent(tfd.Normal(mean, scale), reinterpreted_batch_ndims=1)


def _finite_bounds(action_spec: ActionSpec, size: int):
  low, high = (np.broadcast_to(np.asarray(b, np.float32), (size,))
               for b in (action_spec.minimum, action_spec.maximum))
  if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(low < high)):
    raise ValueError(f'this policy needs finite action bounds low < high, got {low} and {high}')
  return low, high


# Gauss-Hermite nodes and weights for E[f(z)], z ~ N(0, 1): exact for
# polynomials of degree < 2 * 8; the tanh Jacobian term is smooth.
_HERMITE_NODES, _HERMITE_WEIGHTS = np.polynomial.hermite_e.hermegauss(8)
_HERMITE_WEIGHTS = _HERMITE_WEIGHTS / np.sqrt(2.0 * np.pi)


def _log_tanh_jacobian(u: tf.Tensor) -> tf.Tensor:
  """log(1 - tanh(u)^2), stable for large |u|: 2 (log 2 - u - softplus(-2u))."""
  return 2.0 * (np.log(2.0) - u - tf.nn.softplus(-2.0 * u))


class SquashedGaussian:
  """y = low + (high - low) (tanh(u) + 1) / 2 with u ~ N(mean, scale), per
  dimension; events [..., A].

  log p(y) = log N(u) - sum_i log |dy_i/du_i|, u = atanh of y rescaled to
  (-1, 1), clipped 1e-6 inside the bounds so a sample that rounds onto a bound
  keeps a finite log-probability (inference computes mu's log-probability of
  that same rounded value, so behaviour and target agree).
  Entropy H(y) = H(u) + E[sum_i log |dy_i/du_i|], the expectation by 8-point
  Gauss-Hermite quadrature: deterministic, differentiable and bounded above
  (as the scale grows, the Jacobian term falls as fast as H(u) rises).
  KL is invariant under the bijection: KL(y1 || y2) = KL(u1 || u2).
  """

  def __init__(self, mean: tf.Tensor, scale: tf.Tensor, low: np.ndarray, high: np.ndarray):
    self.base = tfd.Independent(tfd.Normal(mean, scale), reinterpreted_batch_ndims=1)
    self._mean, self._scale = mean, scale
    self._low = tf.constant(low, mean.dtype)
    self._half_range = tf.constant((high - low) / 2.0, mean.dtype)

  def _squash(self, u):
    return self._low + self._half_range * (tf.tanh(u) + 1.0)

  def _log_jacobian(self, u):
    return tf.reduce_sum(_log_tanh_jacobian(u) + tf.math.log(self._half_range), axis=-1)

  def sample(self, seed=None):
    return self._squash(self.base.sample(seed=seed))

  def mode(self):
    return self._squash(self._mean)

  def log_prob(self, action):
    unit = (tf.cast(action, self._mean.dtype) - self._low) / self._half_range - 1.0
    u = tf.atanh(tf.clip_by_value(unit, -1.0 + 1e-6, 1.0 - 1e-6))
    return self.base.log_prob(u) - self._log_jacobian(u)

  def entropy(self):
    nodes = tf.constant(_HERMITE_NODES, self._mean.dtype)
    weights = tf.constant(_HERMITE_WEIGHTS, self._mean.dtype)
    u = self._mean[..., None] + self._scale[..., None] * nodes  # [..., A, K]
    expected = tf.reduce_sum(weights * _log_tanh_jacobian(u), axis=-1)
    return self.base.entropy() + tf.reduce_sum(expected + tf.math.log(self._half_range), -1)

  def kl_divergence(self, other: 'SquashedGaussian'):
    return self.base.kl_divergence(other.base)


class SquashedGaussianAdapter:
  """Continuous actions: `SquashedGaussian` into the action bounds.

  params: [..., 2 * action_size]: pre-tanh means, then pre-softplus scales
  (scale = softplus(raw) + min_scale).
  """

  def __init__(self, action_spec: ActionSpec, min_scale: float = 1e-3):
    self.action_size = action_spec.size
    self.param_size = 2 * self.action_size
    self.action_shape = (self.action_size,)
    self.action_dtype = tf.float32
    self.min_scale = min_scale
    self.low, self.high = _finite_bounds(action_spec, self.action_size)

  def __call__(self, params: tf.Tensor) -> SquashedGaussian:
    mean, raw_scale = tf.split(params, 2, axis=-1)
    return SquashedGaussian(mean, tf.nn.softplus(raw_scale) + self.min_scale, self.low, self.high)


class Discretized:
  """Independent categoricals over `bins` evenly spaced values per dimension;
  events are the values [..., A] (float). log_prob reads the nearest bin."""

  def __init__(self, logits: tf.Tensor, low: np.ndarray, high: np.ndarray):
    self.categorical = tfd.Independent(tfd.Categorical(logits=logits, dtype=tf.int32),
                                       reinterpreted_batch_ndims=1)
    self._bins = logits.shape[-1]
    self._low = tf.constant(low, tf.float32)
    self._step = tf.constant((high - low) / (self._bins - 1), tf.float32)

  def _value(self, index):
    return self._low + self._step * tf.cast(index, tf.float32)

  def sample(self, seed=None):
    return self._value(self.categorical.sample(seed=seed))

  def mode(self):
    return self._value(self.categorical.mode())

  def log_prob(self, action):
    index = tf.round((tf.cast(action, tf.float32) - self._low) / self._step)
    index = tf.cast(tf.clip_by_value(index, 0.0, self._bins - 1.0), tf.int32)
    return self.categorical.log_prob(index)

  def entropy(self):
    return self.categorical.entropy()

  def kl_divergence(self, other: 'Discretized'):
    return self.categorical.kl_divergence(other.categorical)


class DiscretizedAdapter:
  """Continuous actions as `Discretized`: params [..., action_size * bins]
  logits, dimension-major."""

  def __init__(self, action_spec: ActionSpec, bins: int = 11):
    if bins < 2:
      raise ValueError(f'a discretized policy needs at least 2 bins per dimension, got {bins}')
    self.action_size = action_spec.size
    self.bins = bins
    self.param_size = self.action_size * bins
    self.action_shape = (self.action_size,)
    self.action_dtype = tf.float32
    self.low, self.high = _finite_bounds(action_spec, self.action_size)

  def __call__(self, params: tf.Tensor) -> Discretized:
    shape = tf.concat([tf.shape(params)[:-1], [self.action_size, self.bins]], axis=0)
    return Discretized(tf.reshape(params, shape), self.low, self.high)


CONTINUOUS_POLICIES = ('gaussian', 'tanh_gaussian', 'discretized')


def make_distribution_adapter(action_spec: ActionSpec,
                              min_scale: float = 1e-3,
                              bounded_mean: bool = False,
                              continuous_policy: str = 'gaussian',
                              bins: int = 11):
  """Returns the adapter matching an environment's action space; for
  continuous actions, `continuous_policy` picks one of CONTINUOUS_POLICIES
  (`bounded_mean` keeps a plain Gaussian's mean inside the bounds; `bins` is
  the discretized policy's values per dimension)."""
  if action_spec.kind == 'discrete':
    return CategoricalAdapter(action_spec.num_actions)
  if continuous_policy == 'tanh_gaussian':
    return SquashedGaussianAdapter(action_spec, min_scale)
  if continuous_policy == 'discretized':
    return DiscretizedAdapter(action_spec, bins)
  if continuous_policy != 'gaussian':
    raise ValueError(f'continuous_policy must be one of {CONTINUOUS_POLICIES}, '
                     f'got {continuous_policy!r}')
  bounds = (action_spec.minimum, action_spec.maximum) if bounded_mean else None
  return GaussianAdapter(action_spec.size, min_scale=min_scale, mean_bounds=bounds)
