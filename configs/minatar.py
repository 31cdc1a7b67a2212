"""MinAtar (Young & Tian 2019): the laptop benchmark for STAC vs IMPALA.

Usage: --config=configs/minatar.py:Breakout  or  --config=configs/minatar.py:SpaceInvaders,impala
(game: Asterix, Breakout, Freeway, Seaquest, SpaceInvaders; then ',impala|stac|stacx').

The MinAtar paper's network (a 3x3 conv with 16 channels, one 128-unit hidden
layer), sticky actions 0.1, no frame stack. The learner setting was chosen on
Breakout and SpaceInvaders only (docs/results.md#minatar): Adam 6e-4 on mean
losses at a constant rate, batch 16 x T 20, four passes over each batch under
PPO's trust region of 0.2, and an entropy cost of 0.03 (IMPALA's fixed value
and STAC's outer one).
"""

from seed_stac import config as config_lib


def get_config(arg='Breakout'):
  game, _, agent = arg.partition(',')
  c = config_lib.default_config()
  c.agent = agent or 'stac'
  c.env.kind, c.env.name = 'minatar', game
  c.env.options.sticky_action_prob = 0.1
  c.network.torso = 'conv'
  c.network.conv.layers = ((16, 3, 1),)
  c.network.conv.fc_size = 128
  c.algo.loss_reduction = 'mean'
  c.optimizer.name = 'adam'
  c.optimizer.learning_rate = 6e-4
  c.optimizer.decay_frames = 0  # constant, as the MinAtar paper's DQN and AC(lambda)
  c.learner.passes = 4
  c.algo.trust_region = 0.2
  c.algo.fixed.g_e = c.algo.outer.g_e = 0.03
  c.learner.total_frames = 5_000_000
  c.learner.batch_size = 16
  c.learner.unroll_length = 20
  c.learner.inference_batch_size = 32
  c.learner.log_interval_s = 10.0
  c.actor.num_actors = 2
  c.actor.env_batch_size = 16
  return c
