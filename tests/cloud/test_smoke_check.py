"""docker/smoke_check.py, the images' build-time check, run here as a build
runs it: the learner role in this environment, the actor role with
TensorFlow unimportable (as in the actor image)."""

import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = str(REPO / 'docker' / 'smoke_check.py')
ENV = dict(os.environ, PYTHONPATH=str(REPO), MUJOCO_GL='egl', TF_CPP_MIN_LOG_LEVEL='3')
NO_TENSORFLOW = ("import runpy, sys; sys.modules['tensorflow'] = None; "
                 "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")


def _run(*args):
  return subprocess.run([sys.executable, *args],
                        env=ENV,
                        capture_output=True,
                        text=True,
                        timeout=300)


def test_learner_role_reads_gs_and_builds_a_dm_control_env():
  out = _run(SCRIPT, 'learner')
  assert out.returncode == 0, out.stderr[-2000:]
  assert 'reads gs://' in out.stdout and "observation_shape=(84, 84, 3)" in out.stdout


def test_actor_role_renders_pixels_without_tensorflow():
  out = _run('-c', NO_TENSORFLOW, SCRIPT, 'actor')
  assert out.returncode == 0, out.stderr[-2000:]
  assert 'renders (84, 84, 3) uint8 pixels' in out.stdout
  refused = _run(SCRIPT, 'actor')  # this environment has TensorFlow
  assert refused.returncode != 0 and 'must not contain TensorFlow' in refused.stderr


def test_unknown_role_is_a_usage_error():
  out = _run(SCRIPT, 'tpu')
  assert out.returncode == 2 and 'usage' in out.stderr
