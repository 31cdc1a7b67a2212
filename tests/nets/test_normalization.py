"""ObservationNormalizer: running statistics against numpy over all batches."""

import numpy as np
import pytest
import tensorflow as tf

from helpers import agent_input, build_updater, random_unroll
from seed_stac.envs.base import ActionSpec
from seed_stac.nets import AgentNetwork, MLPTorso
from seed_stac.nets.normalization import ObservationNormalizer

DISCRETE = ActionSpec('discrete', num_actions=3)


def test_running_statistics_equal_those_of_all_batches_together():
  rng = np.random.default_rng(0)
  batches = [
      rng.normal(loc=[5.0, -3.0, 0.0], scale=[10.0, 0.1, 1.0], size=[t, b, 3])
      for t, b in [(4, 2), (7, 5), (1, 1), (20, 8)]
  ]
  normalizer = ObservationNormalizer(clip=1e9)
  normalizer(tf.zeros([1, 1, 3]))
  np.testing.assert_allclose(normalizer(tf.constant(batches[0])), batches[0], rtol=1e-5)
  for batch in batches:
    normalizer.update(tf.constant(batch))
  everything = np.concatenate([b.reshape(-1, 3) for b in batches])
  np.testing.assert_allclose(normalizer.mean.numpy(), everything.mean(0), rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(normalizer.var.numpy(), everything.var(0), rtol=1e-4)
  assert normalizer.count.numpy() == len(everything)
  x = rng.normal(size=[2, 3, 3])
  expected = (x - everything.mean(0)) / np.sqrt(everything.var(0) + 1e-8)
  np.testing.assert_allclose(normalizer(tf.constant(x, tf.float32)), expected, rtol=1e-3, atol=1e-4)


def test_outputs_are_clipped():
  normalizer = ObservationNormalizer(clip=2.0)
  normalizer(tf.zeros([1, 1, 2]))
  np.testing.assert_allclose(normalizer(tf.constant([[[100.0, -0.5]]])), [[[2.0, -0.5]]])
  with pytest.raises(ValueError, match='clip'):
    ObservationNormalizer(clip=0.0)


def test_the_learner_step_updates_the_statistics_the_network_then_uses():
  rng = np.random.default_rng(1)
  unroll = random_unroll(rng, 5, 4, (3,), DISCRETE)
  unroll = unroll._replace(observation=unroll.observation * 50.0 + 7.0)
  network = AgentNetwork(MLPTorso((8,)), DISCRETE, normalize_observations=True)
  network(agent_input(unroll))
  assert [v.name for v in network.non_trainable_variables] == ['mean', 'var', 'count']
  updater = build_updater(network, tuned=('gamma',), optimizer='adam')
  updater.step(unroll)
  seen = unroll.observation[:-1].numpy().reshape(-1, 3)
  np.testing.assert_allclose(network.normalizer.mean.numpy(), seen.mean(0), rtol=1e-4)
  np.testing.assert_allclose(network.normalizer.var.numpy(), seen.var(0), rtol=1e-3)
  # Unnormalized, a plain network sees inputs 50x larger than the normalized one.
  normalized = network.normalizer(unroll.observation).numpy()
  assert np.abs(normalized).mean() < 2.0 < np.abs(unroll.observation.numpy()).mean()


def test_popart_statistics_are_moving_averages_and_updates_preserve_the_values():
  rng = np.random.default_rng(3)
  network = AgentNetwork(MLPTorso((8,)), DISCRETE, num_heads=3, value_normalization_step=0.1)
  inputs = agent_input(random_unroll(rng, 4, 5, (6,), DISCRETE))
  before = network(inputs)[0].values.numpy()
  mu, nu = np.zeros(3), np.ones(3)
  for target_mean in ([50.0, -3.0, 0.5], [80.0, -1.0, 0.2]):
    target_square = np.square(target_mean) + np.array([400.0, 4.0, 0.01])
    network.update_value_statistics(tf.constant(target_mean), tf.constant(target_square))
    mu, nu = 0.9 * mu + 0.1 * np.array(target_mean), 0.9 * nu + 0.1 * target_square
    np.testing.assert_allclose(network.popart.mu.numpy(), mu, rtol=1e-5)
    np.testing.assert_allclose(network.value_scale().numpy(), np.sqrt(nu - mu**2), rtol=1e-5)
    # Preserving outputs precisely: the rescaled value layer gives the same V.
    np.testing.assert_allclose(network(inputs)[0].values.numpy(), before, rtol=1e-4, atol=1e-4)
  assert AgentNetwork(MLPTorso((8,)), DISCRETE).value_scale() is None


def test_popart_value_loss_is_the_normalized_values_loss():
  from seed_stac.algo import losses
  from seed_stac.algo.metaparams import Hyperparameters
  from seed_stac.nets.distributions import CategoricalAdapter
  rng = np.random.default_rng(4)
  T, B = 5, 3
  params = tf.constant(rng.normal(size=[T + 1, B, 3]))
  values = tf.constant(rng.normal(size=[T + 1, B]))
  transitions = losses.Transitions(action=tf.constant(rng.integers(0, 3, [T, B]).astype(np.int32)),
                                   behaviour_log_prob=tf.constant(np.full([T, B], np.log(1 / 3))),
                                   reward=tf.constant(rng.normal(size=[T, B])),
                                   terminated=tf.constant(np.zeros([T, B], bool)),
                                   truncated=tf.constant(np.zeros([T, B], bool)))
  hp = Hyperparameters(0.9, 1.0, 0.5, 1.0, 0.01, 1.0, 1.0)
  _, raw = losses.head_loss(params, values, transitions, hp, CategoricalAdapter(3))
  _, scaled = losses.head_loss(params,
                               values,
                               transitions,
                               hp,
                               CategoricalAdapter(3),
                               value_scale=tf.constant(4.0, tf.float64))
  assert scaled['value_loss'].numpy() == pytest.approx(raw['value_loss'].numpy() / 16)
  assert scaled['policy_loss'].numpy() == pytest.approx(raw['policy_loss'].numpy() / 4)
  assert 'target_mean' in scaled and 'target_mean' not in raw


def test_a_learner_step_moves_popart_toward_its_targets():
  rng = np.random.default_rng(5)
  unroll = random_unroll(rng, 5, 4, (6,), DISCRETE)
  unroll = unroll._replace(reward=unroll.reward + 10.0)  # returns far from 0
  network = AgentNetwork(MLPTorso((8,)), DISCRETE, value_normalization_step=0.5)
  network(agent_input(unroll))
  updater = build_updater(network, tuned=(), optimizer='adam')
  stats = updater.step(unroll)
  assert network.popart.mu.numpy()[0] > 5.0  # half way to value targets above 10
  assert float(stats['main/value_sigma']) == pytest.approx(float(network.value_scale()[0]))
