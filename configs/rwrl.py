"""Real-World RL challenge (realworldrl_suite, optional; see README).

Usage: --config=configs/rwrl.py:walker-realworld_walk,medium[,impala|stac|stacx]

The continuous-control recipe of configs/dmc_features.py
(`config.use_continuous_control_recipe`).
"""

from seed_stac import config as config_lib


def get_config(arg='walker-realworld_walk,easy'):
  task, difficulty, agent = (arg.split(',') + ['easy', 'stac'])[:3]
  c = config_lib.default_config()
  c.agent = agent
  c.env.kind, c.env.name = 'rwrl', task
  c.env.options.difficulty = difficulty
  config_lib.use_control_agent(c)
  config_lib.use_continuous_control_recipe(c)
  c.actor.env_batch_size = 8
  return c
