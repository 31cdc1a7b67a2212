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
  config_lib.use_small_feature_agent(c)
  return c
