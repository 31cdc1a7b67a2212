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
