"""Atari (ALE) with the IMPALA deep network and the paper's settings, or the
Nature DQN CNN with the setting measured to learn Breakout in 2M frames.

Usage: --config=configs/atari.py:Pong  or  --config=configs/atari.py:Breakout,stacx
or --config=configs/atari.py:Breakout,impala,nature
(game name, then in either order and both optional the agent
'impala|stac|stacx' (default stac) and the torso 'resnet' (the IMPALA deep
network, default) or 'nature'; so `benchmarks.learning --config=atari:Breakout,nature`
can append the agent).
"""

from seed_stac import config as config_lib

TORSOS = ('resnet', 'nature')


def _agent_and_torso(arg):
  game, *rest = arg.split(',')
  agents = [p for p in rest if p in config_lib.AGENTS]
  torsos = [p for p in rest if p in TORSOS]
  unknown = [p for p in rest if p not in agents + torsos]
  if unknown or len(agents) > 1 or len(torsos) > 1 or not game:
    raise ValueError(
        f'configs/atari.py takes GAME[,AGENT][,TORSO] with AGENT one of {config_lib.AGENTS} '
        f'and TORSO one of {TORSOS}, got {arg!r}')
  return game, (agents or ['stac'])[0], (torsos or ['resnet'])[0]


def get_config(arg='Pong'):
  game, agent, torso = _agent_and_torso(arg)
  c = config_lib.default_config()
  c.agent = agent
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
  c.network.torso = torso
  if torso == 'nature':
    # IMPALA's RMSProp (epsilon 0.01 inside the root) is epsilon-dominated for
    # this network: on random-play Breakout frames the median step is 1% of
    # the learning rate at batch 8 (3% at 32), and 2M frames did not move the
    # policy from uniform. Adam on mean losses reached a return of 11.6
    # (README, "Atari Breakout").
    c.optimizer.name = 'adam'
    c.algo.loss_reduction = 'mean'
    c.learner.batch_size = 8
  # The rest is default_config(), which is the paper's Atari setting:
  # IMPALA ResNet, feed-forward (network.lstm_size=256 for the LSTM variant),
  # RMSProp lr 6e-4 decay 0.99 eps 0.01 on summed losses, clip 40, B 32, T 20.
  c.algo.reward_clip = 1.0
  c.learner.total_frames = 200_000_000
  c.optimizer.decay_frames = 200_000_000  # the paper's schedule, also in shorter trials
  c.actor.num_actors = 2
  # 32 envs per actor amortise the actor-learner round trip: 1.4x the
  # frames/s of 8 on a 2-core CPU machine, with the same Breakout return at
  # 2M frames (README, "Atari Breakout").
  c.actor.env_batch_size = 32
  # One actor's step is one full inference batch: no row waits for another
  # actor's, none is padding (1.1-1.4x the training frames/s of 64 with 2
  # actors on 2 cores). With many actors on an accelerator, raise it.
  c.learner.inference_batch_size = 32
  return c
