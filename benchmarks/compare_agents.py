"""Runs agents x seeds with the same budget and summarises the comparison.

  python -m benchmarks.compare_agents --config=cartpole --agents=impala,stac --seeds=0,1,2 \
      --root=runs/compare

Each run is `seed_stac.local` with 2 actors in ROOT/{config}_{agent}_s{seed}
(finished runs are reused). Prints, per agent, the mean episode return over
the last --final_intervals log intervals of each seed and their mean, and
writes ROOT/{config}/returns.png and metaparameters.png (seed 0 of each agent).
"""

import csv
import importlib
import os
import statistics

from absl import app, flags

from seed_stac.launch import run_local
from seed_stac.plotting import plot_runs

flags.DEFINE_string('config', 'cartpole', 'A config module in configs/ (cartpole, catch, ...).')
flags.DEFINE_list('agents', ['impala', 'stac'], 'Agent variants to compare.')
flags.DEFINE_list('seeds', ['0', '1', '2'], 'Seeds.')
flags.DEFINE_string('root', 'runs/compare', 'Where the runs go.')
flags.DEFINE_integer('num_actors', 2, 'Actor processes per run.')
flags.DEFINE_integer('final_intervals', 3, 'Log intervals averaged for the final return.')
FLAGS = flags.FLAGS


def final_return(logdir: str, intervals: int) -> float:
  with open(os.path.join(logdir, 'progress.csv')) as f:
    returns = [float(r['episode_return']) for r in csv.DictReader(f)
               if r['episode_return'] not in ('', 'nan')]
  return statistics.mean(returns[-intervals:])


def main(_):
  module = importlib.import_module(f'configs.{FLAGS.config}')
  results = {}
  for agent in FLAGS.agents:
    for seed in map(int, FLAGS.seeds):
      logdir = os.path.join(FLAGS.root, f'{FLAGS.config}_{agent}_s{seed}')
      if not os.path.exists(os.path.join(logdir, 'progress.csv')):
        config = module.get_config(agent)
        config.seed = seed
        config.learner.log_interval_s = 5.0
        run_local(config, logdir, FLAGS.num_actors, show_progress=False)
      results.setdefault(agent, []).append(final_return(logdir, FLAGS.final_intervals))
  for agent, returns in results.items():
    print(f'{FLAGS.config} {agent:7s} final mean return per seed '
          f"{', '.join(f'{r:.1f}' for r in returns)}  mean {statistics.mean(returns):.1f}")
  out = os.path.join(FLAGS.root, FLAGS.config)
  for path in plot_runs([os.path.join(FLAGS.root, f'{FLAGS.config}_{a}_s{FLAGS.seeds[0]}')
                         for a in FLAGS.agents], out, labels=list(FLAGS.agents)):
    print(path)


if __name__ == '__main__':
  app.run(main)
