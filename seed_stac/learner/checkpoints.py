"""Checkpoints: weights, metaparameters, both optimizers, counters.

tf.train.CheckpointManager writes the data files first (shards into
`ckpt-N_temp/`, then merged into `ckpt-N.*`) and the `checkpoint` index last
(temp file + rename), so a crash mid-write leaves the previous checkpoint as
latest: restarts never see a half-written one, and the next save (numbered
from the restored save counter) overwrites the leftovers.
tests/learner/test_checkpoints.py SIGKILLs a real learner at those points.

What a crash cannot explain, damage after the fact (a file truncated by a
full disk or an interrupted copy, a file deleted, the index lost or naming a
deleted checkpoint), `restore_latest` survives: it tries the checkpoints the
index names, newest first, then any other `ckpt-N` in the directory (the
index may be gone), and takes the first that loads, warning about each one
it skips. It refuses to start afresh
over checkpoints none of which loads. `max_to_keep` (3) checkpoints are kept,
so an older one is there to fall back to.
gs:// paths work through TF's file system.
"""

import os
import re
from typing import List, Optional

from absl import logging
import tensorflow as tf

MAX_TO_KEEP = 3


class CheckpointError(RuntimeError):
  """Checkpoints exist but none loads; the message names them and why."""


def _number(path: str) -> int:
  match = re.search(r'ckpt-(\d+)$', path)
  return int(match.group(1)) if match else -1


class Checkpointer:

  def __init__(self, directory: str, max_to_keep: int = MAX_TO_KEEP, **objects):
    self.directory = directory
    self._checkpoint = tf.train.Checkpoint(**objects)
    self._manager = tf.train.CheckpointManager(self._checkpoint, directory, max_to_keep=max_to_keep)

  def candidates(self) -> List[str]:
    """Checkpoint prefixes to try: those the index names, newest first (an
    unnamed newer one is an interrupted write), then the others whose
    `.index` file is in the directory, newest first."""
    named = sorted(self._manager.checkpoints, key=_number, reverse=True)
    pattern = os.path.join(self.directory, 'ckpt-*.index')
    found = [path[:-len('.index')] for path in tf.io.gfile.glob(pattern)]
    others = sorted(set(found) - set(named), key=_number, reverse=True)
    return named + others

  def restore_latest(self) -> Optional[str]:
    """Restores the newest checkpoint that loads and returns its path; None
    when the directory holds none. Raises CheckpointError when some exist
    but none loads."""
    tried = []
    for path in self.candidates():
      try:
        self._checkpoint.restore(path).assert_existing_objects_matched()
      except Exception as error:  # pylint: disable=broad-except  # any damage: try the next
        reason = f'{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ""}'
        logging.warning('Checkpoint %s does not load (%s); trying an older one', path, reason)
        tried.append(f'{os.path.basename(path)} ({reason})')
        continue
      if tried:
        logging.warning('Resuming from %s, the newest checkpoint that loads', path)
      return path
    if tried:
      raise CheckpointError(
          f'No checkpoint in {self.directory} loads; tried {"; ".join(tried)}. Restore the '
          'files from a copy, or move the directory away to start this run afresh.')
    return None

  def save(self) -> str:
    return self._manager.save()
