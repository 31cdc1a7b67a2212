"""DeepMind Control Suite from 84x84 RGB pixels, small ResNet torso.

Usage: --config=configs/dmc_pixels.py:cartpole-swingup[,impala|stac|stacx]
Rendering uses MUJOCO_GL=egl by default. The continuous-control recipe's
policy, value and reuse parts (`config.use_continuous_control_recipe`); the
pixels go to one ResNet torso.
"""

from seed_stac import config as config_lib


def get_config(arg='cartpole-swingup'):
  task, _, agent = arg.partition(',')
  c = config_lib.default_config()
  c.agent = agent or 'stac'
  c.env.kind, c.env.name = 'dmc', task
  c.env.options.mode = 'pixels'
  c.env.options.frame_stack = 3
  c.env.options.action_repeat = 4
  c.network.torso = 'resnet'  # default_config's IMPALA sizes
  config_lib.use_control_agent(c)
  config_lib.use_continuous_control_recipe(c, features=False)
  c.actor.env_batch_size = 4
  return c
