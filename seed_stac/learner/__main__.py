"""Learner binary: python -m seed_stac.learner --config=configs/atari.py:Pong --logdir=DIR"""

import os

from absl import app, flags
from ml_collections import config_flags

from seed_stac.learner.run import run_learner

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Config file (configs/*.py[:arg]).')
_LOGDIR = flags.DEFINE_string('logdir', None, 'Run directory (local or gs://); resumes if it has a checkpoint.')
_PORT = flags.DEFINE_integer('port', 8686, 'Port to serve actors on.')
_BIND = flags.DEFINE_string('bind_address', '127.0.0.1', 'Interface to bind; 0.0.0.0 for cloud runs.')
_TOKEN = flags.DEFINE_string('token', None, 'Shared token actors must present (or $SEED_STAC_TOKEN).')
flags.mark_flags_as_required(['config', 'logdir'])


def main(argv):
  del argv
  token = _TOKEN.value or os.environ.get('SEED_STAC_TOKEN')
  run_learner(_CONFIG.value, _LOGDIR.value, f'{_BIND.value}:{_PORT.value}', token)


if __name__ == '__main__':
  app.run(main)
