"""End to end on loopback: learner + 2 actor processes on Catch; logs,
checkpoint, and resume from the same logdir; stopping at a target return."""

import csv
import json
import os

import pytest

from configs import catch
from seed_stac.launch import run_local
from seed_stac.learner.run import reached_return


@pytest.mark.slow
def test_local_run_logs_checkpoints_and_resumes(tmp_path):
  config = catch.get_config('stac')
  config.learner.total_frames = 3000
  config.learner.batch_size = 4
  config.learner.log_interval_s = 0.5
  config.actor.env_batch_size = 4
  logdir = str(tmp_path / 'run')
  row = run_local(config, logdir, num_actors=2)
  assert row['frames'] >= 3000 and row['learner_steps'] > 0
  assert row['episode_length'] == 9  # every Catch episode is rows - 1 agent steps
  with open(os.path.join(logdir, 'config.json')) as f:
    written = json.load(f)
  assert written['learner']['total_frames'] == 3000
  assert written['devices']['train']  # what it really used: the policy's first batch's device
  assert written['devices']['inference'][0].endswith('CPU:0')
  assert any(name.startswith('ckpt') for name in os.listdir(os.path.join(logdir, 'checkpoints')))
  with open(os.path.join(logdir, 'progress.csv')) as f:
    rows = list(csv.DictReader(f))
  assert rows and 'main/gamma' in rows[0] and 'episode_return' in rows[0]
  steps_before = row['learner_steps']
  gamma_before = row['main/gamma']

  config.learner.total_frames = 6000
  resumed = run_local(config, logdir, num_actors=2)
  assert resumed['frames'] >= 6000
  assert resumed['learner_steps'] > steps_before
  assert resumed['main/gamma'] != gamma_before  # tuning went on from the restored value
  with open(os.path.join(logdir, 'progress.csv')) as f:
    frames = [float(r['frames']) for r in csv.DictReader(f)]
  assert frames[-1] >= 6000 and min(frames[len(rows):]) >= 3000  # counters continued


@pytest.mark.slow
def test_a_run_stops_once_a_log_row_reaches_stop_at_return(tmp_path, capsys):
  config = catch.get_config('impala')
  config.learner.total_frames = 10_000_000
  config.learner.stop_at_return = -1.0  # Catch's lowest return: the first finished episode meets it
  config.learner.log_interval_s = 0.5
  config.actor.env_batch_size = 4
  row = run_local(config, str(tmp_path / 'run'), num_actors=2)  # returns: the actors were told
  assert row['episode_return'] >= -1.0 and row['frames'] < 100_000
  assert 'reached stop_at_return=-1' in capsys.readouterr().out


@pytest.mark.parametrize(
    'episode_return,target,reached',
    [
        (0.5, None, False),
        (0.5, 0.5, True),
        (0.4, 0.5, False),
        (float('nan'), -1e9, False),  # no episode finished yet
    ])
def test_reached_return(episode_return, target, reached):
  assert reached_return({'episode_return': episode_return}, target) == reached
  assert not reached_return({}, target)
