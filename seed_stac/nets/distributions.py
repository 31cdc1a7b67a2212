"""Action distributions over policy-head parameters (TensorFlow Probability).

A distribution adapter turns the raw policy parameters a head emits,
`params [..., param_size]`, into a `tfd.Distribution` whose events are single
actions. The same adapter is used by inference (sampling) and by the losses
(log-probabilities, entropy, KL), so both always agree.
"""

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
  """Continuous actions: a diagonal Gaussian with state-dependent scale.

  params: [..., 2 * action_size]: means, then pre-softplus scales.
  scale = softplus(raw) + min_scale, so it never collapses to zero. Actions are
  NOT squashed: the environment adapter clips them to the bounds, and the
  log-probability is that of the unclipped sample (ALGORITHM.md section 6).
  """

  def __init__(self, action_size: int, min_scale: float = 1e-3):
    self.action_size = action_size
    self.param_size = 2 * action_size
    self.action_shape = (action_size,)
    self.action_dtype = tf.float32
    self.min_scale = min_scale

  def __call__(self, params: tf.Tensor) -> tfd.Distribution:
    mean, raw_scale = tf.split(params, 2, axis=-1)
    scale = tf.nn.softplus(raw_scale) + self.min_scale
    return tfd.Independent(tfd.Normal(mean, scale), reinterpreted_batch_ndims=1)


def make_distribution_adapter(action_spec: ActionSpec, min_scale: float = 1e-3):
  """Returns the adapter matching an environment's action space."""
  if action_spec.kind == 'discrete':
    return CategoricalAdapter(action_spec.num_actions)
  return GaussianAdapter(action_spec.size, min_scale=min_scale)
