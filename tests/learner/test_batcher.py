"""Tests for seed_stac.learner.batcher.InferenceBatcher."""

import asyncio
import threading
import time

import numpy as np
import pytest

from seed_stac.learner.batcher import InferenceBatcher

B = 8


class RecordingInfer:
  """infer_fn: y = 2x + 1 row-wise, id passed through; records batch shapes."""

  def __init__(self, delay_s=0.0, fail_on_call=None):
    self.calls = []
    self.delay_s = delay_s
    self.fail_on_call = fail_on_call
    self.active = 0
    self.max_active = 0
    self.threads = set()
    self._lock = threading.Lock()

  def __call__(self, batch):
    with self._lock:
      self.active += 1
      self.max_active = max(self.max_active, self.active)
    try:
      self.threads.add(threading.get_ident())
      self.calls.append({k: v.copy() for k, v in batch.items()})
      time.sleep(self.delay_s)
      if self.fail_on_call == len(self.calls):
        raise RuntimeError('model exploded')
      return {'y': batch['x'] * 2 + 1, 'id': batch['id']}
    finally:
      with self._lock:
        self.active -= 1


def run(coro):
  return asyncio.run(asyncio.wait_for(coro, 20))


def make_inputs(rng, first_id, n):
  return {
      'x': rng.standard_normal((n, 3)).astype(np.float32),
      'id': np.arange(first_id, first_id + n, dtype=np.int32)
  }


def test_concurrent_submissions_get_their_own_rows():
  rng = np.random.default_rng(0)
  infer = RecordingInfer(delay_s=0.002)

  async def main():
    batcher = InferenceBatcher(infer, B, batch_timeout_ms=5)
    sizes = rng.integers(1, 2 * B + 3, size=40)
    inputs = [make_inputs(rng, 1000 * i, n) for i, n in enumerate(sizes)]

    async def one(i):
      await asyncio.sleep(float(rng.uniform(0, 0.01)))
      return await batcher.submit(inputs[i])

    outputs = await asyncio.gather(*(one(i) for i in range(len(sizes))))
    for inp, out in zip(inputs, outputs):
      np.testing.assert_array_equal(out['id'], inp['id'])
      np.testing.assert_allclose(out['y'], inp['x'] * 2 + 1)
    stats = batcher.stats
    await batcher.close()
    return sizes, stats

  sizes, stats = run(main())
  assert all(c['x'].shape == (B, 3) and c['id'].shape == (B,)
             for c in infer.calls), 'every call must have exactly B rows'
  assert infer.max_active == 1, 'inference must run one batch at a time'
  assert threading.get_ident() not in infer.threads
  assert stats.batches_run == len(infer.calls)
  assert stats.rows_run == sizes.sum()
  assert stats.mean_fill == pytest.approx(sizes.sum() / (B * len(infer.calls)))
  # Splitting across batches means nearly every batch is full.
  assert len(infer.calls) <= sizes.sum() // B + 10


def test_full_batch_runs_without_waiting_for_timeout():
  infer = RecordingInfer()

  async def main():
    batcher = InferenceBatcher(infer, B, batch_timeout_ms=10_000)
    rng = np.random.default_rng(1)
    start = time.monotonic()
    await asyncio.gather(*(batcher.submit(make_inputs(rng, 10 * i, 2)) for i in range(4)))
    elapsed = time.monotonic() - start
    await batcher.close()
    return elapsed

  assert run(main()) < 1.0
  assert len(infer.calls) == 1
  np.testing.assert_array_equal(infer.calls[0]['id'], [0, 1, 10, 11, 20, 21, 30, 31])


def test_partial_batch_is_padded_and_flushed_after_timeout():
  infer = RecordingInfer()

  async def main():
    batcher = InferenceBatcher(infer, B, batch_timeout_ms=50)
    rng = np.random.default_rng(2)
    inputs = make_inputs(rng, 7, 3)
    start = time.monotonic()
    out = await batcher.submit(inputs)
    elapsed = time.monotonic() - start
    stats = batcher.stats
    await batcher.close()
    return inputs, out, elapsed, stats

  inputs, out, elapsed, stats = run(main())
  assert 0.045 <= elapsed < 2.0
  assert out['y'].shape == (3, 3)
  np.testing.assert_array_equal(out['id'], inputs['id'])
  (call,) = infer.calls
  assert call['x'].shape == (B, 3)
  np.testing.assert_array_equal(call['x'][3:], 0)
  np.testing.assert_array_equal(call['id'][:3], inputs['id'])
  assert stats.timeout_flushes == 1
  assert stats.mean_fill == pytest.approx(3 / B)


def test_dead_caller_does_not_stall_others():
  """A stream that never completes its batch must not block the rest."""
  infer = RecordingInfer()

  async def main():
    batcher = InferenceBatcher(infer, B, batch_timeout_ms=20)
    rng = np.random.default_rng(3)
    # Three rounds from one live actor while others stay silent.
    for round_ in range(3):
      out = await batcher.submit(make_inputs(rng, round_, 1))
      assert out['id'][0] == round_
    await batcher.close()

  run(main())
  assert len(infer.calls) == 3


def test_oversize_request_is_split_across_calls():
  infer = RecordingInfer()

  async def main():
    batcher = InferenceBatcher(infer, B, batch_timeout_ms=5)
    rng = np.random.default_rng(4)
    inputs = make_inputs(rng, 0, 2 * B + 3)
    out = await batcher.submit(inputs)
    await batcher.close()
    return inputs, out

  inputs, out = run(main())
  np.testing.assert_array_equal(out['id'], inputs['id'])
  np.testing.assert_allclose(out['y'], inputs['x'] * 2 + 1)
  assert [c['x'].shape[0] for c in infer.calls] == [B, B, B]
  np.testing.assert_array_equal(infer.calls[2]['id'][3:], 0)


def test_error_reaches_only_callers_of_that_batch():
  infer = RecordingInfer(fail_on_call=1)

  async def main():
    batcher = InferenceBatcher(infer, B, batch_timeout_ms=100)
    rng = np.random.default_rng(5)
    # Batch 1: a (5 rows) + the first 3 rows of b. b has failed by then, so
    # batch 2 holds only c (flushed by the timeout).
    a = batcher.submit(make_inputs(rng, 0, 5))
    b = batcher.submit(make_inputs(rng, 100, 6))
    c = batcher.submit(make_inputs(rng, 200, 5))
    results = await asyncio.gather(a, b, c, return_exceptions=True)
    # The batcher keeps working after a failure.
    d = await asyncio.wait_for(batcher.submit(make_inputs(rng, 300, B)), 5)
    await batcher.close()
    return results, d

  (ra, rb, rc), rd = run(main())
  assert isinstance(ra, RuntimeError) and 'model exploded' in str(ra)
  assert isinstance(rb, RuntimeError)
  # c's rows were in the second call only; b's leftovers were dropped.
  np.testing.assert_array_equal(rc['id'], np.arange(200, 205))
  np.testing.assert_array_equal(rd['id'], np.arange(300, 300 + B))
  np.testing.assert_array_equal(infer.calls[1]['id'][:5], np.arange(200, 205))


def test_wrong_output_batch_size_is_an_error():

  async def main():
    batcher = InferenceBatcher(lambda b: {'y': b['x'][:1]}, B, 1)
    with pytest.raises(ValueError, match='leading dimension 8'):
      await batcher.submit({'x': np.zeros((2, 3), np.float32)})
    await batcher.close()

  run(main())


def test_inconsistent_inputs_are_rejected():

  async def main():
    batcher = InferenceBatcher(RecordingInfer(), B, 1)
    with pytest.raises(ValueError, match='different leading'):
      await batcher.submit({'x': np.zeros((2, 3), np.float32), 'id': np.zeros((3,), np.int32)})
    await batcher.submit({'x': np.zeros((2, 3), np.float32), 'id': np.zeros((2,), np.int32)})
    with pytest.raises(ValueError, match='do not match'):
      await batcher.submit({'x': np.zeros((2, 4), np.float32), 'id': np.zeros((2,), np.int32)})
    with pytest.raises(ValueError, match='no rows'):
      await batcher.submit({'x': np.zeros((0, 3), np.float32), 'id': np.zeros((0,), np.int32)})
    await batcher.close()

  run(main())


def test_cancelled_submission_is_not_inferred():
  infer = RecordingInfer()

  async def main():
    batcher = InferenceBatcher(infer, B, batch_timeout_ms=30)
    rng = np.random.default_rng(6)
    doomed = asyncio.ensure_future(batcher.submit(make_inputs(rng, 0, 3)))
    await asyncio.sleep(0)
    doomed.cancel()
    out = await batcher.submit(make_inputs(rng, 50, 2))
    await batcher.close()
    return out

  out = run(main())
  np.testing.assert_array_equal(out['id'], [50, 51])
  np.testing.assert_array_equal(infer.calls[0]['id'][:2], [50, 51])
  np.testing.assert_array_equal(infer.calls[0]['id'][2:], 0)


def test_close_fails_pending_and_later_submissions():

  async def main():
    batcher = InferenceBatcher(RecordingInfer(), B, batch_timeout_ms=10_000)
    pending = asyncio.ensure_future(batcher.submit({'x': np.zeros((1, 3), np.float32)}))
    await asyncio.sleep(0.01)
    await batcher.close()
    with pytest.raises(RuntimeError, match='closed'):
      await pending
    with pytest.raises(RuntimeError, match='closed'):
      await batcher.submit({'x': np.zeros((1, 3), np.float32)})

  run(main())


def test_the_logged_inference_load_is_per_interval():
  """run.InferenceLoad: fill and timeout flushes since its last call."""
  from seed_stac.learner.run import InferenceLoad

  async def main():
    batcher = InferenceBatcher(RecordingInfer(), B, batch_timeout_ms=20)
    load = InferenceLoad(batcher)
    assert np.isnan(load()['inference_batch_fill'])  # nothing ran yet
    rng = np.random.default_rng(1)
    await batcher.submit(make_inputs(rng, 0, B))  # one full batch
    full = load()
    await batcher.submit(make_inputs(rng, 100, 2))  # a quarter, flushed at the timeout
    quarter = load()
    await batcher.close()
    return full, quarter

  full, quarter = run(main())
  assert full == {'inference_batch_fill': 1.0, 'inference_timeout_fraction': 0.0}
  assert quarter == {'inference_batch_fill': 0.25, 'inference_timeout_fraction': 1.0}
