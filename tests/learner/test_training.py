"""seed_stac.learner.training: the trainer thread takes `passes` real learner
steps per batch of its unroll source and logs the source's statistics."""

import threading
import time

import numpy as np

from seed_stac.envs.base import ActionSpec
from seed_stac.learner.training import Trainer, to_tensors
from seed_stac.learner.unroll_sources import ReplaySource
from seed_stac.types import Unroll
from tests import helpers

SPEC = ActionSpec('discrete', num_actions=3)
T, B = 5, 4


def _columns(rng, count):
  """`count` single-env unrolls cut out of random [T + 1, count] unrolls."""
  batch = helpers.random_unroll(rng, T, count, (6,), SPEC)
  return [Unroll(*(np.asarray(x)[:, b] for x in batch[:-1]), core_state=()) for b in range(count)]


def _wait_for(condition, timeout_s=120.0):
  deadline = time.monotonic() + timeout_s
  while not condition():
    assert time.monotonic() < deadline, 'timed out'
    time.sleep(0.01)


def test_each_batch_is_trained_on_passes_times_with_replay_stats_logged():
  rng = np.random.default_rng(0)
  network = helpers.build_network(helpers.random_unroll(rng, T, B, (6,), SPEC), SPEC)
  updater = helpers.build_updater(network, tuned=(), optimizer='adam')
  source = ReplaySource(B, capacity=64, replay_capacity=16, replay_fraction=0.5)
  trainer = Trainer(updater, source, passes=3)
  for unroll in _columns(rng, 4 + 2 * 2):  # batches: 4 fresh, then 2 + 2 replayed twice
    assert source.try_put(unroll)
  trainer.start()
  _wait_for(lambda: trainer.error is not None or int(updater.num_steps.numpy()) >= 9)
  trainer.stop.set()
  trainer.join()
  assert trainer.error is None
  assert int(updater.num_steps.numpy()) == 9
  stats = trainer.latest_stats
  assert stats['learner_steps'] == 9.0 and stats['passes'] == 3.0
  assert stats['replayed_fraction'] == 0.5 and stats['replay_size'] == 8.0
  assert 0.0 < stats['trainer_busy_fraction'] <= 1.0
  # After two passes the policy has moved: ratios are no longer exactly 1.
  assert np.isfinite(stats['is_ratio/fresh_mean']) and np.isfinite(stats['is_ratio/replayed_mean'])


def test_to_tensors_keeps_dtypes_and_the_replayed_mask():
  rng = np.random.default_rng(1)
  source = ReplaySource(2, capacity=8, replay_capacity=4, replay_fraction=0.5)
  for unroll in _columns(rng, 3):
    source.try_put(unroll)
  source.next_batch(threading.Event())
  unroll, replayed = to_tensors(source.next_batch(threading.Event()))
  assert unroll.action.dtype.name == 'int32' and unroll.first.dtype.name == 'bool'
  assert unroll.observation.shape == (T + 1, 2, 6)
  np.testing.assert_array_equal(replayed.numpy(), [False, True])


def test_a_recurrent_agent_trains_on_replayed_unrolls_with_their_stored_core_states():
  rng = np.random.default_rng(2)
  batch = helpers.random_unroll(rng, T, 6, (6,), SPEC, lstm_size=4)
  network = helpers.build_network(batch, SPEC, lstm_size=4)
  updater = helpers.build_updater(network, optimizer='adam')  # STAC, every metaparameter
  source = ReplaySource(2, capacity=16, replay_capacity=8, replay_fraction=0.5)
  for b in range(6):
    source.try_put(
        Unroll(*(np.asarray(x)[:, b] for x in batch[:-1]),
               core_state=tuple(np.asarray(s)[b] for s in batch.core_state)))
  trainer = Trainer(updater, source, passes=2)
  trainer.start()
  # Batches: 2 fresh, then 1 fresh + 1 replayed four times; then the source waits for fresh data.
  _wait_for(lambda: trainer.error is not None or int(updater.num_steps.numpy()) >= 2 * 5)
  trainer.stop.set()
  trainer.join()
  assert trainer.error is None
  assert int(updater.num_steps.numpy()) == 2 * 5
  assert trainer.latest_stats['replayed_fraction'] == 0.5
  assert all(np.isfinite(v) for k, v in trainer.latest_stats.items() if 'replayed' not in k)
