"""The self-tuning report of a run: curves, metaparameters, an override line.

  python -m seed_stac.report --logdir=runs/stac [--out=DIR]

Writes report.md, returns.png and metaparameters.png (default LOGDIR/report;
see seed_stac.reporting) and prints the override line that trains plain IMPALA
with the values STAC found.
"""

from absl import app, flags

from seed_stac.plotting import read_progress
from seed_stac.reporting import override_line, write_report

_LOGDIR = flags.DEFINE_string('logdir', None, 'Run directory (progress.csv, config.json).')
_OUT = flags.DEFINE_string('out', None, 'Output directory (default LOGDIR/report).')
flags.mark_flag_as_required('logdir')


def main(argv):
  del argv
  path = write_report(_LOGDIR.value, _OUT.value)
  print(path)
  print(override_line(read_progress(_LOGDIR.value)))


if __name__ == '__main__':
  app.run(main)
