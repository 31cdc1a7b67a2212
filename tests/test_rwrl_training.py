"""A short real training run on the Real-World RL suite (1 actor process).

IMPALA on 'cartpole-realworld_swingup' at 'easy' (configs/rwrl.py), seed 0,
20k frames: the actor's 8 environments each play 2500 steps, so each ends two
1000-step episodes (16 returns) while the learner takes ~30 steps. It checks
the whole path (real suite in the actor, the spec handshake, learning on its
observations), not learning progress. Skips unless realworldrl_suite is
installed (`make test` installs the vendored copy from ../shared/vendor).
"""

import csv
import importlib.util
import math
import os

import pytest

from configs import rwrl
from seed_stac.launch import run_local

pytestmark = pytest.mark.skipif(importlib.util.find_spec('realworldrl_suite') is None,
                                reason='realworldrl_suite not installed: pip install '
                                '../shared/vendor/realworldrl_suite (vendored copy), or '
                                'pip install -r requirements-rwrl-nodeps.txt')


@pytest.mark.slow
def test_impala_trains_on_rwrl_cartpole(tmp_path):
  config = rwrl.get_config('cartpole-realworld_swingup,easy,impala')
  config.seed = 0
  config.learner.total_frames = 20_000
  config.learner.log_interval_s = 2.0
  logdir = str(tmp_path / 'rwrl')
  run_local(config, logdir, num_actors=1, show_progress=False)

  with open(os.path.join(logdir, 'progress.csv')) as f:
    rows = list(csv.DictReader(f))
  assert rows
  assert float(rows[-1]['frames']) >= config.learner.total_frames
  losses = [float(r['inner_loss']) for r in rows if r['inner_loss'] != '']
  assert losses and all(math.isfinite(v) for v in losses), losses
  returns = [float(r['episode_return']) for r in rows if r['episode_return'] not in ('', 'nan')]
  assert returns and all(math.isfinite(v) for v in returns), returns
  # Swing-up rewards are in [0, 1] per step, 1000 steps an episode.
  assert all(0.0 <= v <= 1000.0 for v in returns), returns
  assert max(float(r['episodes']) for r in rows) >= 2
