"""Plays episodes with the latest checkpoint of a run and reports returns.

  python -m seed_stac.evaluate --logdir=runs/pong --episodes=10 [--greedy] [--video=pong.gif]
  python -m seed_stac.evaluate --logdir=runs/pong --episodes=30 --policy=random

Prints mean/median return (and, for Atari, the human-normalized score) and
writes them to `--output` (default LOGDIR/evaluation.json).
"""

# pylint: disable=wrong-import-position  # TensorFlow's start-up notices off first
from seed_stac.quiet import quiet_start

quiet_start()

import json
import os

from absl import app, flags
import tensorflow as tf

from seed_stac.evaluation import evaluate

_LOGDIR = flags.DEFINE_string('logdir', None, 'Run directory with config.json and checkpoints/.')
_EPISODES = flags.DEFINE_integer('episodes', 10, 'Episodes to play.')
_GREEDY = flags.DEFINE_bool('greedy', False, "Take the policy's mode instead of sampling.")
_SEED = flags.DEFINE_integer('seed', 12345, 'Seed of the evaluation environment and sampling.')
_VIDEO = flags.DEFINE_string('video', None,
                             'Write the first episode as an animated GIF (pixel envs).')
_POLICY = flags.DEFINE_enum(
    'policy', 'checkpoint', ['checkpoint', 'random'],
    "'random': a uniform random policy on the run's environment "
    '(the baseline; default output LOGDIR/evaluation_random.json).')
_OUTPUT = flags.DEFINE_string('output', None, 'JSON result path (default LOGDIR/evaluation.json).')
flags.mark_flag_as_required('logdir')


def main(argv):
  del argv
  result = evaluate(_LOGDIR.value, _EPISODES.value, _GREEDY.value, _SEED.value, _VIDEO.value,
                    _POLICY.value)
  name = 'evaluation.json' if _POLICY.value == 'checkpoint' else 'evaluation_random.json'
  output = _OUTPUT.value or os.path.join(_LOGDIR.value, name)
  with tf.io.gfile.GFile(output, 'w') as f:
    json.dump(result, f, indent=2)
  line = (f"{result['env']}: {result['episodes']} episodes, mean return "
          f"{result['mean_return']:.2f}, median {result['median_return']:.2f}")
  if 'human_normalized_mean' in result:
    line += f", human-normalized {100 * result['human_normalized_mean']:.1f}%"
  print(f'{line} -> {output}')


if __name__ == '__main__':
  app.run(main)
