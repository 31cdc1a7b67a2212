"""End-to-end learning in CI: STAC with 2 actor processes on CartPole-v1.

Seed 0 (config.seed; actors are asynchronous, so runs are not bit-identical),
budget 800k environment frames (configs/cartpole.py), threshold: some log
interval's mean episode return reaches 400 (CartPole-v1's cap is 500).
Measured here: about 5.5k frames/s on 2 cores, so roughly 2.5 minutes.
"""

import csv
import os

import pytest

from configs import cartpole
from seed_stac.launch import run_local

THRESHOLD = 400.0


@pytest.mark.slow
def test_stac_learns_cartpole(tmp_path):
  config = cartpole.get_config('stac')
  config.seed = 0
  config.learner.log_interval_s = 5.0
  logdir = str(tmp_path / 'cartpole')
  run_local(config, logdir, num_actors=2, show_progress=False)
  with open(os.path.join(logdir, 'progress.csv')) as f:
    rows = list(csv.DictReader(f))
  returns = [float(r['episode_return']) for r in rows if r['episode_return'] not in ('', 'nan')]
  frames = float(rows[-1]['frames'])
  assert frames >= config.learner.total_frames
  assert max(returns) >= THRESHOLD, (
      f'best mean return {max(returns):.1f} < {THRESHOLD} in {frames:,.0f} frames; '
      f'returns per interval: {[round(r) for r in returns]}')
