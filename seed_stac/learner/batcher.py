"""Dynamic batching of inference requests from many actor streams (asyncio).

Each actor stream submits its E rows and awaits its actions. The batcher packs
rows from concurrent submissions into one fixed-size batch of exactly
`inference_batch_size` rows (zero padding), so a compiled TF function sees one
input signature and never retraces. A batch runs as soon as it is full, or
`batch_timeout_ms` after its oldest pending row arrived, so a slow or dead
actor never stalls the others. Submissions larger than a batch, or that do
not fit in the current one, are split across batches.

Inference runs in a single worker thread, one batch at a time, so the event
loop keeps serving streams while the model computes.

Inputs and outputs are nests of arrays (`tf.nest`: dicts, tuples, named
tuples), e.g. {'observation': ..., 'core': (c, h)} with the recurrent state
as a tuple; rows are batched leaf by leaf.
"""

import asyncio
import collections
import concurrent.futures
import dataclasses
import time
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import tensorflow as tf

Arrays = Dict[str, np.ndarray]  # flattened: leaf path ('core/0') -> array
Nest = Any  # a tf.nest structure whose leaves are [n, ...] arrays


@dataclasses.dataclass
class BatcherStats:
  batches_run: int = 0
  rows_run: int = 0  # Real (non-padding) rows.
  timeout_flushes: int = 0  # Batches run before they were full.
  batch_size: int = 1

  @property
  def mean_fill(self) -> float:
    """Mean fraction of real rows per batch, in [0, 1]."""
    return self.rows_run / max(1, self.batches_run * self.batch_size)


class _Request:
  """One submit() call: its inputs, and result parts as batches complete."""

  def __init__(self, inputs: Arrays, rows: int, future: asyncio.Future):
    self.inputs = inputs
    self.rows = rows
    self.future = future
    self.arrival = time.monotonic()
    self.next_row = 0  # First row not yet placed in a batch.
    self.parts: List[Arrays] = []  # Outputs for rows [0, rows_done).
    self.rows_done = 0


class InferenceBatcher:
  """Batches `submit()` calls into fixed-size calls of `infer_fn`.

  Args:
    infer_fn: nest of [inference_batch_size, ...] arrays -> nest of
      [inference_batch_size, ...] arrays (numpy, or anything np.asarray takes,
      e.g. eager tf.Tensors). Row i of the outputs must depend on row i of the
      inputs only. Called from a worker thread.
    inference_batch_size: rows per infer_fn call (B).
    batch_timeout_ms: longest a pending row waits for the batch to fill.
  """

  def __init__(self, infer_fn: Callable[[Nest], Nest], inference_batch_size: int,
               batch_timeout_ms: float):
    if inference_batch_size < 1:
      raise ValueError('inference_batch_size must be >= 1')
    if batch_timeout_ms < 0:
      raise ValueError('batch_timeout_ms must be >= 0')
    self._infer_fn = infer_fn
    self._batch_size = inference_batch_size
    self._timeout_s = batch_timeout_ms / 1000
    self._pending: collections.deque = collections.deque()
    self._pending_rows = 0
    self._wakeup: Optional[asyncio.Event] = None
    self._task: Optional[asyncio.Task] = None
    self._signature = None  # {leaf: (trailing shape, dtype)} of the 1st submit.
    self._structure = None  # the 1st submission's nest (leaves: None)
    self._output_structure = None
    self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1,
                                                           thread_name_prefix='inference')
    self._stats = BatcherStats(batch_size=inference_batch_size)
    self._closed = False

  @property
  def stats(self) -> BatcherStats:
    return dataclasses.replace(self._stats)

  async def submit(self, inputs: Nest) -> Nest:
    """Runs inference on `inputs` (leaves [n, ...]); returns outputs [n, ...].

    Raises ValueError if the inputs are inconsistent (with each other or with
    earlier submissions), and whatever infer_fn raised for a batch holding
    any of these rows.
    """
    if self._closed:
      raise RuntimeError('InferenceBatcher is closed')
    arrays, rows = self._check(inputs)
    self._ensure_running()
    request = _Request(arrays, rows, asyncio.get_running_loop().create_future())
    self._pending.append(request)
    self._pending_rows += rows
    self._wakeup.set()
    try:
      outputs = await request.future
      return tf.nest.pack_sequence_as(self._output_structure, _unflatten(outputs))
    finally:
      if not request.future.done():  # Caller cancelled: free its rows.
        request.future.cancel()

  def _check(self, inputs: Nest):
    """Validates inputs; returns (flattened numpy leaves, row count n)."""
    if not tf.nest.flatten(inputs):
      raise ValueError('inputs must be a non-empty nest of arrays')
    if self._structure is None:
      self._structure = tf.nest.map_structure(lambda _: None, inputs)
    else:
      try:
        tf.nest.assert_same_structure(inputs, self._structure)
      except (ValueError, TypeError) as e:
        raise ValueError(f'inputs do not have the structure of the first submission: '
                         f'{e}') from e
    arrays = _flatten(inputs)
    if any(a.ndim == 0 for a in arrays.values()):
      raise ValueError('every input needs a leading batch dimension')
    counts = {a.shape[0] for a in arrays.values()}
    if len(counts) != 1:
      raise ValueError(f'inputs have different leading dimensions: {counts}')
    rows = counts.pop()
    if rows == 0:
      raise ValueError('inputs have no rows')
    signature = {k: (a.shape[1:], a.dtype) for k, a in arrays.items()}
    if self._signature is None:
      self._signature = signature
    elif signature != self._signature:
      raise ValueError(f'inputs {signature} do not match the first '
                       f'submission {self._signature}')
    return arrays, rows

  def _ensure_running(self):
    if self._task is None:
      self._wakeup = asyncio.Event()
      self._task = asyncio.get_running_loop().create_task(self._run())

  async def _run(self):
    loop = asyncio.get_running_loop()
    while True:
      await self._wait_for_batch()
      requests, batch = self._take_batch()
      if not requests:
        continue  # Everything pending was cancelled.
      try:
        outputs = await loop.run_in_executor(self._executor, self._infer, batch)
      except Exception as e:  # pylint: disable=broad-except
        for request, _, _ in requests:
          if not request.future.done():
            request.future.set_exception(e)
        continue
      self._deliver(requests, outputs)

  async def _wait_for_batch(self):
    """Returns when a full batch is pending, or the oldest row timed out."""
    while True:
      self._drop_cancelled()
      if self._pending_rows >= self._batch_size:
        return
      self._wakeup.clear()
      if not self._pending:
        await self._wakeup.wait()
        continue
      remaining = self._pending[0].arrival + self._timeout_s - time.monotonic()
      if remaining <= 0:
        self._stats.timeout_flushes += 1
        return
      try:
        await asyncio.wait_for(self._wakeup.wait(), remaining)
      except asyncio.TimeoutError:
        pass

  def _drop_cancelled(self):
    while self._pending and self._pending[0].future.done():
      request = self._pending.popleft()
      self._pending_rows -= request.rows - request.next_row

  def _take_batch(self):
    """Pops up to B pending rows; returns ([(request, start, stop)], batch)."""
    self._drop_cancelled()
    taken, filled = [], 0
    while self._pending and filled < self._batch_size:
      request = self._pending[0]
      if request.future.done():
        self._drop_cancelled()
        continue
      start = request.next_row
      stop = min(request.rows, start + self._batch_size - filled)
      taken.append((request, start, stop))
      request.next_row = stop
      filled += stop - start
      self._pending_rows -= stop - start
      if stop == request.rows:
        self._pending.popleft()
    return taken, self._assemble(taken, filled)

  def _assemble(self, taken, filled) -> Arrays:
    """Concatenates the taken rows and zero-pads to B rows."""
    if not taken:
      return {}
    batch = {}
    for key, (shape, dtype) in self._signature.items():
      array = np.empty((self._batch_size,) + shape, dtype)
      offset = 0
      for request, start, stop in taken:
        array[offset:offset + stop - start] = request.inputs[key][start:stop]
        offset += stop - start
      array[filled:] = 0
      batch[key] = array
    self._stats.batches_run += 1
    self._stats.rows_run += filled
    return batch

  def _infer(self, batch: Arrays) -> Arrays:
    """Worker thread: runs infer_fn and checks the output batch size."""
    nest = self._infer_fn(tf.nest.pack_sequence_as(self._structure, _unflatten(batch)))
    if self._output_structure is None:  # fixed by the model: derive it once
      self._output_structure = tf.nest.map_structure(lambda _: None, nest)
    outputs = _flatten(nest)
    for key, value in outputs.items():
      if value.ndim == 0 or value.shape[0] != self._batch_size:
        raise ValueError(f'infer_fn output {key!r} has shape {value.shape}, '
                         f'expected leading dimension {self._batch_size}')
    return outputs

  def _deliver(self, requests, outputs: Arrays):
    offset = 0
    for request, start, stop in requests:
      count = stop - start
      request.parts.append({k: v[offset:offset + count] for k, v in outputs.items()})
      offset += count
      request.rows_done += count
      if request.rows_done == request.rows and not request.future.done():
        request.future.set_result(_concat(request.parts))

  async def close(self):
    """Stops batching; pending and later submits fail with RuntimeError."""
    self._closed = True
    if self._task is not None:
      self._task.cancel()
      try:
        await self._task
      except asyncio.CancelledError:
        pass
    for request in self._pending:
      if not request.future.done():
        request.future.set_exception(RuntimeError('InferenceBatcher closed'))
    self._pending.clear()
    self._pending_rows = 0
    self._executor.shutdown(wait=True)


def _paths(nest: Nest, prefix: str = ''):
  """Leaf paths in tf.nest.flatten's order (dict keys sorted)."""
  if isinstance(nest, dict):
    for key in sorted(nest):
      yield from _paths(nest[key], f'{prefix}{key}/')
  elif isinstance(nest, (list, tuple)):
    fields = getattr(nest, '_fields', None)
    for i, value in enumerate(nest):
      yield from _paths(value, f'{prefix}{fields[i] if fields else i}/')
  else:
    yield prefix[:-1]


def _flatten(nest: Nest) -> Arrays:
  """{leaf path: numpy array}, in tf.nest.flatten's order."""
  return {path: np.asarray(leaf) for path, leaf in zip(_paths(nest), tf.nest.flatten(nest))}


def _unflatten(arrays: Arrays) -> list:
  return list(arrays.values())


def _concat(parts: List[Arrays]) -> Arrays:
  if len(parts) == 1:
    return parts[0]  # Common case: a view of the batch output, no copy.
  return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
