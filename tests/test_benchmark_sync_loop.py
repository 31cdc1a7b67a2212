"""benchmarks.sync_loop: unrolls follow the learner's convention."""

import numpy as np

from benchmarks.sync_loop import SyncLoop
from configs import catch


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
  ended = np.concatenate([first.terminated | first.truncated,
                          second.terminated[1:] | second.truncated[1:]])
  np.testing.assert_array_equal(first_flags[1:], ended[1:])
  # Within an episode Catch's ball falls one row per step: no observation repeats.
  same = np.all(observations[1:] == observations[:-1], axis=tuple(range(2, observations.ndim)))
  assert not same.any()
  # Catch pays +-1 on the step that ends an episode and 0 otherwise.
  rewards = np.concatenate([first.reward, second.reward[1:]])
  np.testing.assert_array_equal(np.abs(rewards[1:]) == 1, ended[1:])
  stats = loop.agent.updater.step(second)
  assert int(stats['learner_steps']) == 1
