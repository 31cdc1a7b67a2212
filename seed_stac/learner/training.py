"""The training thread: batches of unrolls -> the STAC/STACX/IMPALA step."""

import queue
import threading
import time
from typing import Dict, Optional

import numpy as np
import tensorflow as tf

from seed_stac.algo.update import StacUpdater, Unroll
from seed_stac.learner.env_state import STEP_FIELDS


def stack_columns(columns) -> Unroll:
  """B columns (each field T + 1 rows [...], core [...]) -> time-major Unroll
  [T + 1, B, ...]: each row is copied once, straight into its batch slot."""
  fields = {k: tf.constant(_time_major([c[0][k] for c in columns])) for k in STEP_FIELDS}
  core = tuple(tf.constant(np.stack(parts)) for parts in zip(*(c[1] for c in columns)))
  return Unroll(**fields, core_state=core)


def _time_major(columns) -> np.ndarray:
  """B sequences of T + 1 rows -> one [T + 1, B, ...] array."""
  first = np.asarray(columns[0][0])
  out = np.empty((len(columns[0]), len(columns)) + first.shape, first.dtype)
  for b, rows in enumerate(columns):
    np.stack(rows, out=out[:, b])
  return out


class Trainer(threading.Thread):
  """Runs updater steps on batches from `unroll_queue` until `stop` is set."""

  def __init__(self, updater: StacUpdater, unroll_queue: queue.Queue, batch_size: int):
    super().__init__(name='trainer', daemon=True)
    self.updater = updater
    self.unroll_queue = unroll_queue
    self.batch_size = batch_size
    self.stop = threading.Event()
    self.latest_stats: Dict[str, float] = {}
    self.error: Optional[BaseException] = None
    self.busy_seconds = 0.0

  def _next_batch(self):
    columns = []
    while len(columns) < self.batch_size:
      try:
        columns.append(self.unroll_queue.get(timeout=0.1))
      except queue.Empty:
        if self.stop.is_set():
          return None
    return stack_columns(columns)

  def run(self):
    try:
      while not self.stop.is_set():
        batch = self._next_batch()
        if batch is None:
          return
        start = time.perf_counter()
        stats = self.updater.step(batch)
        self.latest_stats = {k: float(v) for k, v in stats.items()}
        self.busy_seconds += time.perf_counter() - start
    except BaseException as error:  # surfaced by the learner's main loop
      self.error = error
