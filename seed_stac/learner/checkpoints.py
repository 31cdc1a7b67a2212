"""Checkpoints: weights, metaparameters, both optimizers, counters.

tf.train.CheckpointManager writes the data files first (shards into
`ckpt-N_temp/`, then merged into `ckpt-N.*`) and the `checkpoint` index last
(temp file + rename), so a crash mid-write leaves the previous checkpoint as
latest: restarts never see a half-written one, and the next save (numbered
from the restored save counter) overwrites the leftovers.
tests/learner/test_checkpoints.py SIGKILLs a real learner at those points.
gs:// paths work through TF's file system.
"""

from typing import Optional

import tensorflow as tf


class Checkpointer:

  def __init__(self, directory: str, max_to_keep: int = 3, **objects):
    self._checkpoint = tf.train.Checkpoint(**objects)
    self._manager = tf.train.CheckpointManager(self._checkpoint, directory, max_to_keep=max_to_keep)

  def restore_latest(self) -> Optional[str]:
    """Restores the latest checkpoint if any; returns its path."""
    path = self._manager.latest_checkpoint
    if path:
      self._checkpoint.restore(path).assert_existing_objects_matched()
    return path

  def save(self) -> str:
    return self._manager.save()
