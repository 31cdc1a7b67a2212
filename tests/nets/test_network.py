"""Network shapes/dtypes, LSTM resets, and the look-ahead functional call."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import agent_input, build_network, random_unroll
from seed_stac.envs.base import ActionSpec
from seed_stac import config as config_lib
from seed_stac.nets import AgentInput, AgentNetwork, ConvTorso, MLPTorso, ResNetTorso, torsos

DISCRETE = ActionSpec('discrete', num_actions=6)
CONTINUOUS = ActionSpec('continuous', shape=(3,), minimum=(-1,) * 3, maximum=(1,) * 3)


def _inputs(unroll):
  return agent_input(unroll)


@pytest.mark.parametrize('torso,obs_shape,dtype,spec,heads,lstm', [
    ('mlp', (7,), np.float32, DISCRETE, 1, 0),
    ('mlp', (7,), np.float32, CONTINUOUS, 3, 8),
    ('resnet', (84, 84, 4), np.uint8, DISCRETE, 3, 0),
    ('small_resnet', (84, 84, 9), np.uint8, CONTINUOUS, 1, 16),
    ('conv', (10, 10, 4), np.float32, DISCRETE, 1, 0),
])
def test_output_shapes_and_dtypes(torso, obs_shape, dtype, spec, heads, lstm):
  T, B = 3, 2
  unroll = random_unroll(np.random.default_rng(0), T - 1, B, obs_shape, spec, dtype, lstm_size=lstm)
  layer = {
      'mlp': lambda: MLPTorso((32,)),
      'resnet': ResNetTorso,
      'small_resnet': lambda: ResNetTorso(channels=(16, 32), fc_size=64),
      'conv': ConvTorso
  }[torso]()
  network = build_network(unroll, spec, heads, layer, lstm)
  outputs, state = network(_inputs(unroll), unroll.core_state)
  assert outputs.policy_params.shape == (T, B, heads, network.distribution.param_size)
  assert outputs.values.shape == (T, B, heads)
  assert outputs.policy_params.dtype == tf.float32 and outputs.values.dtype == tf.float32
  assert len(state) == (2 if lstm else 0)
  for s in state:
    assert s.shape == (B, lstm) and s.dtype == tf.float32
  sample = network.distribution(outputs.policy_params[0, :, 0]).sample(seed=(1, 2))
  assert sample.shape == (B,) + network.distribution.action_shape


def test_impala_resnet_has_the_paper_architecture():
  torso = ResNetTorso()
  features = torso(tf.zeros([1, 84, 84, 4], tf.uint8))
  assert features.shape == (1, 256)
  convs = [(4, 16), (16, 32), (32, 32)]
  expected = 0
  for c_in, c_out in convs:
    expected += 9 * c_in * c_out + c_out  # stack conv
    expected += 4 * (9 * c_out * c_out + c_out)  # 2 blocks x 2 convs
  expected += 11 * 11 * 32 * 256 + 256  # 84 -> 42 -> 21 -> 11 spatial
  assert sum(int(np.prod(v.shape)) for v in torso.trainable_variables) == expected


def test_lstm_state_resets_at_episode_starts():
  T, B, lstm = 6, 3, 8
  unroll = random_unroll(np.random.default_rng(1),
                         T - 1,
                         B, (5,),
                         DISCRETE,
                         lstm_size=lstm,
                         terminal_prob=0.0)
  first = np.zeros([T, B], bool)
  first[3, 1] = True
  unroll = unroll._replace(first=tf.constant(first))
  network = build_network(unroll, DISCRETE, lstm_size=lstm)
  whole, _ = network(_inputs(unroll), unroll.core_state)
  # Restarting at t = 3 from a zero state must reproduce column 1 from there.
  tail = agent_input(unroll, lambda x: x[3:])
  fresh, _ = network(tail, network.initial_state(B))
  np.testing.assert_allclose(whole.values[3:, 1], fresh.values[:, 1], rtol=1e-5)
  # Columns without a reset carry their state, so they differ from a restart.
  assert not np.allclose(whole.values[3:, 0], fresh.values[:, 0])


def test_stateless_call_with_unchanged_weights_matches_the_model():
  unroll = random_unroll(np.random.default_rng(2), 4, 3, (5,), DISCRETE, lstm_size=4)
  network = build_network(unroll, DISCRETE, num_heads=3, lstm_size=4)
  expected, expected_state = network(_inputs(unroll), unroll.core_state)
  (outputs,
   state), _ = network.stateless_call([tf.identity(v) for v in network.trainable_variables],
                                      network.non_trainable_variables, _inputs(unroll),
                                      unroll.core_state)
  np.testing.assert_allclose(outputs.policy_params, expected.policy_params, rtol=1e-6)
  np.testing.assert_allclose(outputs.values, expected.values, rtol=1e-6)
  np.testing.assert_allclose(state[0], expected_state[0], rtol=1e-6)
  # And substituted weights are really used.
  (shifted, _), _ = network.stateless_call([v + 0.1 for v in network.trainable_variables],
                                           network.non_trainable_variables, _inputs(unroll),
                                           unroll.core_state)
  assert not np.allclose(shifted.values, expected.values)


def test_bad_arguments():
  with pytest.raises(ValueError, match='num_heads'):
    AgentNetwork(MLPTorso(), DISCRETE, num_heads=0)
  with pytest.raises(ValueError, match='hidden size'):
    MLPTorso(())


def test_frame_major_stacks_equal_channel_stacked_frames():
  """[N, S, H, W, C] input is the channel-last stack [N, H, W, S * C],
  frames oldest first, each frame's channels together."""
  rng = np.random.default_rng(3)
  stacks = rng.integers(0, 256, [2, 3, 84, 84, 2]).astype(np.uint8)
  channel_last = np.concatenate([stacks[:, s] for s in range(3)], axis=-1)
  torso = ResNetTorso(channels=(8,), fc_size=16)
  np.testing.assert_allclose(torso(tf.constant(stacks)),
                             torso(tf.constant(channel_last)),
                             rtol=1e-6)


def test_conv_torso_is_the_minatar_network_and_reads_bool_as_zero_one():
  torso = ConvTorso(((16, 3, 1),), fc_size=128)
  observation = np.random.default_rng(0).random((2, 1, 10, 10, 4)) > 0.5  # [N, stack, H, W, C]
  features = torso(tf.constant(observation))
  assert features.shape == (2, 128)
  assert torso.convs[0].kernel.shape == (3, 3, 4, 16)
  assert torso.fc.kernel.shape == (8 * 8 * 16, 128)  # 'valid': 10x10 -> 8x8
  np.testing.assert_allclose(features, torso(tf.constant(observation, tf.float32)), rtol=1e-6)
  with pytest.raises(ValueError, match='at least one conv layer'):
    ConvTorso(())


def test_lstm_core_sees_the_clipped_reward():
  unroll = random_unroll(np.random.default_rng(0), 3, 2, (5,), DISCRETE, lstm_size=8)
  clipped = AgentNetwork(MLPTorso((8,)), DISCRETE, lstm_size=8, reward_clip=1.0)
  inputs = _inputs(unroll)
  clipped(inputs, unroll.core_state)
  big = inputs._replace(reward=tf.fill(inputs.reward.shape, 5.0))
  one = inputs._replace(reward=tf.ones(inputs.reward.shape))
  same_a, _ = clipped(big, unroll.core_state)
  same_b, _ = clipped(one, unroll.core_state)
  np.testing.assert_allclose(same_a.values, same_b.values)
  raw = AgentNetwork(MLPTorso((8,)), DISCRETE, lstm_size=8)
  raw(inputs, unroll.core_state)
  raw.set_weights(clipped.get_weights())
  assert not np.allclose(
      raw(big, unroll.core_state)[0].values,
      raw(one, unroll.core_state)[0].values)


def test_global_gaussian_scale_is_one_learned_value_per_head_and_dimension():
  spec = ActionSpec(kind='continuous', shape=(2,), minimum=(-1.0, -1.0), maximum=(1.0, 1.0))
  unroll = random_unroll(np.random.default_rng(0), 3, 4, (5,), spec)
  network = AgentNetwork(MLPTorso((8,)),
                         spec,
                         num_heads=3,
                         gaussian_scale='global',
                         initial_scale=0.5,
                         min_scale=1e-3)
  outputs, _ = network(_inputs(unroll))
  assert outputs.policy_params.shape == (4, 4, 3, 4)
  dist = network.distribution(outputs.policy_params)
  np.testing.assert_allclose(dist.distribution.scale, 0.5, rtol=1e-5)  # every state
  assert network.raw_scale.shape == (3, 2)
  assert any(v is network.raw_scale for v in network.trainable_variables)
  # The scale moves with its gradient: a larger scale raises the entropy.
  with tf.GradientTape() as tape:
    outputs, _ = network(_inputs(unroll))
    entropy = tf.reduce_sum(network.distribution(outputs.policy_params).entropy())
  assert np.all(tape.gradient(entropy, network.raw_scale).numpy() > 0)
  # Discrete heads ignore the option.
  discrete = AgentNetwork(MLPTorso((8,)), DISCRETE, gaussian_scale='global')
  assert not discrete.global_scale
  with pytest.raises(ValueError, match='gaussian_scale'):
    AgentNetwork(MLPTorso((8,)), spec, gaussian_scale='per-state')
  with pytest.raises(ValueError, match='initial_scale'):
    AgentNetwork(MLPTorso((8,)), spec, gaussian_scale='global', initial_scale=1e-4)


def test_nature_torso_has_the_dqn_architecture_and_the_registry_builds_every_torso():
  torso = torsos.nature_torso()
  features = torso(tf.zeros([1, 4, 84, 84, 1], tf.uint8))
  assert features.shape == (1, 512)
  # 84 -> 20 -> 9 -> 7 spatial with 'valid' padding.
  expected = (8 * 8 * 4 * 32 + 32) + (4 * 4 * 32 * 64 + 64) + (3 * 3 * 64 * 64 + 64)
  expected += 7 * 7 * 64 * 512 + 512
  assert sum(int(np.prod(v.shape)) for v in torso.trainable_variables) == expected
  net = config_lib.default_config().network
  for name in torsos.TORSOS:
    net.torso = name
    assert isinstance(torsos.make_torso(net), keras.layers.Layer)
  config = config_lib.default_config()
  for name in torsos.TORSOS:  # config validation accepts exactly the registry
    config.network.torso = name
    config_lib.validate(config)
  net.torso = 'transformer'
  with pytest.raises(ValueError, match="unknown torso 'transformer'"):
    torsos.make_torso(net)


def test_separate_value_torso_keeps_the_value_loss_out_of_the_policy_features():
  unroll = random_unroll(np.random.default_rng(2), 3, 2, (5,), DISCRETE)
  network = AgentNetwork(MLPTorso((8,)), DISCRETE, value_torso=MLPTorso((8,)))
  inputs = _inputs(unroll)
  with tf.GradientTape(persistent=True) as tape:
    outputs, _ = network(inputs)
    value_sum = tf.reduce_sum(outputs.values)
    policy_sum = tf.reduce_sum(outputs.policy_params)
  for grad in tape.gradient(value_sum, network.torso.trainable_variables):
    assert grad is None
  for grad in tape.gradient(policy_sum, network.value_torso.trainable_variables):
    assert grad is None
  assert all(
      g is not None for g in tape.gradient(value_sum, network.value_torso.trainable_variables))
  with pytest.raises(ValueError, match='feed-forward'):
    AgentNetwork(MLPTorso((8,)), DISCRETE, lstm_size=4, value_torso=MLPTorso((8,)))


def test_bounded_gaussian_mean_stays_inside_the_action_bounds():
  from seed_stac.nets import distributions
  spec = ActionSpec(kind='continuous', shape=(2,), minimum=(-1.0, 0.0), maximum=(1.0, 4.0))
  adapter = distributions.make_distribution_adapter(spec, bounded_mean=True)
  raw_means = tf.constant([[-50.0, -50.0], [0.0, 0.0], [50.0, 50.0], [0.5, -0.5]])
  params = tf.concat([raw_means, tf.zeros_like(raw_means)], axis=-1)
  means = adapter(params).mean().numpy()
  np.testing.assert_allclose(means[:3], [[-1, 0], [0, 2], [1, 4]], atol=1e-5)
  np.testing.assert_allclose(means[3], [np.tanh(0.5), 2 + 2 * np.tanh(-0.5)], rtol=1e-5)
  # A sample at the bound pulls an interior mean toward it.
  with tf.GradientTape() as tape:
    tape.watch(params)
    log_prob = adapter(params).log_prob(tf.constant([[1.0, 4.0]] * 4))
  assert np.all(tape.gradient(log_prob, params).numpy()[[1, 3], :2] > 0)
  unbounded = distributions.make_distribution_adapter(spec)
  np.testing.assert_allclose(unbounded(params).mean(), raw_means)
  with pytest.raises(ValueError, match='finite bounds'):
    distributions.GaussianAdapter(1, mean_bounds=(-np.inf, 1.0))


def test_small_policy_init_starts_near_a_state_independent_policy():
  unroll = random_unroll(np.random.default_rng(1), 3, 4, (7,), CONTINUOUS)
  inputs = AgentInput(unroll.observation * 10.0, *unroll[1:4])  # large, unnormalised features
  keras.utils.set_random_seed(0)
  default, _ = AgentNetwork(MLPTorso((64, 64)), CONTINUOUS)(inputs)
  keras.utils.set_random_seed(0)
  small, _ = AgentNetwork(MLPTorso((64, 64)), CONTINUOUS, policy_init_gain=0.01)(inputs)
  means = lambda out: np.abs(out.policy_params.numpy()[..., :3])
  assert means(default).mean() > 0.5  # Glorot: means of order 1, many past the bounds
  assert means(small).max() < 0.05


@pytest.mark.parametrize('policy, param_size', [('tanh_gaussian', 2), ('discretized', 11)])
def test_bounded_continuous_policies_on_the_network(policy, param_size):
  spec = ActionSpec(kind='continuous', shape=(1,), minimum=(-1.0,), maximum=(1.0,))
  unroll = random_unroll(np.random.default_rng(2), 3, 2, (5,), spec)
  network = AgentNetwork(MLPTorso((8,)),
                         spec,
                         num_heads=3,
                         continuous_policy=policy,
                         gaussian_scale='global')
  outputs, _ = network(_inputs(unroll))
  assert outputs.policy_params.shape == (4, 2, 3, param_size)
  assert network.global_scale == (policy == 'tanh_gaussian')  # no scale to share when discretized
  action = network.distribution(outputs.policy_params[0, :, 0]).sample(seed=(0, 1)).numpy()
  assert action.shape == (2, 1) and np.all(np.abs(action) <= 1.0)


def test_mlp_activation_is_a_choice():
  x = tf.constant(np.random.default_rng(3).normal(size=[4, 5]) * 100.0, tf.float32)
  assert np.max(np.abs(MLPTorso((8,), activation='tanh')(x).numpy())) <= 1.0
  assert np.min(MLPTorso((8,))(x).numpy()) >= 0.0  # ReLU by default
  with pytest.raises(ValueError, match='activation must be one of'):
    MLPTorso((8,), activation='gelu')
