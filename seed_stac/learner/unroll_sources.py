"""Where the trainer's batches come from: the seam between the actor hub and
the trainer (docs/architecture.md#the-unroll-source).

The actor hub offers each finished unroll (`types.Unroll`, fields
`[T + 1, ...]`) with `try_put`; the trainer draws `Batch`es (fields
`[T + 1, B, ...]`) with `next_batch`. Two sources implement the interface:

- `FifoSource`: each unroll is trained on once, in arrival order (IMPALA,
  SEED RL's queue).
- `ReplaySource`: each batch takes `B - R` fresh unrolls from the same FIFO
  and `R = round(B * replay_fraction)` unrolls drawn uniformly (with
  replacement) from a bounded store of past fresh unrolls, the mix of IMPALA's
  replay and LASER (Schmitt et al. 2020). While the store holds fewer than R
  unrolls, batches are all fresh. The store keeps copies in arrays allocated
  once, so its memory is bounded and known (`stats()['replay_bytes']`). It is
  not checkpointed: a resumed learner starts with an empty store, as SEED
  RL's R2D2 does.

Back-pressure is the FIFO's: with R replayed unrolls per batch, a learner
step consumes B - R fresh ones, so the number of learner steps per
environment frame is fixed by the config, not by the machine's speed.
"""

import queue
import threading
from typing import Dict, List, NamedTuple, Optional, Protocol, Sequence

import numpy as np

from seed_stac.types import STEP_FIELDS, Unroll


class Batch(NamedTuple):
  """unroll: numpy fields [T + 1, B, ...], core_state [B, ...] arrays.
  replayed: [B] bool, True for the unrolls drawn from the replay store; None
  from a source without replay."""
  unroll: Unroll
  replayed: Optional[np.ndarray]


class UnrollSource(Protocol):
  """What the hub puts finished unrolls into and the trainer draws from."""

  def try_put(self, unroll: Unroll) -> bool:
    """Takes one unroll ([T + 1, ...] fields); False when full (the caller
    retries later). Called from the learner's asyncio thread."""
    ...

  def next_batch(self, stop: threading.Event) -> Optional[Batch]:
    """Blocks until a batch is ready; None once `stop` is set. Called from
    the trainer thread."""
    ...

  def stats(self) -> Dict[str, float]:
    """Scalars to log (queue depth; replay size, bytes, replayed fraction)."""
    ...


def stack_unrolls(unrolls: Sequence[Unroll], stored: Optional[Unroll] = None) -> Unroll:
  """B unrolls ([T + 1, ...] fields) -> one time-major Unroll [T + 1, B, ...];
  `stored` (fields [R, T + 1, ...], core [R, ...]) fills the last R columns.

  Each value is copied once, straight into its batch slot; the result shares
  no memory with its inputs.
  """
  parts = list(unrolls)
  num_stored = 0 if stored is None else len(stored.reward)
  batch_size = len(parts) + num_stored
  template = parts[0] if parts else Unroll(*(x[0] for x in stored[:-1]),
                                           core_state=tuple(s[0] for s in stored.core_state))
  fields = []
  for i in range(len(STEP_FIELDS)):
    out = np.empty((template[i].shape[0], batch_size) + template[i].shape[1:], template[i].dtype)
    for b, unroll in enumerate(parts):
      out[:, b] = unroll[i]
    if num_stored:
      out[:, len(parts):] = np.swapaxes(stored[i], 0, 1)
    fields.append(out)
  core = []
  for j in range(len(template.core_state)):
    pieces = [np.asarray(u.core_state[j])[None] for u in parts]
    if num_stored:
      pieces.append(stored.core_state[j])
    core.append(np.concatenate(pieces))
  return Unroll(*fields, core_state=tuple(core))


def replayed_per_batch(batch_size: int, replay_fraction: float) -> int:
  """R, the replayed unrolls in each batch of `batch_size`."""
  return int(round(batch_size * replay_fraction))


class FifoSource:
  """Every unroll once, in arrival order: batches of `batch_size`, at most
  `capacity` unrolls waiting."""

  def __init__(self, batch_size: int, capacity: int):
    if capacity < batch_size:
      raise ValueError(f'the unroll queue capacity ({capacity}) must be >= the batch size '
                       f'({batch_size})')
    self.batch_size = batch_size
    self._queue: 'queue.Queue[Unroll]' = queue.Queue(maxsize=capacity)

  def try_put(self, unroll: Unroll) -> bool:
    try:
      self._queue.put_nowait(unroll)
      return True
    except queue.Full:
      return False

  def _take(self, count: int, stop: threading.Event) -> Optional[List[Unroll]]:
    taken = []
    while len(taken) < count:
      try:
        taken.append(self._queue.get(timeout=0.1))
      except queue.Empty:
        if stop.is_set():
          return None
    return taken

  def next_batch(self, stop: threading.Event) -> Optional[Batch]:
    fresh = self._take(self.batch_size, stop)
    if fresh is None:
      return None
    return Batch(stack_unrolls(fresh), None)

  def stats(self) -> Dict[str, float]:
    return {'unroll_queue_depth': float(self._queue.qsize())}


class UnrollStore:
  """A ring of at most `capacity` unrolls in preallocated arrays
  [capacity, T + 1, ...] (allocated at the first `add`); the oldest is
  overwritten first."""

  def __init__(self, capacity: int):
    if capacity < 1:
      raise ValueError(f'the replay capacity must be >= 1 unroll, got {capacity}')
    self.capacity = capacity
    self._arrays: Optional[Unroll] = None
    self._next = 0
    self.size = 0

  def add(self, unroll: Unroll) -> None:
    if self._arrays is None:
      allocate = lambda x: np.empty((self.capacity,) + np.shape(x), np.asarray(x).dtype)
      self._arrays = Unroll(*(allocate(x) for x in unroll[:-1]),
                            core_state=tuple(allocate(s) for s in unroll.core_state))
    for stored, value in zip(self._arrays[:-1], unroll[:-1]):
      stored[self._next] = value
    for stored, value in zip(self._arrays.core_state, unroll.core_state):
      stored[self._next] = value
    self._next = (self._next + 1) % self.capacity
    self.size = min(self.size + 1, self.capacity)

  def gather(self, indices: np.ndarray) -> Unroll:
    """Copies of the unrolls at `indices` (each < size): fields [R, T + 1, ...]."""
    return Unroll(*(a[indices] for a in self._arrays[:-1]),
                  core_state=tuple(s[indices] for s in self._arrays.core_state))

  @property
  def nbytes(self) -> int:
    if self._arrays is None:
      return 0
    return sum(a.nbytes for a in self._arrays[:-1]) + sum(s.nbytes for s in self._arrays.core_state)


class ReplaySource(FifoSource):
  """Batches of `batch_size - R` fresh unrolls and R = round(batch_size *
  replay_fraction) sampled uniformly from the last `replay_capacity` fresh
  ones (module docstring)."""

  def __init__(self,
               batch_size: int,
               capacity: int,
               replay_capacity: int,
               replay_fraction: float,
               seed: int = 0):
    super().__init__(batch_size, capacity)
    if not 0.0 < replay_fraction < 1.0:
      raise ValueError(f'the replay fraction must be in (0, 1), got {replay_fraction}')
    self.num_replayed = replayed_per_batch(batch_size, replay_fraction)
    if not 0 < self.num_replayed < batch_size:
      raise ValueError(f'replay fraction {replay_fraction} of a batch of {batch_size} leaves '
                       f'{self.num_replayed} replayed unrolls; it must leave between 1 and '
                       f'{batch_size - 1}')
    if replay_capacity < self.num_replayed:
      raise ValueError(f'the replay capacity ({replay_capacity} unrolls) must hold at least the '
                       f'{self.num_replayed} replayed per batch')
    self._store = UnrollStore(replay_capacity)
    self._rng = np.random.default_rng(seed)
    self._last_replayed = 0

  def next_batch(self, stop: threading.Event) -> Optional[Batch]:
    replayed = self.num_replayed if self._store.size >= self.num_replayed else 0
    fresh = self._take(self.batch_size - replayed, stop)
    if fresh is None:
      return None
    stored = None
    if replayed:
      stored = self._store.gather(self._rng.integers(0, self._store.size, replayed))
    for unroll in fresh:
      self._store.add(unroll)
    self._last_replayed = replayed
    mask = np.arange(self.batch_size) >= self.batch_size - replayed
    return Batch(stack_unrolls(fresh, stored), mask)

  def stats(self) -> Dict[str, float]:
    return dict(super().stats(),
                replay_size=float(self._store.size),
                replay_bytes=float(self._store.nbytes),
                replayed_fraction=self._last_replayed / self.batch_size)


def make_unroll_source(batch_size: int,
                       queue_capacity: int,
                       replay_fraction: float = 0.0,
                       replay_capacity: int = 0,
                       seed: int = 0) -> UnrollSource:
  """A ReplaySource when replay_fraction > 0, else a FifoSource."""
  if replay_fraction > 0:
    return ReplaySource(batch_size, queue_capacity, replay_capacity, replay_fraction, seed)
  return FifoSource(batch_size, queue_capacity)
