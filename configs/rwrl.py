"""Real-World RL challenge (realworldrl_suite, optional; see README).

Usage: --config=configs/rwrl.py:walker-realworld_walk,medium[,impala|stac|stacx]
"""

from seed_stac import config as config_lib


def get_config(arg='walker-realworld_walk,easy'):
  task, difficulty, agent = (arg.split(',') + ['easy', 'stac'])[:3]
  c = config_lib.default_config()
  c.agent = agent
  c.env.kind, c.env.name = 'rwrl', task
  c.env.options.difficulty = difficulty
  c.network.torso = 'mlp'
  c.network.mlp.sizes = (256, 256)
  config_lib.use_control_agent(c)
  c.actor.env_batch_size = 8
  return c
