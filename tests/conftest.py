"""Shared test set-up: quiet TensorFlow, EGL rendering, a safe exit.

TensorFlow and MuJoCo (dm_control) loaded in one process crash in native
code during interpreter teardown ("free(): invalid pointer"), after every
test has run and been reported. So the session ends with os._exit carrying
pytest's own exit status: pass/fail is decided by the tests, not by
library destructors.
"""

import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('MUJOCO_GL', 'egl')

_EXIT_STATUS = []


def pytest_collection_finish(session):
  """Simulator tests must not share a process with TensorFlow (see Makefile)."""
  paths = {str(item.fspath) for item in session.items}
  has_envs = any(os.sep + os.path.join('tests', 'envs') + os.sep in p for p in paths)
  if has_envs and 'tensorflow' in sys.modules:
    raise RuntimeError('tests/envs must run in a pytest session without TensorFlow '
                       '(run `make test`, which runs them separately)')


def pytest_sessionfinish(session, exitstatus):
  _EXIT_STATUS.append(int(exitstatus))


def pytest_unconfigure(config):
  if _EXIT_STATUS and not hasattr(config, 'workerinput'):
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_EXIT_STATUS[-1])
