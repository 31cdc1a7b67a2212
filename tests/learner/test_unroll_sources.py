"""seed_stac.learner.unroll_sources: batch assembly against a brute-force
stack, the FIFO, the replay store's ring and memory bound, and the replay's
mix of fresh and stored unrolls."""

import threading

import numpy as np
import pytest

from seed_stac.learner.unroll_sources import (FifoSource, ReplaySource, UnrollStore,
                                              make_unroll_source, stack_unrolls)
from seed_stac.types import STEP_FIELDS, Unroll

T1 = 4  # T + 1 rows
SHAPES = dict(observation=((2, 5, 5, 1), np.uint8),
              prev_action=((), np.int32),
              reward=((), np.float32),
              first=((), bool),
              terminated=((), bool),
              truncated=((), bool),
              action=((), np.int32),
              behaviour_log_prob=((), np.float32))


def _unroll(rng, tag: int, core_size: int = 6) -> Unroll:
  """One unroll whose reward row 0 and core state carry `tag`."""
  assert set(SHAPES) == set(STEP_FIELDS)
  fields = {
      k: rng.integers(0, 100, (T1,) + shape).astype(dtype) for k, (shape, dtype) in SHAPES.items()
  }
  fields['reward'][0] = tag
  core = (np.full(core_size, tag, np.float32),) if core_size else ()
  return Unroll(**fields, core_state=core)


def _tags(batch) -> list:
  return batch.unroll.reward[0].astype(int).tolist()


def test_stack_unrolls_matches_a_brute_force_time_major_stack():
  rng = np.random.default_rng(0)
  fresh = [_unroll(rng, b) for b in range(3)]
  stored_list = [_unroll(rng, 10 + b) for b in range(2)]
  stored = Unroll(*(np.stack([u[i] for u in stored_list]) for i in range(len(STEP_FIELDS))),
                  core_state=(np.stack([u.core_state[0] for u in stored_list]),))
  batch = stack_unrolls(fresh, stored)
  columns = fresh + stored_list
  for i, name in enumerate(STEP_FIELDS):
    expected = np.array([[columns[b][i][t] for b in range(5)] for t in range(T1)])
    assert batch[i].dtype == expected.dtype, name
    np.testing.assert_array_equal(batch[i], expected, err_msg=name)
  np.testing.assert_array_equal(batch.core_state[0][:, 0], [0, 1, 2, 10, 11])


def test_stacked_batch_does_not_alias_its_inputs():
  rng = np.random.default_rng(1)
  fresh = [_unroll(rng, b) for b in range(3)]
  batch = stack_unrolls(fresh)
  before = batch.observation.copy()
  for unroll in fresh:
    unroll.observation[...] = 255
  np.testing.assert_array_equal(batch.observation, before)


def test_fifo_keeps_arrival_order_refuses_when_full_and_stops():
  rng = np.random.default_rng(2)
  source = FifoSource(batch_size=2, capacity=3)
  assert all(source.try_put(_unroll(rng, tag)) for tag in range(3))
  assert not source.try_put(_unroll(rng, 3))
  batch = source.next_batch(threading.Event())
  assert _tags(batch) == [0, 1]
  assert batch.replayed is None  # no replay
  assert source.stats() == {'unroll_queue_depth': 1.0}
  stop = threading.Event()
  stop.set()
  assert source.next_batch(stop) is None  # one unroll waiting, two needed


def test_fifo_refuses_a_capacity_below_the_batch():
  with pytest.raises(ValueError, match=r'capacity \(2\) must be >= the batch size \(4\)'):
    FifoSource(batch_size=4, capacity=2)


def test_store_overwrites_the_oldest_and_its_memory_is_fixed():
  rng = np.random.default_rng(3)
  store = UnrollStore(capacity=3)
  assert store.nbytes == 0
  one = _unroll(rng, 0)
  per_unroll = sum(x.nbytes for x in one[:-1]) + one.core_state[0].nbytes
  for tag in range(7):
    store.add(_unroll(rng, tag))
    assert store.nbytes == 3 * per_unroll
  assert store.size == 3
  got = store.gather(np.arange(3))
  assert sorted(got.reward[:, 0].astype(int)) == [4, 5, 6]
  got.reward[...] = -1  # a copy: the store keeps its own
  assert sorted(store.gather(np.arange(3)).reward[:, 0].astype(int)) == [4, 5, 6]


def test_replay_mixes_fresh_and_past_unrolls_at_a_fixed_ratio():
  rng = np.random.default_rng(4)
  source = ReplaySource(batch_size=4, capacity=64, replay_capacity=8, replay_fraction=0.5, seed=0)
  assert source.num_replayed == 2
  tag, stop, seen = 0, threading.Event(), []
  for step in range(12):
    while source.try_put(_unroll(rng, tag)):
      tag += 1
    batch = source.next_batch(stop)
    tags, replayed = _tags(batch), batch.replayed
    fresh = [t for t, r in zip(tags, replayed) if not r]
    if step == 0:  # the store is still empty: all fresh
      assert not replayed.any() and fresh == [0, 1, 2, 3]
    else:
      assert replayed.tolist() == [False, False, True, True]
      assert fresh == list(range(seen[-1] + 1, seen[-1] + 3))  # the FIFO's next two
      # replayed: from the last 8 fresh unrolls before this batch
      assert all(t in seen[-8:] for t, r in zip(tags, replayed) if r)
      np.testing.assert_array_equal(batch.unroll.core_state[0][:, 0], tags)
    seen.extend(fresh)
  stats = source.stats()
  assert stats['replay_size'] == 8 and stats['replayed_fraction'] == 0.5
  assert stats['replay_bytes'] > 0


@pytest.mark.parametrize('fraction, capacity, message', [
    (1.0, 8, r'must be in \(0, 1\)'),
    (0.05, 8, 'leaves 0 replayed unrolls'),
    (0.5, 1, r'replay capacity \(1 unrolls\) must hold at least the 2'),
])
def test_replay_refuses_settings_it_cannot_honour(fraction, capacity, message):
  with pytest.raises(ValueError, match=message):
    ReplaySource(batch_size=4, capacity=8, replay_capacity=capacity, replay_fraction=fraction)


def test_make_unroll_source_picks_the_fifo_without_replay():
  assert type(make_unroll_source(4, 8)) is FifoSource  # pylint: disable=unidiomatic-typecheck
  assert isinstance(make_unroll_source(4, 8, 0.25, 16), ReplaySource)


def test_feed_forward_unrolls_have_no_core_state():
  rng = np.random.default_rng(5)
  source = ReplaySource(batch_size=2, capacity=8, replay_capacity=4, replay_fraction=0.5)
  for tag in range(4):
    source.try_put(_unroll(rng, tag, core_size=0))
  source.next_batch(threading.Event())
  batch = source.next_batch(threading.Event())
  assert batch.unroll.core_state == () and batch.replayed.tolist() == [False, True]
