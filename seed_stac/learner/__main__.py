"""Learner binary: python -m seed_stac.learner --config=configs/atari.py:Pong --logdir=DIR"""

# pylint: disable=wrong-import-position  # TensorFlow's start-up notices off first
from seed_stac.quiet import quiet_start

quiet_start()

import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from seed_stac.config import ConfigError
from seed_stac.learner.checkpoints import CheckpointError
from seed_stac.learner.run import IDLE_EXIT_CODE, IdleExit, reached_return, run_learner
from seed_stac.rpc import server

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Config file (configs/*.py[:arg]).')
_LOGDIR = flags.DEFINE_string('logdir', None,
                              'Run directory (local or gs://); resumes if it has a checkpoint.')
_PORT = flags.DEFINE_integer('port', 8686, 'Port to serve actors on.')
_BIND = flags.DEFINE_string('bind_address', '127.0.0.1',
                            'Interface to bind; 0.0.0.0 for cloud runs.')
_TOKEN = flags.DEFINE_string('token', None,
                             'Shared token actors must present (or $SEED_STAC_TOKEN).')
_INSECURE = flags.DEFINE_bool(
    'insecure', False, 'Allow a non-loopback --bind_address without a token (only on a '
    'network nobody else can reach, e.g. a private Docker network).')
_TLS_CERT = flags.DEFINE_string('tls_cert', None, 'PEM certificate chain: serve actors over TLS.')
_TLS_KEY = flags.DEFINE_string('tls_key', None, 'PEM private key of --tls_cert.')
_TENSORBOARD_DIR = flags.DEFINE_string(
    'tensorboard_dir', None, 'Where TensorBoard events go (local or gs://); default --logdir. '
    "On Vertex AI, gcp.entrypoint sets it to $AIP_TENSORBOARD_LOG_DIR.")
flags.mark_flags_as_required(['config', 'logdir'])

# Stopped by SIGTERM/SIGINT before the frame budget (128 + SIGTERM): non-zero,
# so a Kubernetes Job or any supervisor restarts the learner, which resumes
# from the checkpoint it just wrote, instead of counting the run as complete.
STOPPED_EARLY_EXIT_CODE = 143


def main(argv):
  del argv
  token = _TOKEN.value or os.environ.get('SEED_STAC_TOKEN')
  address = f'{_BIND.value}:{_PORT.value}'
  if bool(_TLS_CERT.value) != bool(_TLS_KEY.value):
    raise app.UsageError('--tls_cert and --tls_key go together')
  tls = server.TlsFiles.read(_TLS_CERT.value, _TLS_KEY.value) if _TLS_CERT.value else None
  try:
    server.check_exposure(address, token, tls is not None, _INSECURE.value)
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  try:
    row = run_learner(_CONFIG.value,
                      _LOGDIR.value,
                      address,
                      token,
                      summary_dir=_TENSORBOARD_DIR.value,
                      tls=tls)
  except (CheckpointError, ConfigError) as e:
    sys.exit(f'Error: {e}')
  except IdleExit as e:
    logging.error('%s', e)
    sys.exit(IDLE_EXIT_CODE)
  total = _CONFIG.value.learner.total_frames
  if row.get('frames', 0) < total and not reached_return(row, _CONFIG.value.learner.stop_at_return):
    logging.warning(
        'Stopped at %d of %d frames with a checkpoint; run again with the same '
        '--logdir to resume (exit status %d).', row.get('frames', 0), total,
        STOPPED_EARLY_EXIT_CODE)
    sys.exit(STOPPED_EARLY_EXIT_CODE)


if __name__ == '__main__':
  app.run(main)
