"""benchmarks.sync_loop: unrolls follow the learner's convention."""

import numpy as np

from benchmarks.sync_loop import SyncLoop
from configs import atari, catch


def test_unrolls_chain_and_carry_each_transition_once():
  config = catch.get_config('impala')
  config.learner.update(batch_size=3, unroll_length=5)
  loop = SyncLoop(config)
  first, second = loop.unroll(), loop.unroll()
  assert first.observation.shape[:2] == (6, 3)
  for field in ('observation', 'action', 'behaviour_log_prob', 'first', 'reward'):
    np.testing.assert_array_equal(getattr(first, field)[-1], getattr(second, field)[0])
  assert loop.frames == 10 * 3  # 2 x T transitions per environment, none repeated
  observations = np.concatenate([first.observation, second.observation[1:]])
  first_flags = np.concatenate([first.first, second.first[1:]])
  ended = np.concatenate(
      [first.terminated | first.truncated, second.terminated[1:] | second.truncated[1:]])
  np.testing.assert_array_equal(first_flags[1:], ended[1:])
  # Within an episode Catch's ball falls one row per step: no observation repeats.
  same = np.all(observations[1:] == observations[:-1], axis=tuple(range(2, observations.ndim)))
  assert not same.any()
  # Catch pays +-1 on the step that ends an episode and 0 otherwise.
  rewards = np.concatenate([first.reward, second.reward[1:]])
  np.testing.assert_array_equal(np.abs(rewards[1:]) == 1, ended[1:])
  stats = loop.agent.updater.step(second)
  assert int(stats['learner_steps']) == 1


def test_atari_observations_are_frame_stacks_as_the_learner_keeps_them():
  config = atari.get_config('Breakout,impala,nature')
  config.env.options.vector = False
  config.env.options.terminal_on_life_loss = True
  config.learner.update(batch_size=2, unroll_length=40)
  loop = SyncLoop(config)
  unroll = loop.unroll()
  frames = unroll.observation.numpy()  # [T + 1, B, 4, 84, 84, 1]
  first = unroll.first.numpy()
  assert frames.shape[:3] == (41, 2, 4) and first[0].all()
  for t in range(frames.shape[0]):
    for b in range(2):
      if first[t, b]:  # a new episode: the stack is its first frame 4 times
        assert all((frames[t, b, i] == frames[t, b, -1]).all() for i in range(3))
      else:  # oldest frame dropped, newest appended
        np.testing.assert_array_equal(frames[t, b, :-1], frames[t - 1, b, 1:])
  assert not (frames[1:, :, -1] == frames[:-1, :, -1]).all()
