"""seed_stac.learner.logs: the CSV keeps every column, whenever it first appears."""

import csv
import math

from seed_stac.learner.logs import RunLogger


def read(path):
  with open(path) as f:
    return list(csv.DictReader(f))


def row(frames, **extra):
  return dict(frames=float(frames), learner_steps=0.0, fps=1.0, episode_return=math.nan,
              episodes=0.0, **extra)


def test_columns_that_appear_later_are_added_and_kept_on_resume(tmp_path):
  logger = RunLogger(str(tmp_path), total_frames=100, show_progress=False)
  logger.write(row(10, **{'main/gamma': 0.99}))  # before the first training step
  logger.write(row(20, **{'main/gamma': 0.98, 'inner_loss': 1.5, 'main/entropy': 0.7}))
  rows = read(tmp_path / 'progress.csv')
  assert [r['frames'] for r in rows] == ['10.0', '20.0']
  assert rows[0]['inner_loss'] == '' and rows[1]['inner_loss'] == '1.5'
  assert rows[1]['main/entropy'] == '0.7' and rows[0]['main/gamma'] == '0.99'
  resumed = RunLogger(str(tmp_path), total_frames=100, show_progress=False)
  resumed.write(row(30, **{'main/gamma': 0.97, 'inner_loss': 1.0, 'main/entropy': 0.6}))
  rows = read(tmp_path / 'progress.csv')
  assert [r['inner_loss'] for r in rows] == ['', '1.5', '1.0']


def test_tensorboard_events_can_go_to_their_own_folder(tmp_path):
  # Vertex AI's TensorBoard reads AIP_TENSORBOARD_LOG_DIR, not the logdir.
  logdir, events = tmp_path / 'run', tmp_path / 'tb'
  logdir.mkdir()
  RunLogger(str(logdir), total_frames=100, show_progress=False,
            summary_dir=str(events)).write(row(10, inner_loss=1.0))
  assert [p.name for p in logdir.iterdir()] == ['progress.csv']
  (event_file,) = events.iterdir()
  assert event_file.name.startswith('events.out.tfevents')
  RunLogger(str(logdir), total_frames=100, show_progress=False).write(row(20))
  assert any(p.name.startswith('events.out.tfevents') for p in logdir.iterdir())
