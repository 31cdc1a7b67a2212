"""The training thread: batches from the unroll source -> the STAC/STACX/IMPALA step."""

import threading
import time
from typing import Dict, Optional

import tensorflow as tf

from seed_stac.algo.update import StacUpdater
from seed_stac.learner.unroll_sources import Batch, UnrollSource
from seed_stac.types import Unroll


def to_tensors(batch: Batch):
  """(Unroll of tf.Tensors [T + 1, B, ...], replayed [B] bool tensor or None)."""
  unroll = batch.unroll
  return (Unroll(*(tf.constant(x) for x in unroll[:-1]),
                 core_state=tuple(tf.constant(s) for s in unroll.core_state)),
          None if batch.replayed is None else tf.constant(batch.replayed))


class Trainer(threading.Thread):
  """Runs `passes` updater steps on each batch from `source` until `stop`.

  Several passes over one batch reuse each sample as PPO's epochs and APPO do;
  pair them with a trust region (`algo.trust_region`). `latest_stats` holds
  the last step's scalars and the source's; `busy_fraction` the share of
  wall-clock time spent in steps since the thread started.
  """

  def __init__(self, updater: StacUpdater, source: UnrollSource, passes: int = 1):
    super().__init__(name='trainer', daemon=True)
    if passes < 1:
      raise ValueError(f'passes must be >= 1, got {passes}')
    self.updater = updater
    self.source = source
    self.passes = passes
    self.stop = threading.Event()
    self.latest_stats: Dict[str, float] = {}
    self.error: Optional[BaseException] = None
    self._busy_seconds = 0.0
    self._start_time = None

  @property
  def busy_fraction(self) -> float:
    if self._start_time is None:
      return 0.0
    return self._busy_seconds / max(time.perf_counter() - self._start_time, 1e-9)

  def run(self):
    self._start_time = time.perf_counter()
    try:
      while not self.stop.is_set():
        batch = self.source.next_batch(self.stop)
        if batch is None:
          return
        start = time.perf_counter()
        unroll, replayed = to_tensors(batch)
        for _ in range(self.passes):
          stats = self.updater.step(unroll, replayed)
        self._busy_seconds += time.perf_counter() - start
        logged = {k: float(v) for k, v in stats.items()}
        logged.update(passes=float(self.passes),
                      trainer_busy_fraction=self.busy_fraction,
                      **self.source.stats())
        self.latest_stats = logged
    except BaseException as error:  # surfaced by the learner's main loop
      self.error = error
