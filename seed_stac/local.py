"""One command, one machine: the learner plus N actor processes on loopback.

  python -m seed_stac.local --config=configs/cartpole.py --num_actors=4 --logdir=runs/cartpole

The learner runs in this process; actors are child processes that find it on
127.0.0.1. Ctrl-C (or SIGTERM) checkpoints and stops everything.
"""

import os
import subprocess
import sys
from typing import List

from absl import app, flags
from ml_collections import config_flags

from seed_stac.learner.run import run_learner

_CONFIG = config_flags.DEFINE_config_file('config', 'configs/cartpole.py',
                                          'Config file (configs/*.py[:arg]).')
_LOGDIR = flags.DEFINE_string('logdir', None, 'Run directory; resumes if it has a checkpoint.')
_NUM_ACTORS = flags.DEFINE_integer('num_actors', None, 'Actor processes (default: config.actor.num_actors).')
flags.mark_flag_as_required('logdir')


def start_actors(port: int, num_actors: int) -> List[subprocess.Popen]:
  """Starts actor processes pointed at the learner on loopback."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
  return [subprocess.Popen([sys.executable, '-m', 'seed_stac.actor',
                            f'--learner_address=127.0.0.1:{port}', f'--actor_id={i}'],
                           env=env)
          for i in range(num_actors)]


def stop_actors(actors: List[subprocess.Popen], timeout_s: float = 10.0) -> None:
  for actor in actors:
    if actor.poll() is None:
      actor.terminate()
  for actor in actors:
    try:
      actor.wait(timeout_s)
    except subprocess.TimeoutExpired:
      actor.kill()


def run_local(config, logdir: str, num_actors: int) -> dict:
  # With every environment of this machine known, a fuller batch than the
  # environments can fill would only wait for batch_timeout_ms each step.
  total_envs = num_actors * config.actor.env_batch_size
  config.learner.inference_batch_size = min(config.learner.inference_batch_size, total_envs)
  actors: List[subprocess.Popen] = []
  try:
    return run_learner(config, logdir, '127.0.0.1:0',
                       on_ready=lambda port: actors.extend(start_actors(port, num_actors)))
  finally:
    stop_actors(actors)


def main(argv):
  del argv
  config = _CONFIG.value
  row = run_local(config, _LOGDIR.value, _NUM_ACTORS.value or config.actor.num_actors)
  print(f"Done: {int(row.get('frames', 0)):,} frames, "
        f"mean episode return {row.get('episode_return', float('nan')):.1f}")


if __name__ == '__main__':
  app.run(main)
