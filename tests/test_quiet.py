"""seed_stac.quiet: a binary prints our lines, not TensorFlow's start-up
notices, unless --verbose asks for them."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOISE = ('oneDNN', 'cuda', 'absl::InitializeLog', 'cpu_feature_guard', 'Sharding callback')


def _run_local(tmp_path, *extra):
  env = {
      k: v for k, v in os.environ.items() if k not in ('TF_CPP_MIN_LOG_LEVEL', 'SEED_STAC_VERBOSE')
  }
  out = subprocess.run([
      sys.executable, '-m', 'seed_stac.local', '--config=configs/catch.py', f'--logdir={tmp_path}',
      '--num_actors=1', '--config.learner.total_frames=1500', *extra
  ],
                       cwd=ROOT,
                       env=env,
                       capture_output=True,
                       text=True,
                       timeout=300)
  assert out.returncode == 0, out.stderr[-3000:]
  return out.stdout + out.stderr


def test_a_binary_starts_quietly_and_verbose_shows_everything(tmp_path):
  quiet = _run_local(tmp_path / 'quiet')
  assert 'Learner listening on port' in quiet and 'Done: ' in quiet
  assert [n for n in NOISE if n.lower() in quiet.lower()] == []
  verbose = _run_local(tmp_path / 'verbose', '--verbose')
  assert 'Done: ' in verbose
  assert len(verbose.splitlines()) > len(quiet.splitlines())
