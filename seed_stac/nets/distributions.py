"""Action distributions over policy-head parameters (TensorFlow Probability).

A distribution adapter turns the raw policy parameters a head emits,
`params [..., param_size]`, into a `tfd.Distribution` whose events are single
actions. The same adapter is used by inference (sampling) and by the losses
(log-probabilities, entropy, KL), so both always agree.
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


def make_distribution_adapter(action_spec: ActionSpec,
                              min_scale: float = 1e-3,
                              bounded_mean: bool = False):
  """Returns the adapter matching an environment's action space;
  `bounded_mean` keeps a Gaussian's mean inside the action bounds."""
  if action_spec.kind == 'discrete':
    return CategoricalAdapter(action_spec.num_actions)
  bounds = (action_spec.minimum, action_spec.maximum) if bounded_mean else None
  return GaussianAdapter(action_spec.size, min_scale=min_scale, mean_bounds=bounds)
