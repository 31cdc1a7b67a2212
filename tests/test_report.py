"""seed_stac.report on a real (short) STAC run: the page, its plots, and an
override line that a config accepts and that carries the final values."""

import os
import subprocess
import sys

import pytest

from configs import catch
from seed_stac import config as config_lib
from seed_stac.launch import run_local
from seed_stac.plotting import read_progress
from seed_stac.reporting import final_return, override_line, write_report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_report_of_a_stac_run_gives_an_impala_override_with_the_final_values(tmp_path):
  config = catch.get_config('stac')
  config.learner.update(total_frames=3000, batch_size=4, log_interval_s=0.3)
  config.actor.env_batch_size = 4
  logdir = str(tmp_path / 'stac')
  run_local(config, logdir, num_actors=1, show_progress=False)
  path = write_report(logdir)
  page = open(path).read()
  assert os.path.exists(os.path.join(logdir, 'report', 'returns.png'))
  assert os.path.exists(os.path.join(logdir, 'report', 'metaparameters.png'))
  assert '| main/gamma |' in page and 'self-tuned: gamma, lambda, g_v, g_p, g_e, alpha' in page
  columns = read_progress(logdir)
  line = override_line(columns)
  assert line in page
  # The line is valid config overrides; applied, IMPALA runs on STAC's values.
  impala = catch.get_config('stac')
  for part in line.split():
    key, value = part[len('--config.'):].split('=')
    section = impala
    *path_keys, last = key.split('.')
    for k in path_keys:
      section = section[k]
    section[last] = value if last == 'agent' else float(value)
  config_lib.validate(impala)
  assert impala.agent == 'impala'
  assert impala.algo.fixed.gamma == pytest.approx(columns['main/gamma'][-1], rel=1e-5)
  assert impala.algo.fixed.lambda_ == pytest.approx(columns['main/lambda'][-1], rel=1e-5)
  assert final_return(columns) == final_return(columns)  # a number, not NaN
  binary = subprocess.run([
      sys.executable, '-m', 'seed_stac.report', f'--logdir={logdir}',
      f'--out={tmp_path / "elsewhere"}'
  ],
                          cwd=ROOT,
                          capture_output=True,
                          text=True,
                          check=True)
  assert line in binary.stdout and os.path.exists(tmp_path / 'elsewhere' / 'report.md')


def test_not_a_run_directory(tmp_path):
  with pytest.raises(FileNotFoundError, match='progress.csv'):
    write_report(str(tmp_path))
