"""Measures env steps/s through the transport on loopback (not a test).

A FakeLearner answering zero actions at once serves in this process; actor
processes (`python -m seed_stac.actor`) step catch env batches against it.

  python -m seed_stac.rpc.loopback_benchmark [--actors 2] [--env_batch_size 64]
"""

import argparse
import os
import signal
import subprocess
import time

from seed_stac.commands import actor_command
from seed_stac.rpc import testing

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def measure(num_actors: int, env_batch_size: int, seconds: float, warmup_s: float = 2.0) -> float:
  """Returns env steps/s summed over actors, after `warmup_s` of start-up."""
  learner = testing.FakeLearner(env_batch_size=env_batch_size, zero_actions=True)
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
