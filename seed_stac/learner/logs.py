"""Run logs: TensorBoard summaries, a CSV row per interval, a progress line."""

import csv
import math
import os
import sys
from typing import Dict, List, Optional

import tensorflow as tf


class RunLogger:
  """Writes `logdir/progress.csv` and TensorBoard events under `summary_dir`
  (default `logdir`; Vertex AI's TensorBoard reads its own folder).

  The CSV's columns are fixed by the first row (frames, learner_steps, fps,
  episode_return, episodes, then every stat and metaparameter); later rows
  leave a missing value empty.
  """

  def __init__(self, logdir: str, total_frames: int, show_progress: bool = True,
               summary_dir: Optional[str] = None):
    self.total_frames = total_frames
    self.show_progress = show_progress
    self._writer = tf.summary.create_file_writer(summary_dir or logdir)
    self._csv_path = os.path.join(logdir, 'progress.csv')
    self._columns: List[str] = []
    if tf.io.gfile.exists(self._csv_path):  # resumed run: keep appending
      with tf.io.gfile.GFile(self._csv_path) as f:
        header = f.readline().strip()
      self._columns = header.split(',') if header else []

  def write(self, row: Dict[str, float]) -> None:
    frames = int(row['frames'])
    with self._writer.as_default(step=frames):
      for key, value in row.items():
        if key != 'frames' and not math.isnan(value):
          tf.summary.scalar(key, value)
    self._writer.flush()
    self._write_csv(row)
    if self.show_progress:
      self._print_progress(row)

  def _write_csv(self, row):
    new_file = not self._columns
    if new_file:
      head = ['frames', 'learner_steps', 'fps', 'episode_return', 'episodes']
      self._columns = head + sorted(k for k in row if k not in head)
    elif set(row) - set(self._columns):
      self._add_columns(sorted(set(row) - set(self._columns)))
    with tf.io.gfile.GFile(self._csv_path, 'a') as f:
      writer = csv.DictWriter(f, self._columns, extrasaction='ignore')
      if new_file:
        writer.writeheader()
      writer.writerow({k: row.get(k, '') for k in self._columns})

  def _add_columns(self, new_columns: List[str]) -> None:
    """Rewrites the CSV with more columns, e.g. the training stats that first
    appear after rows written before the first learner step."""
    with tf.io.gfile.GFile(self._csv_path) as f:
      rows = list(csv.DictReader(f))
    self._columns = self._columns + new_columns
    temporary = self._csv_path + '.tmp'
    with tf.io.gfile.GFile(temporary, 'w') as f:
      writer = csv.DictWriter(f, self._columns)
      writer.writeheader()
      writer.writerows(rows)
    tf.io.gfile.rename(temporary, self._csv_path, overwrite=True)

  def _print_progress(self, row):
    fraction = min(1.0, row['frames'] / self.total_frames)
    filled = int(30 * fraction)
    bar = '#' * filled + '-' * (30 - filled)
    ret = row['episode_return']
    line = (f"[{bar}] {fraction:6.1%} frames {int(row['frames']):,} "
            f"fps {row['fps']:,.0f} steps {int(row['learner_steps'])} "
            f"return {'n/a' if math.isnan(ret) else f'{ret:.1f}'}")
    print(line, file=sys.stdout, flush=True)

  def close(self):
    self._writer.close()
