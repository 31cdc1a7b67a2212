"""Measures env steps/s through the transport on loopback (not a test).

A FakeLearner answering zero actions at once serves in this process; actor
processes (`python -m seed_stac.actor`) step env batches (catch by default)
against it. `benchmarks/throughput.py` (b) uses it with Pong as the
transport floor: what a learner that only decodes and answers would allow.

  python -m seed_stac.rpc.loopback_benchmark [--actors 2] [--env_batch_size 64]
"""

import argparse
import os
import signal
import subprocess
import time
from typing import Optional

from seed_stac.commands import actor_command
from seed_stac.rpc import testing

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def measure(num_actors: int,
            env_batch_size: int,
            seconds: float,
            warmup_s: float = 2.0,
            env_config: Optional[dict] = None,
            startup_timeout_s: float = 300.0) -> float:
  """Returns env steps/s summed over actors, measured from `warmup_s` after
  every actor has stepped its envs (building them can take seconds).

  env_config: {'kind', 'name', 'seed', 'options'} sent to the actors; None:
  catch. RuntimeError if an actor exits or not all step within
  `startup_timeout_s`.
  """
  learner = testing.FakeLearner(env_config, env_batch_size=env_batch_size, zero_actions=True)
  serving = testing.ServerThread(learner)
  env = dict(os.environ, PYTHONPATH=_REPO)
  actors = [
      subprocess.Popen(actor_command(serving.address, i),
                       env=env,
                       cwd=_REPO,
                       stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL) for i in range(num_actors)
  ]
  try:
    _wait_until_all_step(learner, actors, startup_timeout_s)
    time.sleep(warmup_s)
    start_steps, start = sum(learner.steps.values()), time.monotonic()
    time.sleep(seconds)
    steps, end = sum(learner.steps.values()), time.monotonic()
  finally:
    for process in actors:
      process.send_signal(signal.SIGTERM)
    for process in actors:
      process.wait(10)
    serving.stop()
  return (steps - start_steps) * env_batch_size / (end - start)


def _wait_until_all_step(learner, actors, timeout_s: float) -> None:
  deadline = time.monotonic() + timeout_s
  # Count 2: an actor's first request is its reset observation.
  while sum(count >= 2 for count in list(learner.steps.values())) < len(actors):
    exited = [i for i, process in enumerate(actors) if process.poll() is not None]
    if exited:
      raise RuntimeError(f'loopback benchmark: actor {exited[0]} exited with status '
                         f'{actors[exited[0]].returncode} before stepping')
    if time.monotonic() > deadline:
      raise RuntimeError(f'loopback benchmark: not every actor stepped within {timeout_s} s')
    time.sleep(0.1)


def main():
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument('--actors', type=int, default=2)
  parser.add_argument('--env_batch_size', type=int, default=64)
  parser.add_argument('--seconds', type=float, default=10.0)
  args = parser.parse_args()
  rate = measure(args.actors, args.env_batch_size, args.seconds)
  print(f'{args.actors} actors x {args.env_batch_size} catch envs: '
        f'{rate:,.0f} env steps/s')


if __name__ == '__main__':
  main()
