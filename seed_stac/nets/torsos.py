"""Torsos: observation -> feature vector. Inputs are batch-major `[N, ...]`.

Every torso maps observations of one frame stack to `[N, output_size]` float32.
uint8 pixel inputs are scaled to [0, 1] inside the torso so that actors and
the learner move raw bytes around.
"""

from typing import Sequence, Tuple

import keras
import tensorflow as tf


def _to_float(observation: tf.Tensor, dtype) -> tf.Tensor:
  if observation.dtype == tf.uint8:
    return tf.cast(observation, dtype) / 255.0
  return tf.cast(observation, dtype)


def _merge_frames(observation: tf.Tensor) -> tf.Tensor:
  """[N, S, H, W, C] frame stacks -> [N, H, W, S * C]; [N, H, W, C] unchanged."""
  if observation.shape.rank != 5:
    return observation
  stack, height, width, channels = observation.shape[1:]
  x = tf.transpose(observation, [0, 2, 3, 1, 4])
  return tf.reshape(x, [-1, height, width, stack * channels])


MLP_ACTIVATIONS = ('relu', 'tanh')


class MLPTorso(keras.layers.Layer):
  """Features: [N, D] -> MLP (ReLU, or tanh as PPO's continuous-control
  networks) -> [N, hidden_sizes[-1]]."""

  def __init__(self, hidden_sizes: Sequence[int] = (256, 256), activation: str = 'relu', **kwargs):
    super().__init__(**kwargs)
    if not hidden_sizes:
      raise ValueError('MLPTorso needs at least one hidden size')
    if activation not in MLP_ACTIVATIONS:
      raise ValueError(f'activation must be one of {MLP_ACTIVATIONS}, got {activation!r}')
    self.hidden_layers = [keras.layers.Dense(size, activation=activation) for size in hidden_sizes]

  def call(self, observation):
    x = _to_float(observation, self.compute_dtype)
    x = tf.reshape(x, [tf.shape(x)[0], -1])
    for layer in self.hidden_layers:
      x = layer(x)
    return x


class ResidualBlock(keras.layers.Layer):
  """x + conv(relu(conv(relu(x)))), the IMPALA residual block."""

  def __init__(self, channels: int, **kwargs):
    super().__init__(**kwargs)
    self.conv1 = keras.layers.Conv2D(channels, 3, padding='same')
    self.conv2 = keras.layers.Conv2D(channels, 3, padding='same')

  def call(self, x):
    y = self.conv1(tf.nn.relu(x))
    y = self.conv2(tf.nn.relu(y))
    return x + y


class ResNetTorso(keras.layers.Layer):
  """The IMPALA deep network torso (Espeholt et al. 2018, figure 3).

  [N, S, H, W, C] frame stacks (merged into S * C channels) or [N, H, W, C],
  uint8 or float -> per stack: conv 3x3, max-pool 3x3 stride 2,
  `blocks_per_stack` residual blocks -> ReLU -> flatten -> FC `fc_size` ReLU.
  Defaults are the paper's: stacks of (16, 32, 32) channels, 2 blocks, FC 256.
  A smaller `channels` gives the small pixel network used for DM Control.
  """

  def __init__(self,
               channels: Sequence[int] = (16, 32, 32),
               blocks_per_stack: int = 2,
               fc_size: int = 256,
               **kwargs):
    super().__init__(**kwargs)
    self.convs = [keras.layers.Conv2D(c, 3, padding='same') for c in channels]
    self.pools = [keras.layers.MaxPooling2D(3, strides=2, padding='same') for _ in channels]
    self.blocks = [ResidualBlock(c) for c in channels for _ in range(blocks_per_stack)]
    self.blocks_per_stack = blocks_per_stack
    self.fc = keras.layers.Dense(fc_size, activation='relu')

  def call(self, observation):
    x = _to_float(_merge_frames(observation), self.compute_dtype)
    for i, (conv, pool) in enumerate(zip(self.convs, self.pools)):
      x = pool(conv(x))
      first_block = i * self.blocks_per_stack
      for block in self.blocks[first_block:first_block + self.blocks_per_stack]:
        x = block(x)
    x = tf.nn.relu(x)
    x = tf.reshape(x, [tf.shape(x)[0], -1])
    return self.fc(x)


class ConvTorso(keras.layers.Layer):
  """A plain conv net: [N, S, H, W, C] stacks (merged into S * C channels) or
  [N, H, W, C], uint8/bool/float -> ReLU convs ('valid' padding) -> flatten ->
  FC `fc_size` ReLU.

  `conv_layers` is a sequence of (channels, kernel, stride). The default is
  the MinAtar paper's network (one 3x3 conv with 16 channels, then 128 units).
  """

  def __init__(self,
               conv_layers: Sequence[Tuple[int, int, int]] = ((16, 3, 1),),
               fc_size: int = 128,
               **kwargs):
    super().__init__(**kwargs)
    if not conv_layers:
      raise ValueError('ConvTorso needs at least one conv layer')
    self.convs = [
        keras.layers.Conv2D(channels, kernel, strides=stride, padding='valid', activation='relu')
        for channels, kernel, stride in conv_layers
    ]
    self.fc = keras.layers.Dense(fc_size, activation='relu')

  def call(self, observation):
    x = _to_float(_merge_frames(observation), self.compute_dtype)
    for conv in self.convs:
      x = conv(x)
    return self.fc(tf.reshape(x, [tf.shape(x)[0], -1]))


# The Nature DQN torso (Mnih et al. 2015): three convs, then 512 units.
NATURE_CONV_LAYERS = ((32, 8, 4), (64, 4, 2), (64, 3, 1))
NATURE_FC_SIZE = 512


def nature_torso() -> ConvTorso:
  """The Nature DQN network as a `ConvTorso` (fixed sizes, the usual baseline
  of Sample Factory and RLlib)."""
  return ConvTorso(NATURE_CONV_LAYERS, NATURE_FC_SIZE)


# name -> builder(network config). A new torso is one entry here.
TORSOS = {
    'mlp':
        lambda net: MLPTorso(tuple(net.mlp.sizes), net.mlp.activation),
    'conv':
        lambda net: ConvTorso(tuple(tuple(layer) for layer in net.conv.layers), net.conv.fc_size),
    'nature':
        lambda net: nature_torso(),
    'resnet':
        lambda net: ResNetTorso(tuple(net.resnet.channels), net.resnet.blocks, net.resnet.fc_size),
}


def make_torso(network_config) -> keras.layers.Layer:
  """The torso named by `network_config.torso` (a key of TORSOS)."""
  name = network_config.torso
  if name not in TORSOS:
    raise ValueError(f'unknown torso {name!r}; known: {sorted(TORSOS)}')
  return TORSOS[name](network_config)
