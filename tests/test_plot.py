"""seed_stac.plot writes the two PNGs from progress.csv files."""

import csv
import os

import pytest

from seed_stac.plotting import plot_runs


def _write_run(path, heads, tuned):
  os.makedirs(path)
  names = ['gamma', 'lambda', 'g_v', 'g_p', 'g_e', 'alpha_rho', 'alpha_c']
  columns = ['frames', 'episode_return'] + [f'{h}/{n}' for h in heads for n in names]
  with open(os.path.join(path, 'progress.csv'), 'w') as f:
    writer = csv.writer(f)
    writer.writerow(columns)
    for i in range(5):
      writer.writerow([1000 * i, 10.0 * i]
                      + [0.99 - (0.01 * i if tuned else 0)] * (len(columns) - 2))


def test_writes_returns_and_metaparameter_pngs(tmp_path):
  _write_run(tmp_path / 'stacx', ['main', 'aux1', 'aux2'], True)
  _write_run(tmp_path / 'impala', ['main'], False)
  paths = plot_runs([str(tmp_path / 'stacx'), str(tmp_path / 'impala')], str(tmp_path / 'out'))
  for path in paths:
    with open(path, 'rb') as f:
      assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    assert os.path.getsize(path) > 10_000


def test_errors_name_the_problem(tmp_path):
  with pytest.raises(FileNotFoundError, match='progress.csv'):
    plot_runs([str(tmp_path / 'missing')], str(tmp_path))
  _write_run(tmp_path / 'run', ['main'], True)
  with pytest.raises(ValueError, match='labels'):
    plot_runs([str(tmp_path / 'run')], str(tmp_path), labels=['a', 'b'])
