"""Run logs: one row of scalars per interval, fanned out to sinks.

A row is a flat {name: float} with `frames`, `learner_steps`, `fps`,
`episode_return`, `episode_length` (mean agent steps) and `episodes`, then
every training stat and metaparameter (NaN: no value this interval). A sink is
anything with `write(row)` and `close()`; `RunLogger` sends each row to all of
its sinks. The standard ones: `CsvSink` (logdir/progress.csv, the file
`seed_stac.plot`, `report` and the benchmarks read), `TensorBoardSink`,
`TerminalSink` (a progress line) and `WandbSink` (Weights & Biases, optional:
`pip install seed_stac[wandb]`). `make_sinks` builds them from the config's
`log` section.
"""

import csv
import math
import os
import sys
from typing import Dict, List, Optional, Protocol, Sequence

import tensorflow as tf

Row = Dict[str, float]
_HEAD = ('frames', 'learner_steps', 'fps', 'episode_return', 'episode_length', 'episodes')
WANDB_MODES = ('online', 'offline')


class Sink(Protocol):

  def write(self, row: Row) -> None:
    ...

  def close(self) -> None:
    ...


class CsvSink:
  """`logdir/progress.csv`. Its columns are fixed by the first row (the head
  columns, then the rest sorted); a later row with new keys rewrites the file
  with them, and a resumed run keeps appending under the same header."""

  def __init__(self, logdir: str):
    self._path = os.path.join(logdir, 'progress.csv')
    self._columns: List[str] = []
    if tf.io.gfile.exists(self._path):
      with tf.io.gfile.GFile(self._path) as f:
        header = f.readline().strip()
      self._columns = header.split(',') if header else []

  def write(self, row: Row) -> None:
    new_file = not self._columns
    if new_file:
      self._columns = list(_HEAD) + sorted(k for k in row if k not in _HEAD)
    elif set(row) - set(self._columns):
      self._add_columns(sorted(set(row) - set(self._columns)))
    with tf.io.gfile.GFile(self._path, 'a') as f:
      writer = csv.DictWriter(f, self._columns, extrasaction='ignore')
      if new_file:
        writer.writeheader()
      writer.writerow({k: row.get(k, '') for k in self._columns})

  def _add_columns(self, new_columns: List[str]) -> None:
    """Rewrites the CSV with more columns, e.g. the training stats that first
    appear after rows written before the first learner step."""
    with tf.io.gfile.GFile(self._path) as f:
      rows = list(csv.DictReader(f))
    self._columns = self._columns + new_columns
    temporary = self._path + '.tmp'
    with tf.io.gfile.GFile(temporary, 'w') as f:
      writer = csv.DictWriter(f, self._columns)
      writer.writeheader()
      writer.writerows(rows)
    tf.io.gfile.rename(temporary, self._path, overwrite=True)

  def close(self) -> None:
    pass


def rewind_progress(logdir: str, frames: int) -> int:
  """Cuts `logdir/progress.csv` back to its rows with at most `frames`
  frames (a resumed run's checkpoint), so its frames never go back; returns
  how many rows were removed."""
  path = os.path.join(logdir, 'progress.csv')
  if not tf.io.gfile.exists(path):
    return 0
  with tf.io.gfile.GFile(path) as f:
    reader = csv.DictReader(f)
    columns, rows = reader.fieldnames, list(reader)
  kept = [r for r in rows if float(r['frames']) <= frames]
  if len(kept) == len(rows):
    return 0
  temporary = path + '.tmp'
  with tf.io.gfile.GFile(temporary, 'w') as f:
    writer = csv.DictWriter(f, columns)
    writer.writeheader()
    writer.writerows(kept)
  tf.io.gfile.rename(temporary, path, overwrite=True)
  return len(rows) - len(kept)


class TensorBoardSink:
  """TensorBoard scalars under `directory`, at step = frames; NaNs skipped."""

  def __init__(self, directory: str):
    self._writer = tf.summary.create_file_writer(directory)

  def write(self, row: Row) -> None:
    with self._writer.as_default(step=int(row['frames'])):
      for key, value in row.items():
        if key != 'frames' and not math.isnan(value):
          tf.summary.scalar(key, value)
    self._writer.flush()

  def close(self) -> None:
    self._writer.close()


class TerminalSink:
  """One progress line per row: bar, frames, fps, learner steps, return."""

  def __init__(self, total_frames: int, stream=None):
    self.total_frames = total_frames
    self._stream = stream

  def write(self, row: Row) -> None:
    fraction = min(1.0, row['frames'] / self.total_frames)
    filled = int(30 * fraction)
    bar = '#' * filled + '-' * (30 - filled)
    ret = row['episode_return']
    line = (f"[{bar}] {fraction:6.1%} frames {int(row['frames']):,} "
            f"fps {row['fps']:,.0f} steps {int(row['learner_steps'])} "
            f"return {'n/a' if math.isnan(ret) else f'{ret:.1f}'}")
    print(line, file=self._stream or sys.stdout, flush=True)

  def close(self) -> None:
    pass


class WandbSink:
  """A Weights & Biases run: each row is logged at step = frames (NaNs left
  out). `mode='offline'` writes under `directory` only (`wandb sync` later).
  A resumed logdir continues the same W&B run (its id is kept in the logdir)."""

  def __init__(self,
               project: str,
               logdir: str,
               config: Optional[dict] = None,
               entity: Optional[str] = None,
               mode: str = 'online',
               directory: Optional[str] = None):
    if mode not in WANDB_MODES:
      raise ValueError(f'log.wandb_mode must be one of {WANDB_MODES}, got {mode!r}')
    try:
      import wandb  # pylint: disable=import-outside-toplevel
    except ImportError as e:
      raise ImportError('log.wandb_project is set but wandb is not installed: '
                        'pip install "seed_stac[wandb]" (or pip install wandb)') from e
    run_id = _run_id(logdir)
    self.run = wandb.init(project=project,
                          entity=entity or None,
                          config=config,
                          mode=mode,
                          dir=directory or logdir,
                          id=run_id,
                          resume='allow',
                          name=os.path.basename(os.path.normpath(logdir)))

  def write(self, row: Row) -> None:
    # commit: the row is complete; do not wait for the next step to flush it.
    self.run.log({
        k: v for k, v in row.items() if k != 'frames' and not math.isnan(v)
    },
                 step=int(row['frames']),
                 commit=True)

  def close(self) -> None:
    self.run.finish()


def _run_id(logdir: str) -> str:
  """The W&B run id of this logdir: made once, kept in logdir/wandb_run_id."""
  path = os.path.join(logdir, 'wandb_run_id')
  if tf.io.gfile.exists(path):
    with tf.io.gfile.GFile(path) as f:
      return f.read().strip()
  run_id = os.urandom(6).hex()
  with tf.io.gfile.GFile(path, 'w') as f:
    f.write(run_id)
  return run_id


class RunLogger:
  """Sends each row to every sink."""

  def __init__(self, sinks: Sequence[Sink]):
    self.sinks = list(sinks)

  def write(self, row: Row) -> None:
    for sink in self.sinks:
      sink.write(row)

  def close(self) -> None:
    for sink in self.sinks:
      sink.close()


def make_sinks(log_config,
               logdir: str,
               total_frames: int,
               show_progress: bool = True,
               summary_dir: Optional[str] = None,
               run_config: Optional[dict] = None) -> List[Sink]:
  """CSV and TensorBoard always, the progress line unless `show_progress` is
  off, W&B when `log_config.wandb_project` is set. summary_dir: TensorBoard's
  folder (default `logdir`; Vertex AI's TensorBoard reads its own).
  run_config: the resolved config, recorded by W&B."""
  sinks: List[Sink] = [CsvSink(logdir), TensorBoardSink(summary_dir or logdir)]
  if show_progress:
    sinks.append(TerminalSink(total_frames))
  if log_config.wandb_project:
    sinks.append(
        WandbSink(log_config.wandb_project, logdir, run_config, log_config.wandb_entity,
                  log_config.wandb_mode))
  return sinks
