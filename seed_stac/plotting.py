"""Learning curves and self-tuned values of one or more runs as PNGs (the
binary is seed_stac.plot). Writes `returns.png` (mean episode return against
frames, runs overlaid) and `metaparameters.png` (every metaparameter against
frames: a column per head, a row per metaparameter, runs overlaid; the paper's
view of self-tuning).
"""

import collections
import csv
import math
import os
from typing import Dict, List

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

from seed_stac.algo.names import METAPARAMETERS  # pylint: disable=g-import-not-at-top


def read_progress(logdir: str) -> Dict[str, List[float]]:
  """Columns of LOGDIR/progress.csv as float lists (empty cells -> nan)."""
  path = os.path.join(logdir, 'progress.csv')
  if not os.path.exists(path):
    raise FileNotFoundError(f'{path} not found: is {logdir!r} a seed_stac run directory?')
  columns = collections.defaultdict(list)
  with open(path) as f:
    for row in csv.DictReader(f):
      for key, value in row.items():
        columns[key].append(float(value) if value not in ('', None) else math.nan)
  if not columns.get('frames'):
    raise ValueError(f'{path} has no rows yet')
  return dict(columns)


def plot_returns(runs: Dict[str, dict], path: str) -> None:
  fig, ax = plt.subplots(figsize=(7, 4.5))
  for label, columns in runs.items():
    ax.plot(columns['frames'], columns['episode_return'], label=label)
  ax.set_xlabel('environment frames')
  ax.set_ylabel('mean episode return')
  ax.grid(alpha=0.3)
  ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def plot_metaparameters(runs: Dict[str, dict], path: str) -> None:
  """A grid: one row per metaparameter, one column per head, own y-scales."""
  keys = {
      key for columns in runs.values() for key in columns
      if '/' in key and key.split('/')[-1] in METAPARAMETERS
  }
  if not keys:
    raise ValueError('no metaparameter columns (main/gamma, ...) in these runs')
  heads = sorted({k.split('/')[0] for k in keys}, key=lambda h: (h != 'main', h))
  names = [n for n in METAPARAMETERS if any(k.endswith('/' + n) for k in keys)]
  fig, axes = plt.subplots(len(names),
                           len(heads),
                           figsize=(4.5 * len(heads), 2 * len(names)),
                           squeeze=False,
                           sharex=True)
  for row, name in enumerate(names):
    for col, head in enumerate(heads):
      ax = axes[row][col]
      for label, columns in runs.items():
        if f'{head}/{name}' in columns:
          ax.plot(columns['frames'], columns[f'{head}/{name}'], label=label)
      ax.set_title(f'{head}/{name}', fontsize=9)
      ax.grid(alpha=0.3)
  for ax in axes[-1]:
    ax.set_xlabel('environment frames')
  axes[0][0].legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def plot_runs(logdirs: List[str], out: str, labels: List[str] = None) -> List[str]:
  """Reads each run's progress.csv and writes the two PNGs; returns their paths."""
  labels = labels or [os.path.basename(os.path.normpath(d)) for d in logdirs]
  if len(labels) != len(logdirs):
    raise ValueError(f'{len(labels)} labels for {len(logdirs)} logdirs')
  runs = {label: read_progress(d) for label, d in zip(labels, logdirs)}
  os.makedirs(out, exist_ok=True)
  paths = [os.path.join(out, 'returns.png'), os.path.join(out, 'metaparameters.png')]
  plot_returns(runs, paths[0])
  plot_metaparameters(runs, paths[1])
  return paths
