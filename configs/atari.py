"""Atari (ALE) with the IMPALA deep network and the paper's settings.

Usage: --config=configs/atari.py:Pong  or  --config=configs/atari.py:Breakout,stacx
or --config=configs/atari.py:Breakout,impala,nature
(game name, then optionally the agent 'impala|stac|stacx' and the torso
'resnet' (the IMPALA deep network, default) or 'nature' (the Nature DQN CNN)).
"""

from seed_stac import config as config_lib


def get_config(arg='Pong'):
  parts = arg.split(',')
  if len(parts) > 3:
    raise ValueError(f'configs/atari.py takes GAME[,AGENT[,TORSO]], got {arg!r}')
  game, agent, torso = (parts + ['', ''])[:3]
  c = config_lib.default_config()
  c.agent = agent or 'stac'
  c.env.kind, c.env.name = 'atari', game
  c.env.options.noop_max = 30
  c.env.options.max_episode_frames = 108_000
  c.env.options.repeat_action_probability = 0.0  # 0.25 for sticky actions
  # True: a lost life ends the episode for learning only (discount 0, frame
  # stack restarted); scores and `evaluate` still count whole games.
  c.env.options.terminal_on_life_loss = False
  # Actors step their envs in one ale_py AtariVectorEnv (C++ threads; the same
  # frames as the per-game Python adapter, vector=False). num_threads 0: as
  # many as the envs, at most the CPUs this process may use.
  c.env.options.vector = True
  c.env.options.num_threads = 0
  c.network.torso = torso or 'resnet'
  if c.network.torso not in ('resnet', 'nature'):
    raise ValueError(f"configs/atari.py: torso must be 'resnet' or 'nature', got {torso!r}")
  # The rest is default_config(), which is the paper's Atari setting:
  # IMPALA ResNet, feed-forward (network.lstm_size=256 for the LSTM variant),
  # RMSProp lr 6e-4 decay 0.99 eps 0.01 on summed losses, clip 40, B 32, T 20.
  c.algo.reward_clip = 1.0
  c.learner.total_frames = 200_000_000
  c.actor.num_actors = 2
  c.actor.env_batch_size = 8
  return c
