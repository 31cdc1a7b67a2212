"""A quiet start for the binaries: our lines, not TensorFlow's and gRPC's.

Importing TensorFlow prints C++ notices (oneDNN, "Could not find cuda
drivers", "All log messages before absl::InitializeLog() ...") and a CPU-only
machine later prints "failed call to cuInit". None is actionable for a user
who did not ask for a GPU; a learner asked for one fails with its own message
(`learner.device`). `quiet_start()`, called by each binary before anything
imports TensorFlow, silences them:
- TF_CPP_MIN_LOG_LEVEL=3 and GRPC_VERBOSITY=ERROR (unless already set), which
  child processes inherit;
- file descriptor 2 sent to /dev/null while TensorFlow itself is imported
  (those notices are printed before any setting is read); an import that
  fails is retried with stderr open, so its own messages are shown;
- TensorFlow's Python logger at ERROR, and INFO lines that other packages
  send through absl's logging (TensorFlow's checkpoint saver) dropped:
  ours, and anyone's warnings and errors, stay.
`--verbose` (or SEED_STAC_VERBOSE=1) keeps everything.
"""

import contextlib
import logging as python_logging
import os
import sys
from typing import Optional, Sequence

from absl import flags
from absl import logging

_REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Our code's folders (a virtualenv inside the checkout is not ours).
_OURS = tuple(
    os.path.join(_REPOSITORY, folder) + os.sep
    for folder in ('seed_stac', 'benchmarks', 'gcp', 'configs', 'examples'))

flags.DEFINE_bool('verbose', False, "Show TensorFlow's and gRPC's start-up logs.")

VERBOSE_ENV = 'SEED_STAC_VERBOSE'


def verbose_requested(argv: Sequence[str]) -> bool:
  """--verbose (=true/1) among the arguments, or SEED_STAC_VERBOSE set to
  anything but '' or '0'."""
  flag = any(
      arg in ('--verbose', '--verbose=true', '--verbose=True', '--verbose=1') for arg in argv)
  return flag or os.environ.get(VERBOSE_ENV, '') not in ('', '0')


@contextlib.contextmanager
def _stderr_to_devnull():
  sys.stderr.flush()
  saved = os.dup(2)
  devnull = os.open(os.devnull, os.O_WRONLY)
  os.dup2(devnull, 2)
  try:
    yield
  finally:
    os.dup2(saved, 2)
    os.close(saved)
    os.close(devnull)


def quiet_start(argv: Optional[Sequence[str]] = None, tensorflow: bool = True) -> bool:
  """Silences start-up noise unless verbose logs were asked for; returns
  whether it did. Verbose runs pass SEED_STAC_VERBOSE=1 to child processes.
  tensorflow=False (the actor, which never imports it): the settings only."""
  if verbose_requested(sys.argv if argv is None else argv):
    os.environ[VERBOSE_ENV] = '1'
    return False
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
  os.environ.setdefault('GRPC_VERBOSITY', 'ERROR')
  if tensorflow:
    try:
      with _stderr_to_devnull():
        import tensorflow as tf  # pylint: disable=import-outside-toplevel
    except Exception:  # pylint: disable=broad-except  # import again with stderr open: shows why
      import tensorflow as tf  # pylint: disable=import-outside-toplevel
    tf.get_logger().setLevel('ERROR')
  logging.get_absl_handler().python_handler.addFilter(_ours_or_warnings)
  return True


def _ours_or_warnings(record: python_logging.LogRecord) -> bool:
  return record.levelno >= python_logging.WARNING or record.pathname.startswith(_OURS)
