"""One command, one machine: the learner plus N actor processes on loopback.

  python -m seed_stac.local --config=configs/cartpole.py --num_actors=4 --logdir=runs/cartpole

The learner runs in this process; actors are child processes that find it on
127.0.0.1. Ctrl-C (or SIGTERM) checkpoints and stops everything.
"""

# pylint: disable=wrong-import-position  # TensorFlow's start-up notices off first
from seed_stac.quiet import quiet_start

quiet_start()

import sys

from absl import app, flags
from ml_collections import config_flags

from seed_stac.launch import run_local
from seed_stac.config import ConfigError
from seed_stac.learner.checkpoints import CheckpointError

_CONFIG = config_flags.DEFINE_config_file('config', 'configs/cartpole.py',
                                          'Config file (configs/*.py[:arg]).')
_LOGDIR = flags.DEFINE_string('logdir', None, 'Run directory; resumes if it has a checkpoint.')
_NUM_ACTORS = flags.DEFINE_integer('num_actors', None,
                                   'Actor processes (default: config.actor.num_actors).')
flags.mark_flag_as_required('logdir')


def main(argv):
  del argv
  config = _CONFIG.value
  try:
    row = run_local(config, _LOGDIR.value, _NUM_ACTORS.value or config.actor.num_actors)
  except (CheckpointError, ConfigError) as e:
    sys.exit(f'Error: {e}')
  print(f"Done: {int(row.get('frames', 0)):,} frames, "
        f"mean episode return {row.get('episode_return', float('nan')):.1f}")


if __name__ == '__main__':
  app.run(main)
