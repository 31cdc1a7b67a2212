"""CartPole-v1 from features: the quick local default (`make train`).

Usage: --config=configs/cartpole.py[:impala|stac|stacx]
"""

from seed_stac import config as config_lib


def get_config(agent='stac'):
  c = config_lib.default_config()
  c.agent = agent
  c.env.kind, c.env.name = 'cartpole', 'CartPole-v1'
  c.network.torso = 'mlp'
  c.network.mlp.sizes = (64, 64)
  c.algo.outer.gamma = 0.99
  c.algo.fixed.gamma = 0.99
  c.algo.outer.g_v = 0.5
  c.algo.fixed.g_v = 0.5
  c.optimizer.name = 'adam'
  c.algo.loss_reduction = 'mean'  # Adam is scale-free; clip 40 never acts on means
  c.optimizer.learning_rate = 3e-3
  c.learner.total_frames = 800_000
  c.optimizer.decay_frames = 800_000
  c.learner.batch_size = 16
  c.learner.unroll_length = 20
  c.learner.inference_batch_size = 32
  c.learner.log_interval_s = 5.0
  c.actor.num_actors = 4
  c.actor.env_batch_size = 8
  return c
