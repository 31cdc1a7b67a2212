"""seed_stac.learner.logs: the sinks (the CSV keeps every column, whenever it
first appears; TensorBoard's folder; the progress line; W&B offline)."""

import csv
import io
import math
import os

import ml_collections
import pytest

from seed_stac.config import default_config
from seed_stac.learner import logs
from seed_stac.learner.logs import CsvSink, RunLogger, TensorBoardSink, TerminalSink


def _logger(logdir, summary_dir=None):
  return RunLogger([CsvSink(str(logdir)), TensorBoardSink(str(summary_dir or logdir))])


def read(path):
  with open(path) as f:
    return list(csv.DictReader(f))


def row(frames, **extra):
  return dict(frames=float(frames),
              learner_steps=0.0,
              fps=1.0,
              episode_return=math.nan,
              episodes=0.0,
              **extra)


def test_columns_that_appear_later_are_added_and_kept_on_resume(tmp_path):
  logger = _logger(tmp_path)
  logger.write(row(10, **{'main/gamma': 0.99}))  # before the first training step
  logger.write(row(20, **{'main/gamma': 0.98, 'inner_loss': 1.5, 'main/entropy': 0.7}))
  rows = read(tmp_path / 'progress.csv')
  assert [r['frames'] for r in rows] == ['10.0', '20.0']
  assert rows[0]['inner_loss'] == '' and rows[1]['inner_loss'] == '1.5'
  assert rows[1]['main/entropy'] == '0.7' and rows[0]['main/gamma'] == '0.99'
  resumed = _logger(tmp_path)
  resumed.write(row(30, **{'main/gamma': 0.97, 'inner_loss': 1.0, 'main/entropy': 0.6}))
  rows = read(tmp_path / 'progress.csv')
  assert [r['inner_loss'] for r in rows] == ['', '1.5', '1.0']


def test_tensorboard_events_can_go_to_their_own_folder(tmp_path):
  # Vertex AI's TensorBoard reads AIP_TENSORBOARD_LOG_DIR, not the logdir.
  logdir, events = tmp_path / 'run', tmp_path / 'tb'
  logdir.mkdir()
  _logger(logdir, events).write(row(10, inner_loss=1.0))
  assert [p.name for p in logdir.iterdir()] == ['progress.csv']
  (event_file,) = events.iterdir()
  assert event_file.name.startswith('events.out.tfevents')
  _logger(logdir).write(row(20))
  assert any(p.name.startswith('events.out.tfevents') for p in logdir.iterdir())


def test_progress_line():
  out = io.StringIO()
  TerminalSink(100, out).write(dict(row(25), episode_return=3.25))
  assert out.getvalue().startswith('[#######-----------------------]  25.0% frames 25 ')
  assert out.getvalue().strip().endswith('return 3.2')


def test_default_sinks_and_the_log_section(tmp_path):
  config = default_config().log
  kinds = [type(s).__name__ for s in logs.make_sinks(config, str(tmp_path), 100)]
  assert kinds == ['CsvSink', 'TensorBoardSink', 'TerminalSink']
  quiet = logs.make_sinks(config, str(tmp_path), 100, show_progress=False)
  assert [type(s).__name__ for s in quiet] == ['CsvSink', 'TensorBoardSink']


def test_wandb_sink_offline(tmp_path, monkeypatch):
  """W&B in offline mode: no account or network; the run is written under
  the logdir and the same logdir resumes the same run id."""
  wandb = pytest.importorskip('wandb')
  monkeypatch.setenv('WANDB_SILENT', 'true')
  config = ml_collections.ConfigDict(
      dict(wandb_project='seed-stac-test', wandb_entity='', wandb_mode='offline'))
  sinks = logs.make_sinks(config,
                          str(tmp_path),
                          100,
                          show_progress=False,
                          run_config={'agent': 'stac'})
  sink = sinks[-1]
  assert isinstance(sink, logs.WandbSink)
  sink.write(row(10, **{'main/gamma': 0.99, 'inner_loss': math.nan}))
  sink.write(row(20, **{'main/gamma': 0.98, 'inner_loss': 1.5}))
  assert sink.run.summary['main/gamma'] == 0.98 and sink.run.summary['inner_loss'] == 1.5
  assert sink.run.config['agent'] == 'stac'
  run_id = sink.run.id
  sink.close()
  assert (tmp_path / 'wandb_run_id').read_text() == run_id
  runs = [d for d in os.listdir(tmp_path / 'wandb') if d.startswith('offline-run-')]
  assert len(runs) == 1 and runs[0].endswith(run_id)
  assert wandb.run is None  # finished


def test_wandb_errors(tmp_path):
  with pytest.raises(ValueError, match="log.wandb_mode must be one of"):
    logs.WandbSink('p', str(tmp_path), mode='disabled')


def test_rewind_cuts_the_log_back_to_the_resumed_frame(tmp_path):
  sink = logs.CsvSink(str(tmp_path))
  for frames in (100, 200, 300, 400):
    sink.write({
        'frames': frames,
        'learner_steps': frames / 10,
        'fps': 1.0,
        'episode_return': 0.5,
        'episode_length': 3.0,
        'episodes': 1.0
    })
  assert logs.rewind_progress(str(tmp_path), 250) == 2
  assert logs.rewind_progress(str(tmp_path), 250) == 0
  assert logs.rewind_progress(str(tmp_path / 'no_run_here'), 0) == 0
  resumed = logs.CsvSink(str(tmp_path))
  resumed.write({
      'frames': 260,
      'learner_steps': 26.0,
      'fps': 1.0,
      'episode_return': 0.7,
      'episode_length': 3.0,
      'episodes': 1.0
  })
  with open(tmp_path / 'progress.csv') as f:
    assert [int(float(r['frames'])) for r in csv.DictReader(f)] == [100, 200, 260]
