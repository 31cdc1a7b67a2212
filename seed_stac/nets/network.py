"""The agent network: one interface for inference, training and look-ahead.

    AgentNetwork(inputs: AgentInput [T, B, ...], core_state) ->
        (AgentOutput [T, B, K, ...], new core_state)

K is the number of heads (1 for IMPALA/STAC, 3 for STACX; head 0 is the main
head, the only one that acts). Inference calls it with T = 1. The look-ahead
of the meta-gradient calls `stateless_call` with substituted weights, so the
same code computes the model at theta and at theta'.
"""

from typing import NamedTuple, Optional, Tuple

import keras
import numpy as np
import tensorflow as tf

from seed_stac.envs.base import ActionSpec
from seed_stac.nets import distributions
from seed_stac.nets.normalization import ObservationNormalizer, PopArt


class AgentInput(NamedTuple):
  """Time-major network inputs.

  observation: [T, B, *stacked_obs_shape] uint8 or float32.
  prev_action: [T, B] int32 (discrete) or [T, B, A] float32: action taken
    before this observation (zeros at episode start).
  reward: [T, B] float32, reward received on arriving at this observation.
  first: [T, B] bool, True where this observation starts an episode; the
    recurrent state is reset there.
  """
  observation: tf.Tensor
  prev_action: tf.Tensor
  reward: tf.Tensor
  first: tf.Tensor


class AgentOutput(NamedTuple):
  """policy_params: [T, B, K, param_size] float32; values: [T, B, K] float32."""
  policy_params: tf.Tensor
  values: tf.Tensor


class AgentNetwork(keras.Model):
  """Torso -> optional LSTM core -> K policy/value heads on shared features.

  reward_clip: the LSTM core sees the reward clipped to [-c, c], as the loss
  does (0 = raw), so one large reward cannot saturate the core.
  gaussian_scale (continuous actions): 'state', the scale is an output of the
  policy layer; 'global', one learned scale per head and action dimension,
  independent of the state and starting at `initial_scale` (PPO's choice for
  continuous control: a state-dependent scale can grow where clipped,
  bang-bang actions pay and then never shrink).
  bounded_mean (continuous actions): the Gaussian mean is squashed into the
  action bounds (see `distributions.GaussianAdapter`).
  continuous_policy, action_bins (continuous actions): the policy's
  distribution (`distributions.CONTINUOUS_POLICIES`) and, when discretized,
  its values per dimension.
  value_normalization_step: > 0 normalizes the value heads with PopArt
  (`normalization.PopArt`, statistics moving at this step size per learner
  step); the outputs stay on the return's scale, and `value_scale()` gives the
  per-head sigma the losses divide by. 0: plain value heads.
  policy_init_gain: the policy layer's kernel starts orthogonal with this gain
  (0.01 makes the initial policy nearly state-independent: means near 0,
  uniform logits); 0 keeps Keras's default (Glorot uniform).
  value_torso: a second torso for the value heads only (no LSTM core), so the
  value loss does not shape the policy's features; None shares `torso`.
  normalize_observations: float observations pass through an
  `ObservationNormalizer` (running mean and variance, updated by the learner
  step via `update_observation_statistics`) before the torso.
  """

  SCALES = ('state', 'global')

  def __init__(self,
               torso: keras.layers.Layer,
               action_spec: ActionSpec,
               num_heads: int = 1,
               lstm_size: int = 0,
               min_scale: float = 1e-3,
               reward_clip: float = 0.0,
               gaussian_scale: str = 'state',
               initial_scale: float = 1.0,
               normalize_observations: bool = False,
               value_torso: Optional[keras.layers.Layer] = None,
               bounded_mean: bool = False,
               continuous_policy: str = 'gaussian',
               action_bins: int = 11,
               policy_init_gain: float = 0.0,
               value_normalization_step: float = 0.0,
               **kwargs):
    super().__init__(**kwargs)
    if num_heads < 1:
      raise ValueError(f'num_heads must be >= 1, got {num_heads}')
    if gaussian_scale not in self.SCALES:
      raise ValueError(f'gaussian_scale must be one of {self.SCALES}, got {gaussian_scale!r}')
    if not initial_scale > min_scale:
      raise ValueError(f'initial_scale ({initial_scale}) must exceed min_scale ({min_scale})')
    self.action_spec = action_spec
    self.distribution = distributions.make_distribution_adapter(action_spec,
                                                                min_scale=min_scale,
                                                                bounded_mean=bounded_mean,
                                                                continuous_policy=continuous_policy,
                                                                bins=action_bins)
    self.num_heads = num_heads
    self.lstm_size = lstm_size
    self.reward_clip = reward_clip
    self.torso = torso
    if value_torso is not None and lstm_size:
      raise ValueError('a separate value torso is for feed-forward networks (lstm_size=0)')
    self.value_torso = value_torso
    self.normalizer = ObservationNormalizer() if normalize_observations else None
    self.core = keras.layers.LSTMCell(lstm_size) if lstm_size else None
    param_size = self.distribution.param_size
    self.global_scale = gaussian_scale == 'global' and isinstance(
        self.distribution, (distributions.GaussianAdapter, distributions.SquashedGaussianAdapter))
    kernel = (keras.initializers.Orthogonal(policy_init_gain)
              if policy_init_gain else 'glorot_uniform')
    if self.global_scale:
      action_size = param_size // 2
      self.policy_layer = keras.layers.Dense(num_heads * action_size, kernel_initializer=kernel)
      # softplus(raw) + min_scale = initial_scale at the start.
      raw = float(np.log(np.expm1(initial_scale - min_scale)))
      self.raw_scale = self.add_weight(shape=(num_heads, action_size),
                                       name='raw_scale',
                                       initializer=keras.initializers.Constant(raw))
    else:
      self.policy_layer = keras.layers.Dense(num_heads * param_size, kernel_initializer=kernel)
    self.value_layer = keras.layers.Dense(num_heads)
    self.popart = PopArt(num_heads, value_normalization_step) if value_normalization_step else None

  def initial_state(self, batch_size: int) -> Tuple[tf.Tensor, ...]:
    """Zero recurrent state: ([B, lstm], [B, lstm]) or () without a core."""
    if not self.core:
      return ()
    zeros = tf.zeros([batch_size, self.lstm_size], self.compute_dtype)
    return (zeros, zeros)

  def call(self, inputs: AgentInput, core_state=()):
    inputs = AgentInput(*inputs)
    obs = inputs.observation
    if self.normalizer is not None:
      obs = self.normalizer(obs)
    time_steps, batch_size = tf.shape(obs)[0], tf.shape(obs)[1]
    flat_obs = tf.reshape(obs, tf.concat([[-1], tf.shape(obs)[2:]], axis=0))
    unflatten = lambda x: tf.reshape(x, tf.stack([time_steps, batch_size, x.shape[-1]]))
    features = unflatten(self.torso(flat_obs))
    if self.core:
      features, core_state = self._unroll_core(features, inputs, core_state)
    value_features = (features
                      if self.value_torso is None else unflatten(self.value_torso(flat_obs)))
    return self._heads(features, value_features), core_state

  def update_observation_statistics(self, observation: tf.Tensor) -> None:
    """Merges `[T, B, *obs]` training observations into the normalizer's
    statistics (no-op without one)."""
    if self.normalizer is not None:
      self.normalizer.update(observation)

  def _unroll_core(self, features, inputs: AgentInput, core_state):
    """Runs the LSTM over time, zeroing its state where an episode starts."""
    if self.action_spec.kind == 'discrete':
      prev_action = tf.one_hot(inputs.prev_action,
                               self.action_spec.num_actions,
                               dtype=features.dtype)
    else:
      prev_action = tf.cast(inputs.prev_action, features.dtype)
    reward = tf.cast(inputs.reward, features.dtype)[..., None]
    if self.reward_clip:
      reward = tf.clip_by_value(reward, -self.reward_clip, self.reward_clip)
    core_input = tf.concat([features, prev_action, reward], axis=-1)
    state = list(core_state)
    outputs = []
    for step_input, first in zip(tf.unstack(core_input), tf.unstack(inputs.first)):
      keep = 1.0 - tf.cast(first, features.dtype)[:, None]
      state = [s * keep for s in state]
      output, state = self.core(step_input, state)
      outputs.append(output)
    return tf.stack(outputs), tuple(state)

  def _heads(self, features, value_features) -> AgentOutput:
    leading = tf.shape(features)[:2]
    param_size = self.distribution.param_size
    if self.global_scale:
      means = tf.reshape(self.policy_layer(features),
                         tf.concat([leading, [self.num_heads, param_size // 2]], axis=0))
      raw_scale = tf.broadcast_to(tf.cast(self.raw_scale, means.dtype), tf.shape(means))
      policy_params = tf.concat([means, raw_scale], axis=-1)
    else:
      policy_params = tf.reshape(self.policy_layer(features),
                                 tf.concat([leading, [self.num_heads, param_size]], axis=0))
    values = self.value_layer(value_features)
    if self.popart is not None:
      values = self.popart(values)
    return AgentOutput(policy_params, values)

  def value_scale(self) -> Optional[tf.Tensor]:
    """PopArt's sigma per head, [K]; None without value normalization."""
    return None if self.popart is None else self.popart.scale()

  def update_value_statistics(self, target_mean: tf.Tensor, target_square_mean: tf.Tensor) -> None:
    """Moves PopArt's statistics toward a batch's per-head value-target mean
    and mean square ([K] each), preserving the outputs (no-op without it)."""
    if self.popart is not None:
      self.popart.update(target_mean, target_square_mean, self.value_layer)
