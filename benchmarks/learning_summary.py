"""Summaries of learning runs: the statistics, the tables and the plots.

Each run is a `progress.csv` (a row per log interval: frames, the mean return
of the episodes that ended in the interval, metaparameters, ...). Per run:
  * final return: mean of the interval returns in the last 10% of the run's
    frames, i.e. rows with frames >= 0.9 * last frames;
  * area under the curve: the trapezoid integral of return over frames
    divided by the frames spanned, i.e. the return averaged over the run;
  * frames to threshold: the first logged frame count whose interval return
    is >= the config's threshold (None if never).
  * training time: the sum over log intervals of the interval's frames over
    its frames/s, i.e. the seconds spent training (start-up and the time
    between a stop and a resume are not counted).
  * return at equal time: the final return, but over time instead of frames:
    the mean of the interval returns whose training time is in
    [0.9 H, H], where H is the shortest training time of any run of the
    config (all agents): every agent judged after the same wall-clock.
Per config and agent: mean and standard deviation over seeds (the sample
standard deviation; 0 for one seed), the seeds' mean frames/s and their
mean training hours.
"""

import csv
import math
import os
import statistics
import warnings
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np

from seed_stac.plotting import METAPARAMETERS, plt, read_progress

FINAL_FRACTION = 0.1


def _returns(columns):
  """(frames, returns) of the intervals in which some episode ended."""
  frames = np.asarray(columns['frames'], float)
  returns = np.asarray(columns['episode_return'], float)
  keep = ~np.isnan(returns)
  return frames[keep], returns[keep]


def final_return(columns: Dict[str, List[float]], fraction: float = FINAL_FRACTION) -> float:
  frames, returns = _returns(columns)
  if not returns.size:
    return math.nan
  return float(returns[frames >= (1.0 - fraction) * frames[-1]].mean())


def area_under_curve(columns: Dict[str, List[float]]) -> float:
  frames, returns = _returns(columns)
  if returns.size < 2 or frames[-1] == frames[0]:
    return float(returns.mean()) if returns.size else math.nan
  area = float(np.sum((returns[1:] + returns[:-1]) / 2 * np.diff(frames)))
  return area / float(frames[-1] - frames[0])


def frames_to_threshold(columns: Dict[str, List[float]], threshold: float) -> Optional[float]:
  frames, returns = _returns(columns)
  reached = np.nonzero(returns >= threshold)[0]
  return float(frames[reached[0]]) if reached.size else None


def training_seconds(columns: Dict[str, List[float]]) -> np.ndarray:
  """Seconds of training up to each row: cumulative interval frames / fps
  (an interval without a rate counts as none)."""
  frames = np.asarray(columns['frames'], float)
  fps = np.asarray(columns['fps'], float)
  steps = np.diff(frames, prepend=0.0)
  with np.errstate(divide='ignore', invalid='ignore'):
    seconds = np.where(fps > 0, steps / fps, 0.0)
  return np.cumsum(seconds)


def return_at_time(columns: Dict[str, List[float]],
                   seconds: float,
                   fraction: float = FINAL_FRACTION) -> float:
  """Mean interval return over training times in [(1 - fraction) seconds, seconds]."""
  times = training_seconds(columns)
  returns = np.asarray(columns['episode_return'], float)
  window = (times >= (1.0 - fraction) * seconds) & (times <= seconds) & ~np.isnan(returns)
  return float(returns[window].mean()) if window.any() else math.nan


def _mean_std(values: Sequence[float]):
  values = [v for v in values if not math.isnan(v)]
  if not values:
    return math.nan, math.nan
  return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def finished_progress(run, budget: int) -> Optional[Dict[str, List[float]]]:
  """The run's progress columns if it reached `budget` frames, else None."""
  if not os.path.exists(os.path.join(run.logdir, 'progress.csv')):
    return None
  columns = read_progress(run.logdir)
  return columns if columns['frames'][-1] >= budget else None


def summarise(runs,
              thresholds: Optional[Mapping[str, float]] = None,
              budget: int = 0) -> List[dict]:
  """A row per (config, agent) over its seeds' runs (objects with .config,
  .agent, .seed, .logdir) that reached `budget` frames; others are left out.
  thresholds: {config: return} for the frames-to-threshold column."""
  groups: Dict[tuple, list] = {}
  for run in runs:
    columns = finished_progress(run, budget)
    if columns is not None:
      groups.setdefault((run.config, run.agent), []).append((run, columns))
  equal_seconds: Dict[str, float] = {}  # per config: its shortest run's training time
  for (config, _), members in groups.items():
    shortest = min(training_seconds(c)[-1] for _, c in members)
    equal_seconds[config] = min(equal_seconds.get(config, math.inf), shortest)
  rows = []
  for (config, agent), members in groups.items():
    finals = [final_return(c) for _, c in members]
    aucs = [area_under_curve(c) for _, c in members]
    at_time = [return_at_time(c, equal_seconds[config]) for _, c in members]
    final_mean, final_std = _mean_std(finals)
    auc_mean, auc_std = _mean_std(aucs)
    at_time_mean, at_time_std = _mean_std(at_time)
    row = dict(config=config,
               agent=agent,
               seeds=' '.join(str(r.seed) for r, _ in members),
               frames=min(c['frames'][-1] for _, c in members),
               final_return_mean=final_mean,
               final_return_std=final_std,
               final_return_per_seed=' '.join(f'{f:.2f}' for f in finals),
               auc_mean=auc_mean,
               auc_std=auc_std,
               fps=statistics.mean(float(np.nanmean(c['fps'])) for _, c in members),
               hours=statistics.mean(training_seconds(c)[-1] / 3600 for _, c in members),
               equal_time_hours=equal_seconds[config] / 3600,
               return_at_equal_time_mean=at_time_mean,
               return_at_equal_time_std=at_time_std)
    if thresholds and config in thresholds:
      reached = [frames_to_threshold(c, thresholds[config]) for _, c in members]
      row['threshold'] = thresholds[config]
      row['frames_to_threshold'] = ' '.join('-' if f is None else f'{f:.0f}' for f in reached)
    rows.append(row)
  return rows


def _fmt(value) -> str:
  if isinstance(value, float):
    return 'nan' if math.isnan(value) else (
        f'{value:,.0f}' if abs(value) >= 1000 else f'{value:.2f}')
  return str(value)


def markdown_table(rows: List[dict]) -> str:
  columns = [
      'config', 'agent', 'seeds', 'frames', 'final return', 'per seed', 'AUC',
      'return at equal time (hours)', 'fps', 'hours per seed'
  ]
  with_threshold = any('frames_to_threshold' in r for r in rows)
  if with_threshold:
    columns += ['threshold', 'frames to threshold']
  lines = ['| ' + ' | '.join(columns) + ' |', '|' + ' --- |' * len(columns)]
  for r in rows:
    cells = [
        r['config'], r['agent'], r['seeds'],
        _fmt(r['frames']), f"{_fmt(r['final_return_mean'])} ± {_fmt(r['final_return_std'])}",
        r['final_return_per_seed'], f"{_fmt(r['auc_mean'])} ± {_fmt(r['auc_std'])}",
        f"{_fmt(r['return_at_equal_time_mean'])} ± {_fmt(r['return_at_equal_time_std'])}"
        f" ({r['equal_time_hours']:.2f})",
        _fmt(r['fps']), f"{r['hours']:.2f}"
    ]
    if with_threshold:
      cells += [_fmt(r['threshold']), r['frames_to_threshold']] if 'threshold' in r else ['-', '-']
    lines.append('| ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines) + '\n'


def _curves_on_grid(members, key: str, points: int = 100, x: str = 'frames'):
  """Interpolates each run's `key` onto a common grid of column `x` (to the
  shortest run)."""
  end = min(c[x][-1] for c in members)
  grid = np.linspace(0.0, end, points)
  curves = []
  for c in members:
    frames = np.asarray(c[x], float)
    values = np.asarray(c.get(key, [math.nan] * len(frames)), float)
    keep = ~np.isnan(values)
    if keep.sum() >= 1:
      curves.append(np.interp(grid, frames[keep], values[keep], left=np.nan))
  return grid, np.asarray(curves)


def plot_band(ax, groups, key: str, x: str = 'frames') -> None:
  for label, members in groups.items():
    grid, curves = _curves_on_grid(members, key, x=x)
    if not len(curves):
      continue
    with warnings.catch_warnings():  # grid points before a run's first row
      warnings.simplefilter('ignore', RuntimeWarning)
      mean, std = np.nanmean(curves, 0), np.nanstd(curves, 0)
    ax.plot(grid, mean, label=f'{label} (n={len(curves)})')
    ax.fill_between(grid, mean - std, mean + std, alpha=0.25)
  ax.grid(alpha=0.3)


# What the learner did, beside the return: its learning rate, and how
# off-policy the data was (sample reuse); a row per key some run logged.
TRAINING_KEYS = ('learning_rate', 'main/mean_is_ratio', 'is_ratio/fresh_mean',
                 'is_ratio/replayed_mean', 'is_ratio/replayed_above_clip', 'is_ratio/fresh_abs_log',
                 'is_ratio/replayed_abs_log', 'main/trust_region_masked')


def plot_training(groups, config: str, path: str) -> bool:
  """Writes `path` unless no run logged any of TRAINING_KEYS; whether it did."""
  keys = [k for k in TRAINING_KEYS if any(k in c for members in groups.values() for c in members)]
  if not keys:
    return False
  fig, axes = plt.subplots(len(keys), 1, figsize=(7, 1.9 * len(keys)), sharex=True, squeeze=False)
  for ax, key in zip(axes[:, 0], keys):
    plot_band(ax, groups, key)
    ax.set_ylabel(key.replace('/', '/\n'), fontsize=8)
  axes[0, 0].legend(fontsize=7)
  axes[0, 0].set_title(f'{config}: what the learner did (mean ± std over seeds)', fontsize=10)
  axes[-1, 0].set_xlabel('environment frames')
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)
  return True


def plot_returns(groups, config: str, path: str, x: str, references=()) -> None:
  """Mean return with a band over seeds against `x` ('frames' or
  'training_hours'), with a dashed line per (label, value) in `references`."""
  fig, ax = plt.subplots(figsize=(7, 4.5))
  plot_band(ax, groups, 'episode_return', x=x)
  for (label, value), color in zip(references, ('0.3', '0.55', '0.75', '0.15')):
    ax.axhline(value, linestyle='--', color=color, linewidth=1, label=f'{label} ({value:g})')
  xlabel = 'environment frames' if x == 'frames' else 'training hours (learner and actors)'
  ax.set(xlabel=xlabel, ylabel='mean episode return', title=config)
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def plot_config(runs, config: str, out: str, budget: int = 0, references=()) -> List[str]:
  """`{config}_returns.png` (against frames), `{config}_returns_time.png`
  (against training hours), `{config}_metaparameters.png` (main head) and
  `{config}_training.png` (`TRAINING_KEYS`, when logged) of the runs that
  reached `budget` frames; `references`: (label, return) lines to draw."""
  groups: Dict[str, list] = {}
  for run in runs:
    columns = finished_progress(run, budget) if run.config == config else None
    if columns is not None:
      columns['training_hours'] = list(training_seconds(columns) / 3600)
      groups.setdefault(run.agent, []).append(columns)
  if not groups:
    return []
  name = config.replace(':', '_')
  paths = [
      os.path.join(out, f'{name}_returns.png'),
      os.path.join(out, f'{name}_returns_time.png'),
      os.path.join(out, f'{name}_metaparameters.png'),
      os.path.join(out, f'{name}_training.png')
  ]
  plot_returns(groups, config, paths[0], 'frames', references)
  plot_returns(groups, config, paths[1], 'training_hours', references)
  fig, axes = plt.subplots(len(METAPARAMETERS),
                           1,
                           figsize=(7, 1.8 * len(METAPARAMETERS)),
                           sharex=True)
  for ax, meta in zip(axes, METAPARAMETERS):
    plot_band(ax, groups, f'main/{meta}')
    ax.set_ylabel(meta)
  axes[0].legend(fontsize=7)
  axes[0].set_title(f'{config}: main-head metaparameters (mean ± std over seeds)')
  axes[-1].set_xlabel('environment frames')
  fig.tight_layout()
  fig.savefig(paths[2], dpi=100)
  plt.close(fig)
  return paths if plot_training(groups, config, paths[3]) else paths[:3]


def write_summary(runs,
                  out: str,
                  thresholds: Optional[Mapping[str, float]],
                  header: dict,
                  budget: int = 0,
                  references: Optional[Dict[str, List[tuple]]] = None) -> List[str]:
  """summary.md, summary.csv and the plots of every config, over the runs that
  reached `budget` frames (the others are named in summary.md); returns the
  paths. thresholds: {config: return} for frames to threshold; references:
  {config: [(label, return), ...]} drawn on its plots."""
  os.makedirs(out, exist_ok=True)
  rows = summarise(runs, thresholds, budget)
  short = [r for r in runs if finished_progress(r, budget) is None]
  started = [r for r in short if os.path.exists(os.path.join(r.logdir, 'progress.csv'))]

  def names(group) -> str:
    return ', '.join(f'{r.config} {r.agent} seed {r.seed}' for r in group) or 'none'

  header = dict(header,
                unfinished=names(started),
                not_started=names(r for r in short if r not in started))
  paths = [os.path.join(out, 'summary.md'), os.path.join(out, 'summary.csv')]
  with open(paths[0], 'w') as f:
    f.write(''.join(f'- {k}: {v}\n' for k, v in header.items()) + '\n')
    f.write(markdown_table(rows))
  with open(paths[1], 'w', newline='') as f:
    if rows:
      writer = csv.DictWriter(f, list(rows[0]))
      writer.writeheader()
      writer.writerows(rows)
  for config in dict.fromkeys(run.config for run in runs):
    paths += plot_config(runs, config, out, budget, (references or {}).get(config, ()))
  return paths
