"""The self-tuning report of one run (the binary is seed_stac.report).

Writes DIR/report/report.md with the return curve, every metaparameter's
trajectory per head (seed_stac.plotting's PNGs), a table of each
metaparameter's start, end and range, and the main head's final values as a
ready-to-use override line: what STAC found, to train a plain IMPALA run with.
"""

import json
import math
import os
from typing import Dict, List

from seed_stac import plotting
from seed_stac.algo import names


def _finite(values: List[float]) -> List[float]:
  return [v for v in values if not math.isnan(v)]


def final_return(columns: Dict[str, List[float]]) -> float:
  """Mean of the logged returns over the last 10% of rows (at least one)."""
  returns = columns.get('episode_return', [])
  tail = _finite(returns[-max(1, len(returns) // 10):]) or _finite(returns)
  return sum(tail) / len(tail) if tail else math.nan


def override_line(columns: Dict[str, List[float]]) -> str:
  """`--config.agent=impala --config.algo.fixed.gamma=...` from the main
  head's last logged values."""
  parts = ['--config.agent=impala']
  for name in names.METAPARAMETERS:
    values = _finite(columns.get(f'main/{name}', []))
    if values:
      parts.append(f'--config.algo.fixed.{names.field(name)}={values[-1]:.6g}')
  return ' '.join(parts)


def _table(columns: Dict[str, List[float]]) -> List[str]:
  rows = ['| metaparameter | start | end | min | max |', '| --- | --- | --- | --- | --- |']
  for key in sorted(k for k in columns if '/' in k and k.split('/')[-1] in names.METAPARAMETERS):
    values = _finite(columns[key])
    if values:
      rows.append(f'| {key} | {values[0]:.4g} | {values[-1]:.4g} | {min(values):.4g} | '
                  f'{max(values):.4g} |')
  return rows


def write_report(logdir: str, out: str = None) -> str:
  """Writes the report and its two PNGs under `out` (default DIR/report);
  returns the Markdown path. FileNotFoundError/ValueError for a directory
  that is not a run or has no rows yet."""
  columns = plotting.read_progress(logdir)
  with open(os.path.join(logdir, 'config.json')) as f:
    config = json.load(f)
  out = out or os.path.join(logdir, 'report')
  os.makedirs(out, exist_ok=True)
  name = os.path.basename(os.path.normpath(logdir))
  plotting.plot_returns({name: columns}, os.path.join(out, 'returns.png'))
  plotting.plot_metaparameters({name: columns}, os.path.join(out, 'metaparameters.png'))
  env = config.get('env', {})
  tuned = config.get('algo', {}).get('tuned', []) if config.get('agent') != 'impala' else []
  lines = [
      f'# Self-tuning report: {name}', '',
      f"- agent: {config.get('agent')}; environment: {env.get('kind')}:{env.get('name')}",
      f"- frames: {int(columns['frames'][-1]):,}; final mean return (last 10% of logs): "
      f'{final_return(columns):.4g}', '- self-tuned: '
      f"{', '.join(tuned) if tuned else 'nothing (IMPALA: the values below are fixed)'}", '',
      '![returns](returns.png)', '', '![metaparameters](metaparameters.png)', '', *_table(columns),
      '', "To train plain IMPALA with the main head's final values:", '', '```',
      override_line(columns), '```', ''
  ]
  path = os.path.join(out, 'report.md')
  with open(path, 'w') as f:
    f.write('\n'.join(lines))
  return path
