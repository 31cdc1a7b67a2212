"""Checkpoints hold every network weight (torso included), metaparameters,
both optimizers and counters; a fresh network restores all of them."""

import numpy as np
import tensorflow as tf

from configs import atari, cartpole
from seed_stac import agent as agent_lib
from seed_stac.envs.base import ActionSpec, EnvSpec
from seed_stac.evaluation import restore_network
from seed_stac.learner.checkpoints import Checkpointer

CARTPOLE = EnvSpec('cartpole', (4,), 'float32', ActionSpec('discrete', num_actions=2))


def _perturb(variables, seed):
  rng = np.random.default_rng(seed)
  for v in variables:
    v.assign(v + rng.normal(size=v.shape).astype(v.numpy().dtype))


def test_every_network_weight_round_trips(tmp_path):
  config = cartpole.get_config('stacx')
  config.network.lstm_size = 8
  agent = agent_lib.build_agent(config, CARTPOLE)
  _perturb(agent.network.variables, 0)
  _perturb(agent.metaparams.logit_variables, 1)
  saved = [v.numpy().copy() for v in agent.network.variables]
  Checkpointer(str(tmp_path / 'checkpoints'), frames=tf.Variable(7, dtype=tf.int64),
               **agent.checkpoint_objects()).save()

  network, _ = restore_network(config, str(tmp_path), CARTPOLE)
  assert len(network.variables) == len(saved)
  for restored, expected in zip(network.variables, saved):
    np.testing.assert_array_equal(restored.numpy(), expected)

  fresh = agent_lib.build_agent(config, CARTPOLE)
  frames = tf.Variable(0, dtype=tf.int64)
  Checkpointer(str(tmp_path / 'checkpoints'), frames=frames,
               **fresh.checkpoint_objects()).restore_latest()
  assert frames.numpy() == 7
  np.testing.assert_allclose([float(v) for v in fresh.metaparams.logit_variables],
                             [float(v) for v in agent.metaparams.logit_variables])


def test_resnet_torso_weights_are_in_the_checkpoint(tmp_path):
  spec = EnvSpec('pong', (84, 84, 1), 'uint8', ActionSpec('discrete', num_actions=6),
                 frame_stack=4)
  agent = agent_lib.build_agent(atari.get_config('Pong'), spec)
  path = Checkpointer(str(tmp_path), **agent.checkpoint_objects()).save()
  saved = sum(int(np.prod(shape)) for name, shape in tf.train.list_variables(path)
              if name.startswith('network_weights/'))
  assert saved == sum(int(np.prod(v.shape)) for v in agent.network.variables)


def test_mirrored_agent_trains_and_checkpoints(tmp_path):
  """config.learner.distribution='mirrored' builds under MirroredStrategy (one
  replica on this CPU machine; the 2-replica equality is tests/algo/test_distributed.py)."""
  from helpers import random_unroll
  config = cartpole.get_config('stac')
  config.learner.distribution = 'mirrored'
  agent = agent_lib.build_agent(config, CARTPOLE)
  assert isinstance(agent.updater.strategy, tf.distribute.MirroredStrategy)
  unroll = random_unroll(np.random.default_rng(0), 4, 4, (4,), CARTPOLE.action)
  stats = agent.updater.step(unroll)
  assert np.isfinite(float(stats['outer_loss']))
  Checkpointer(str(tmp_path), **agent.checkpoint_objects()).save()
