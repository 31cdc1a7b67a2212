"""A user's `dm_env.Environment` from a factory (env.kind='dm_env').

Usage: --config=configs/dm_env.py:MODULE:FUNCTION[,impala|stac|stacx]
e.g.   --config=configs/dm_env.py:examples.corridor_dm_env:make_env,impala

Feature observations get an MLP 64-64 and Adam on mean losses, as CartPole;
for image observations set --config.network.torso=nature (and, as for Atari,
--config.optimizer.name=rmsprop --config.algo.loss_reduction=sum).
"""

from seed_stac import config as config_lib


def get_config(arg='examples.corridor_dm_env:make_env'):
  factory, _, agent = arg.partition(',')
  c = config_lib.default_config()
  c.agent = agent or 'stac'
  c.env.kind, c.env.name = 'dm_env', factory
  c.env.options.make_kwargs = {}
  c.network.torso = 'mlp'
  c.network.mlp_sizes = (64, 64)
  c.optimizer.name = 'adam'
  c.algo.loss_reduction = 'mean'
  c.optimizer.learning_rate = 3e-3
  c.learner.total_frames = 1_000_000
  c.learner.batch_size = 16
  c.learner.unroll_length = 20
  c.learner.inference_batch_size = 32
  c.actor.num_actors = 2
  c.actor.env_batch_size = 8
  return c
