"""DeepMind Control Suite from features (continuous actions, Gaussian head).

Usage: --config=configs/dmc_features.py:cartpole-swingup[,impala|stac|stacx]
"""

from seed_stac import config as config_lib


def get_config(arg='cartpole-swingup'):
  task, _, agent = arg.partition(',')
  c = config_lib.default_config()
  c.agent = agent or 'stac'
  c.env.kind, c.env.name = 'dmc', task
  c.env.options.mode = 'features'
  c.env.options.action_repeat = 1
  c.network.torso = 'mlp'
  c.network.mlp.sizes = (256, 256)
  config_lib.use_control_agent(c)
  c.actor.env_batch_size = 8
  return c
