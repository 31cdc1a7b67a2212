"""Starting the learner and N actor processes on this machine (no flags here;
the binary is seed_stac.local)."""

import os
import subprocess
from typing import List

from seed_stac.commands import actor_command
from seed_stac.learner.run import run_learner


def start_actors(port: int, num_actors: int) -> List[subprocess.Popen]:
  """Starts actor processes pointed at the learner on loopback; they stop
  when this process dies, even by SIGKILL (`--exit_with_parent`)."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
  return [
      subprocess.Popen(actor_command(f'127.0.0.1:{port}', i, ['--exit_with_parent']), env=env)
      for i in range(num_actors)
  ]


def stop_actors(actors: List[subprocess.Popen], timeout_s: float = 10.0) -> None:
  for actor in actors:
    if actor.poll() is None:
      actor.terminate()
  for actor in actors:
    try:
      actor.wait(timeout_s)
    except subprocess.TimeoutExpired:
      actor.kill()


def run_local(config, logdir: str, num_actors: int, **learner_kwargs) -> dict:
  # With every environment of this machine known, a fuller batch than the
  # environments can fill would only wait for batch_timeout_ms each step.
  total_envs = num_actors * config.actor.env_batch_size
  config.learner.inference_batch_size = min(config.learner.inference_batch_size, total_envs)
  actors: List[subprocess.Popen] = []
  try:
    return run_learner(config,
                       logdir,
                       '127.0.0.1:0',
                       on_ready=lambda port: actors.extend(start_actors(port, num_actors)),
                       **learner_kwargs)
  finally:
    stop_actors(actors)
