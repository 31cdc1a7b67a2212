"""DeepMind Control Suite from features (continuous actions).

Usage: --config=configs/dmc_features.py:cartpole-swingup[,impala|stac|stacx]

The continuous-control recipe (`config.use_continuous_control_recipe`):
a tanh-squashed Gaussian with one learned scale per dimension, a small
initial policy layer, tanh MLPs with separate policy and value torsos,
running observation normalization, PopArt value normalization and
standardised advantages, and sample reuse under PPO's trust region.
"""

from seed_stac import config as config_lib


def get_config(arg='cartpole-swingup'):
  task, _, agent = arg.partition(',')
  c = config_lib.default_config()
  c.agent = agent or 'stac'
  c.env.kind, c.env.name = 'dmc', task
  c.env.options.mode = 'features'
  c.env.options.action_repeat = 1
  config_lib.use_control_agent(c)
  config_lib.use_continuous_control_recipe(c)
  c.actor.env_batch_size = 8
  return c
