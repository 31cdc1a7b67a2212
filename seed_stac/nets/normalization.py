"""Running observation normalization for feature observations.

    y = clip((x - mean) / sqrt(var + epsilon), -clip, clip)

mean and var are the statistics of every observation the learner has trained
on, merged batch by batch (Chan et al.'s parallel variance update):

    n' = n + m,  mean' = mean + d m / n',
    var' = (n var + m var_b + d^2 n m / n') / n',   d = mean_b - mean

for a batch of m observations with mean mean_b and variance var_b. The
statistics are non-trainable network variables, so inference, the look-ahead
(`stateless_call`) and checkpoints all see the same values; they change only
between learner steps, when `update` is called.
"""

import keras
import tensorflow as tf


class ObservationNormalizer(keras.layers.Layer):
  """Normalizes `[T, B, *obs]` float observations with running statistics."""

  def __init__(self, clip: float = 10.0, epsilon: float = 1e-8, **kwargs):
    super().__init__(**kwargs)
    if not clip > 0:
      raise ValueError(f'clip must be > 0, got {clip}')
    self.clip = clip
    self.epsilon = epsilon

  def build(self, input_shape):
    shape = tuple(input_shape[2:])
    self.mean = self.add_weight(shape=shape, initializer='zeros', trainable=False, name='mean')
    self.var = self.add_weight(shape=shape, initializer='ones', trainable=False, name='var')
    self.count = self.add_weight(shape=(), initializer='zeros', trainable=False, name='count')

  def call(self, observation):
    x = tf.cast(observation, self.compute_dtype)
    mean = tf.cast(self.mean, x.dtype)
    std = tf.sqrt(tf.cast(self.var, x.dtype) + self.epsilon)
    return tf.clip_by_value((x - mean) / std, -self.clip, self.clip)

  def update(self, observation: tf.Tensor) -> None:
    """Merges a batch `[T, B, *obs]` into the statistics."""
    x = tf.cast(observation, tf.float32)
    batch_mean, batch_var = tf.nn.moments(x, axes=[0, 1])
    batch_count = tf.cast(tf.shape(x)[0] * tf.shape(x)[1], tf.float32)
    count = self.count + batch_count
    delta = batch_mean - self.mean
    new_mean = self.mean + delta * batch_count / count
    new_var = (self.var * self.count + batch_var * batch_count
               + tf.square(delta) * self.count * batch_count / count) / count
    self.mean.assign(new_mean)
    self.var.assign(new_var)
    self.count.assign(count)


class PopArt(keras.layers.Layer):
  """Adaptive value normalization that preserves outputs (van Hasselt et al.
  2016; Hessel et al. 2019, IMPALA on DMLab-30), one scale per head.

  The value layer predicts normalized values n; the network outputs
  V = sigma * n + mu, so V-trace and inference see the return's scale.
  mu and nu are exponential moving averages (step `step_size`) of the value
  targets and their squares, sigma = sqrt(nu - mu^2) within [1e-4, 1e6].
  The losses divide the value error by sigma^2 and the policy-gradient
  advantages by sigma (`scale`), which is the value loss of n on the
  normalized targets. After each update of the statistics, `update` rescales
  the value layer's kernel and bias so that V is unchanged for every input
  (the "preserving outputs precisely" step).
  """

  def __init__(self, num_heads: int, step_size: float = 3e-4, **kwargs):
    super().__init__(**kwargs)
    if not 0 < step_size <= 1:
      raise ValueError(f'step_size must be in (0, 1], got {step_size}')
    self.step_size = step_size
    self.mu = self.add_weight(shape=(num_heads,), initializer='zeros', trainable=False, name='mu')
    self.nu = self.add_weight(shape=(num_heads,), initializer='ones', trainable=False, name='nu')

  def scale(self) -> tf.Tensor:
    """sigma, [K]."""
    return tf.clip_by_value(tf.sqrt(tf.maximum(self.nu - tf.square(self.mu), 0.0)), 1e-4, 1e6)

  def call(self, normalized_values):
    """[..., K] normalized values -> [..., K] values on the return's scale."""
    dtype = normalized_values.dtype
    return (tf.cast(self.scale(), dtype) * normalized_values + tf.cast(self.mu, dtype))

  def update(self, target_mean: tf.Tensor, target_square_mean: tf.Tensor,
             value_layer: keras.layers.Dense) -> None:
    """Moves the statistics toward a batch's per-head target mean and mean
    square ([K] each), then rescales `value_layer` to preserve its outputs."""
    old_sigma, old_mu = self.scale(), tf.identity(self.mu)
    beta = self.step_size
    self.mu.assign((1 - beta) * self.mu + beta * tf.cast(target_mean, self.mu.dtype))
    self.nu.assign((1 - beta) * self.nu + beta * tf.cast(target_square_mean, self.nu.dtype))
    new_sigma = self.scale()
    value_layer.kernel.assign(value_layer.kernel * (old_sigma / new_sigma))
    value_layer.bias.assign((old_sigma * value_layer.bias + old_mu - self.mu) / new_sigma)
