"""End-to-end learning in CI, 2 actor processes each.

Seed 0 (config.seed; actors are asynchronous, so runs are not bit-identical).
  * STAC on CartPole-v1, budget 800k frames (configs/cartpole.py): some log
    interval's mean episode return reaches 400 (the cap is 500). It runs
    the whole budget: 8-9 minutes in a clean-clone CI run here (1.5-2k
    frames/s on 2 cores), the suite's longest test.
  * IMPALA and STAC on Catch, budget 150k frames (configs/catch.py): some log
    interval's mean episode return reaches 0.8 (+1 catches every ball, random
    play is about -0.6). About 50 s each here; both reached 0.8 by 64k-76k
    frames and ended at 0.95-0.98.
"""

import csv
import os

import pytest

from configs import cartpole, catch
from seed_stac.launch import run_local


def run_and_read_returns(config, logdir):
  """Runs to the config's budget; (frames played, mean return per log interval)."""
  config.seed = 0
  config.learner.log_interval_s = 5.0
  run_local(config, logdir, num_actors=2, show_progress=False)
  with open(os.path.join(logdir, 'progress.csv')) as f:
    rows = list(csv.DictReader(f))
  returns = [float(r['episode_return']) for r in rows if r['episode_return'] not in ('', 'nan')]
  frames = float(rows[-1]['frames'])
  assert frames >= config.learner.total_frames
  return frames, returns


def assert_reaches(threshold, frames, returns):
  assert returns and max(returns) >= threshold, (
      f'best mean return {max(returns, default=float("nan")):.2f} < {threshold} in '
      f'{frames:,.0f} frames; returns per interval: {[round(r, 2) for r in returns]}')


@pytest.mark.slow
def test_stac_learns_cartpole(tmp_path):
  assert_reaches(400.0,
                 *run_and_read_returns(cartpole.get_config('stac'), str(tmp_path / 'cartpole')))


@pytest.mark.slow
@pytest.mark.parametrize('agent', ['impala', 'stac'])
def test_learns_catch(tmp_path, agent):
  assert_reaches(0.8, *run_and_read_returns(catch.get_config(agent), str(tmp_path / agent)))
