"""ObservationNormalizer: running statistics against numpy over all batches."""

import numpy as np
import pytest
import tensorflow as tf

from helpers import build_updater, random_unroll
from seed_stac.envs.base import ActionSpec
from seed_stac.nets import AgentInput, AgentNetwork, MLPTorso
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
  network(AgentInput(*unroll[:4]))
  assert [v.name for v in network.non_trainable_variables] == ['mean', 'var', 'count']
  updater = build_updater(network, tuned=('gamma',), optimizer='adam')
  updater.step(unroll)
  seen = unroll.observation[:-1].numpy().reshape(-1, 3)
  np.testing.assert_allclose(network.normalizer.mean.numpy(), seen.mean(0), rtol=1e-4)
  np.testing.assert_allclose(network.normalizer.var.numpy(), seen.var(0), rtol=1e-3)
  # Unnormalized, a plain network sees inputs 50x larger than the normalized one.
  normalized = network.normalizer(unroll.observation).numpy()
  assert np.abs(normalized).mean() < 2.0 < np.abs(unroll.observation.numpy()).mean()
