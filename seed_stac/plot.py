"""Draws a run's (or several runs') learning curves and self-tuned values.

  python -m seed_stac.plot --logdir=runs/impala --logdir=runs/stac [--out=plots]

Writes returns.png and metaparameters.png (see seed_stac.plotting).
"""

from absl import app, flags

from seed_stac.plotting import plot_runs

_LOGDIRS = flags.DEFINE_multi_string('logdir', None, 'Run directories (repeat the flag).')
_OUT = flags.DEFINE_string('out', None, 'Output directory (default: the first logdir).')
_LABELS = flags.DEFINE_list('labels', None, 'Legend labels, one per logdir (default: names).')
flags.mark_flag_as_required('logdir')


def main(argv):
  del argv
  for path in plot_runs(_LOGDIRS.value, _OUT.value or _LOGDIRS.value[0], _LABELS.value):
    print(path)


if __name__ == '__main__':
  app.run(main)
