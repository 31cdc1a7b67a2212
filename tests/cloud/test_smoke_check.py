"""docker/smoke_check.py, the images' build-time check, run here as a build
runs it: the learner role in this environment, the actor role with
TensorFlow unimportable (as in the actor image)."""

import importlib.util
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


# Images install the Real-World RL suite; here it is present when the
# vendored copy was (`make test`), and without it the check must fail naming it.
HAS_RWRL = importlib.util.find_spec('realworldrl_suite') is not None


def _assert_rwrl_checked(out):
  if HAS_RWRL:
    assert out.returncode == 0, out.stderr[-2000:]
  else:
    assert out.returncode != 0 and 'realworldrl_suite' in out.stderr


def test_learner_role_reads_gs_and_builds_a_dm_control_and_an_rwrl_env():
  out = _run(SCRIPT, 'learner')
  _assert_rwrl_checked(out)
  assert 'dmc spec' in out.stdout and 'observation_shape=(84, 84, 3)' in out.stdout
  if HAS_RWRL:
    assert 'rwrl spec' in out.stdout and 'reads gs://' in out.stdout


def test_actor_role_renders_pixels_and_resets_rwrl_without_tensorflow():
  out = _run('-c', NO_TENSORFLOW, SCRIPT, 'actor')
  _assert_rwrl_checked(out)
  assert 'renders (84, 84, 3) uint8 pixels' in out.stdout
  if HAS_RWRL:
    assert 'Real-World RL resets to' in out.stdout
  refused = _run(SCRIPT, 'actor')  # this environment has TensorFlow
  assert refused.returncode != 0 and 'must not contain TensorFlow' in refused.stderr


def test_unknown_role_is_a_usage_error():
  out = _run(SCRIPT, 'tpu')
  assert out.returncode == 2 and 'usage' in out.stderr


def test_an_image_without_the_rwrl_suite_fails_its_check_naming_it():
  hidden = NO_TENSORFLOW.replace(
      "sys.modules['tensorflow'] = None;", "sys.modules['tensorflow'] = None; "
      "sys.modules['realworldrl_suite'] = None;")
  out = _run('-c', hidden, SCRIPT, 'actor')
  assert out.returncode != 0 and 'realworldrl_suite' in out.stderr
