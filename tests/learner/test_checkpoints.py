"""Checkpoints hold every network weight (torso included), metaparameters,
both optimizers and counters; a fresh network restores all of them. A write
cut short (a learner SIGKILLed inside one) leaves the previous checkpoint as
the latest, and a restarted learner resumes from it."""

import csv
import glob
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from configs import atari, cartpole
from seed_stac import builder
from seed_stac.envs.base import ActionSpec, EnvSpec
from seed_stac.evaluation import restore_network
from seed_stac.learner.checkpoints import CheckpointError, Checkpointer

CARTPOLE = EnvSpec('cartpole', (4,), 'float32', ActionSpec('discrete', num_actions=2))


def _perturb(variables, seed):
  rng = np.random.default_rng(seed)
  for v in variables:
    v.assign(v + rng.normal(size=v.shape).astype(v.numpy().dtype))


def test_every_network_weight_round_trips(tmp_path):
  config = cartpole.get_config('stacx')
  config.network.lstm_size = 8
  agent = builder.build_agent(config, CARTPOLE)
  _perturb(agent.network.variables, 0)
  _perturb(agent.metaparams.logit_variables, 1)
  saved = [v.numpy().copy() for v in agent.network.variables]
  Checkpointer(str(tmp_path / 'checkpoints'),
               frames=tf.Variable(7, dtype=tf.int64),
               **agent.checkpoint_objects()).save()

  network, _ = restore_network(config, str(tmp_path), CARTPOLE)
  assert len(network.variables) == len(saved)
  for restored, expected in zip(network.variables, saved):
    np.testing.assert_array_equal(restored.numpy(), expected)

  fresh = builder.build_agent(config, CARTPOLE)
  frames = tf.Variable(0, dtype=tf.int64)
  Checkpointer(str(tmp_path / 'checkpoints'), frames=frames,
               **fresh.checkpoint_objects()).restore_latest()
  assert frames.numpy() == 7
  np.testing.assert_allclose([float(v) for v in fresh.metaparams.logit_variables],
                             [float(v) for v in agent.metaparams.logit_variables])


def test_resnet_torso_weights_are_in_the_checkpoint(tmp_path):
  spec = EnvSpec('pong', (84, 84, 1), 'uint8', ActionSpec('discrete', num_actions=6), frame_stack=4)
  agent = builder.build_agent(atari.get_config('Pong'), spec)
  path = Checkpointer(str(tmp_path), **agent.checkpoint_objects()).save()
  saved = sum(
      int(np.prod(shape))
      for name, shape in tf.train.list_variables(path)
      if name.startswith('network_weights/'))
  assert saved == sum(int(np.prod(v.shape)) for v in agent.network.variables)


def test_mirrored_agent_trains_and_checkpoints(tmp_path):
  """config.learner.strategy='mirrored' builds under MirroredStrategy (one
  replica on this CPU machine; the 2-replica equality is tests/algo/test_distributed.py)."""
  from helpers import random_unroll
  config = cartpole.get_config('stac')
  config.learner.strategy = 'mirrored'
  agent = builder.build_agent(config, CARTPOLE)
  assert isinstance(agent.updater.strategy, tf.distribute.MirroredStrategy)
  unroll = random_unroll(np.random.default_rng(0), 4, 4, (4,), CARTPOLE.action)
  stats = agent.updater.step(unroll)
  assert np.isfinite(float(stats['outer_loss']))
  Checkpointer(str(tmp_path), **agent.checkpoint_objects()).save()


def test_leftovers_of_an_interrupted_write_are_not_the_latest(tmp_path):
  """What a kill inside save N leaves (ckpt-N_temp/ shards, or ckpt-N files
  the index does not name yet) is ignored by restore, then overwritten."""
  directory = str(tmp_path)
  frames = tf.Variable(0, dtype=tf.int64)
  checkpointer = Checkpointer(directory, frames=frames)
  for value in (10, 20):
    frames.assign(value)
    second = checkpointer.save()
  assert second.endswith('ckpt-2')
  os.makedirs(os.path.join(directory, 'ckpt-3_temp'))
  with open(os.path.join(directory, 'ckpt-3_temp', 'part-00000-of-00001.index'), 'wb') as f:
    f.write(b'half')
  for suffix in ('.index', '.data-00000-of-00001'):
    with open(os.path.join(directory, 'ckpt-4' + suffix), 'wb') as f:
      f.write(b'\x00garbage')

  restarted = tf.Variable(0, dtype=tf.int64)
  resumed = Checkpointer(directory, frames=restarted)
  assert resumed.restore_latest() == second and int(restarted.numpy()) == 20
  restarted.assign(30)
  third = resumed.save()
  assert third.endswith('ckpt-3') and not os.path.exists(third + '_temp')
  again = tf.Variable(0, dtype=tf.int64)
  assert Checkpointer(directory, frames=again).restore_latest() == third
  assert int(again.numpy()) == 30


# Durability: a learner killed while writing a checkpoint. -------------------
# tf.train.CheckpointManager writes a save's shards to `ckpt-N_temp/`, merges
# them into `ckpt-N.{index,data-*}`, and only then rewrites the `checkpoint`
# index file (atomically, temp file + rename) to name ckpt-N as the latest.
# A kill at any point before that rename must leave ckpt-(N-1) as the latest,
# loadable, and a restarted learner must resume from it.

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_CHILD_ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
_AGENT = 'impala'  # the quickest first learner step; the checkpoint code is the same

# Runs `python -m seed_stac.learner ARGS` with one checkpoint write paused
# at a chosen point, so that the test can SIGKILL it exactly there:
#   before_merge: the shards are written to ckpt-N_temp/, not yet merged
#                 into ckpt-N.* (the middle of the data write);
#   before_index: ckpt-N.* is complete, the `checkpoint` index not updated.
# The pause hits the second save that starts after the file ARM exists (so
# that the previous, complete checkpoint holds training progress), writes the
# checkpoint prefix to MARKER and sleeps.
_PAUSED_LEARNER = r'''
import os, runpy, sys, time
mode, arm, marker = sys.argv[1:4]
sys.argv = ['seed_stac.learner'] + sys.argv[4:]
from tensorflow.python.checkpoint import checkpoint_management
from tensorflow.python.ops import gen_io_ops
saves = []

def maybe_pause(prefix):
  if not os.path.exists(arm) or prefix in saves:
    return
  saves.append(prefix)
  if len(saves) == 2:
    with open(marker + '.tmp', 'w') as f:
      f.write(prefix)
    os.rename(marker + '.tmp', marker)
    time.sleep(3600)

if mode == 'before_merge':
  merge = gen_io_ops.merge_v2_checkpoints
  def merge_v2_checkpoints(checkpoint_prefixes, destination_prefix, *args, **kwargs):
    maybe_pause(destination_prefix.numpy().decode())
    return merge(checkpoint_prefixes, destination_prefix, *args, **kwargs)
  gen_io_ops.merge_v2_checkpoints = merge_v2_checkpoints
else:
  record = checkpoint_management.CheckpointManager._record_state
  def _record_state(self):
    maybe_pause(self._latest_checkpoint)
    return record(self)
  checkpoint_management.CheckpointManager._record_state = _record_state
runpy.run_module('seed_stac.learner', run_name='__main__', alter_sys=True)
'''


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def _spawn(args, log_path):
  with open(log_path, 'w') as log:
    return subprocess.Popen([sys.executable] + args,
                            cwd=ROOT,
                            env=_CHILD_ENV,
                            stdout=log,
                            stderr=subprocess.STDOUT)


def _each_damage_resumes_where_expected(logdir, tmp_path, processes):
  """A real learner started on a copy of `logdir` damaged each way resumes
  from the newest checkpoint that loads."""

  def remove_files(prefix):
    for path in glob.glob(prefix + '.*'):
      os.remove(path)

  damages = {  # name: (damage(directory, newest prefix), resumes from the newest)
      'truncated_data': (lambda d, newest: _truncate(_data_file(newest)), False),
      'missing_data': (lambda d, newest: os.remove(_data_file(newest)), False),
      'missing_index_file': (lambda d, newest: os.remove(os.path.join(d, 'checkpoint')), True),
      'index_names_a_deleted_checkpoint': (lambda d, newest: remove_files(newest), False),
  }
  learners = {}
  for name, (damage, _) in damages.items():
    copy = str(tmp_path / name)
    shutil.copytree(logdir, copy)
    directory = os.path.join(copy, 'checkpoints')
    newest, previous = Checkpointer(directory).candidates()[:2]
    damage(directory, newest)
    log_path = str(tmp_path / f'learner_{name}.log')
    learner = _spawn(['-m', 'seed_stac.learner'] + _learner_args(copy, _free_port(), 60.0),
                     log_path)
    processes.append(learner)
    learners[name] = (learner, log_path, newest, previous)
  for name, (learner, log_path, newest, previous) in learners.items():
    _wait_for(lambda: 'Resumed from' in _read(log_path), 180, f'the learner on {name} to resume')
    learner.send_signal(signal.SIGTERM)
    learner.wait(60)
    expected = newest if damages[name][1] else previous
    assert f'Resumed from {expected} at' in _read(log_path), (name, _read(log_path)[-2000:])


def _learner_args(logdir, port, checkpoint_interval_s):
  return [
      f'--config=configs/catch.py:{_AGENT}', f'--logdir={logdir}', f'--port={port}',
      '--config.learner.total_frames=100000000', '--config.learner.batch_size=4',
      '--config.actor.env_batch_size=4', '--config.learner.log_interval_s=0.2',
      f'--config.learner.checkpoint_interval_s={checkpoint_interval_s}'
  ]


def _progress(logdir):
  """progress.csv as [(frames, learner steps)], one per row."""
  path = os.path.join(logdir, 'progress.csv')
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [(float(row['frames']), float(row['learner_steps'])) for row in csv.DictReader(f)]


def _wait_for(predicate, timeout_s, what, poll_s=0.1):
  deadline = time.monotonic() + timeout_s
  while time.monotonic() < deadline:
    if predicate():
      return
    time.sleep(poll_s)
  raise AssertionError(f'timed out waiting for {what}')


def _read(path):
  with open(path) as f:
    return f.read()


class _Restorer:
  """Loads a learner's latest checkpoint into a fresh Catch agent, as
  `run_learner` does when it starts."""

  def __init__(self):
    from configs import catch
    from seed_stac import envs
    spec = envs.create_environment('catch', 'catch', 0).spec
    self.agent = builder.build_agent(catch.get_config(_AGENT), spec)
    self.frames = tf.Variable(0, dtype=tf.int64)

  def restore(self, directory):
    """Returns (restored path, frames, learner steps)."""
    path = Checkpointer(directory, frames=self.frames,
                        **self.agent.checkpoint_objects()).restore_latest()
    return path, int(self.frames.numpy()), int(self.agent.updater.num_steps.numpy())


@pytest.mark.slow
def test_a_learner_killed_while_writing_a_checkpoint_resumes_from_the_previous_one(
    tmp_path, processes):
  logdir, port = str(tmp_path), _free_port()
  directory = os.path.join(logdir, 'checkpoints')
  actor = _spawn([
      '-m', 'seed_stac.actor', f'--learner_address=127.0.0.1:{port}', '--actor_id=0',
      '--max_reconnect_seconds=120'
  ], os.path.join(logdir, 'actor.log'))
  processes.append(actor)
  restorer = _Restorer()
  previous = None  # (path, frames, learner steps) restored after the last kill

  def check_resumed(log_path):
    if previous is None:
      return
    _wait_for(lambda: 'Resumed from' in _read(log_path), 120, 'the learner to resume')
    assert f'Resumed from {previous[0]} at {previous[1]:,} frames' in _read(log_path)

  def wait_for_training(tag, rows_before):
    """Until this learner (rows from `rows_before` on) has logged more frames
    and steps than it resumed at."""
    at_start = previous[1:] if previous else (0, 0)
    _wait_for(
        lambda: any(frames > at_start[0] and steps > at_start[1]
                    for frames, steps in _progress(logdir)[rows_before:]), 120,
        f'the {tag} learner to train')

  def check_previous_checkpoint_loads(killed_prefix):
    """The latest is a complete checkpoint older than the one being written,
    it loads into a fresh agent, and it holds more progress than before."""
    nonlocal previous
    path, frames, steps = restorer.restore(directory)
    assert path and path == tf.train.latest_checkpoint(directory)
    if killed_prefix is not None:
      assert path != killed_prefix
      number = lambda p: int(p.rsplit('-', 1)[1])
      assert number(path) == number(killed_prefix) - 1
    assert 0 < frames <= _progress(logdir)[-1][0] + 10_000
    assert frames % 4 == 0  # whole steps of the actor's 4 envs
    assert steps > 0
    if previous is not None:
      assert frames > previous[1] and steps > previous[2]
    previous = (path, frames, steps)

  # Kills at the two deterministic points inside a write.
  for tag, mode in [('first', 'before_merge'), ('second', 'before_index')]:
    arm, marker = os.path.join(logdir, f'arm_{tag}'), os.path.join(logdir, f'paused_{tag}')
    log_path = os.path.join(logdir, f'learner_{tag}.log')
    rows_before = len(_progress(logdir))
    learner = _spawn(['-c', _PAUSED_LEARNER, mode, arm, marker] + _learner_args(logdir, port, 0.3),
                     log_path)
    processes.append(learner)
    check_resumed(log_path)
    wait_for_training(tag, rows_before)
    open(arm, 'w').close()
    _wait_for(lambda: os.path.exists(marker), 60, 'a paused checkpoint write')
    learner.send_signal(signal.SIGKILL)
    learner.wait()
    killed = _read(marker)
    if mode == 'before_merge':
      assert os.listdir(killed + '_temp') and not os.path.exists(killed + '.index')
    else:
      assert os.path.exists(killed + '.index')  # complete, but not the latest
    check_previous_checkpoint_loads(killed)

  # A kill at a random point while the real binary checkpoints continuously.
  log_path = os.path.join(logdir, 'learner_third.log')
  rows_before = len(_progress(logdir))
  learner = _spawn(['-m', 'seed_stac.learner'] + _learner_args(logdir, port, 0.0), log_path)
  processes.append(learner)
  check_resumed(log_path)
  wait_for_training('third', rows_before)
  # Then kill it at a random time, as soon as a write is under way.
  deadline = time.monotonic() + random.uniform(0.2, 1.0)
  while time.monotonic() < deadline or not any(
      name.endswith('_temp') for name in os.listdir(directory)):
    if time.monotonic() > deadline + 5:
      break
    time.sleep(0.001)
  learner.send_signal(signal.SIGKILL)
  learner.wait()
  print('killed mid-write:', [n for n in os.listdir(directory) if n.endswith('_temp')])
  check_previous_checkpoint_loads(None)
  assert actor.poll() is None  # still waiting to reconnect


# Damage after the fact: the newest checkpoint that loads is restored. -------


def _three_checkpoints(directory):
  """ckpt-1..3 holding frames 10, 20, 30; returns their prefixes."""
  frames = tf.Variable(0, dtype=tf.int64)
  checkpointer = Checkpointer(directory, frames=frames)
  paths = []
  for value in (10, 20, 30):
    frames.assign(value)
    paths.append(checkpointer.save())
  return paths


def _restore(directory):
  frames = tf.Variable(0, dtype=tf.int64)
  return Checkpointer(directory, frames=frames).restore_latest(), int(frames.numpy())


def _truncate(path):
  with open(path, 'r+b') as f:
    f.truncate(os.path.getsize(path) // 2)


def _data_file(prefix):
  return prefix + '.data-00000-of-00001'


@pytest.mark.parametrize('damage, expected', [
    ('truncated data', 1),
    ('missing data', 1),
    ('missing index file', 2),
    ('index names a deleted checkpoint', 1),
])
def test_restore_takes_the_newest_checkpoint_that_loads(tmp_path, caplog, damage, expected):
  directory = str(tmp_path)
  paths = _three_checkpoints(directory)
  newest = paths[-1]
  if damage == 'truncated data':
    _truncate(_data_file(newest))
  elif damage == 'missing data':
    os.remove(_data_file(newest))
  elif damage == 'missing index file':
    os.remove(os.path.join(directory, 'checkpoint'))
  else:
    for path in glob.glob(newest + '.*'):
      os.remove(path)
  with caplog.at_level('WARNING'):
    restored, frames = _restore(directory)
  assert (restored, frames) == (paths[expected], 10 * (expected + 1))
  if expected == 1:
    assert f'Checkpoint {newest} does not load' in caplog.text


def test_no_loadable_checkpoint_is_an_error_naming_what_was_tried(tmp_path):
  directory = str(tmp_path)
  for path in _three_checkpoints(directory):
    _truncate(_data_file(path))
  with pytest.raises(CheckpointError) as error:
    _restore(directory)
  message = str(error.value)
  assert f'No checkpoint in {directory} loads' in message
  assert all(f'ckpt-{n} (' in message for n in (1, 2, 3))
  assert _restore(str(tmp_path / 'empty')) == (None, 0)  # nothing there: a fresh start


@pytest.mark.slow
def test_a_learner_resumes_past_a_damaged_checkpoint_and_its_log_never_goes_back(
    tmp_path, processes):
  """A real learner and actor; the newest checkpoint's data is truncated while
  the learner is down. The restarted learner resumes from the one before,
  cuts progress.csv back to it, trains on, and the plot, the report and the
  harness summary read one monotonic curve. A directory where nothing loads
  stops the learner with a message, not a traceback."""
  from benchmarks import learning, learning_summary
  from seed_stac import plotting, reporting
  logdir, port = str(tmp_path / 'run'), _free_port()
  directory = os.path.join(logdir, 'checkpoints')
  actor = _spawn([
      '-m', 'seed_stac.actor', f'--learner_address=127.0.0.1:{port}', '--actor_id=0',
      '--max_reconnect_seconds=120'
  ], str(tmp_path / 'actor.log'))
  processes.append(actor)

  def start(tag):
    learner = _spawn(['-m', 'seed_stac.learner'] + _learner_args(logdir, port, 2.0),
                     str(tmp_path / f'learner_{tag}.log'))
    processes.append(learner)
    return learner

  first = start('first')
  _wait_for(lambda: len(glob.glob(os.path.join(directory, 'ckpt-*.index'))) >= 3, 180,
            'three checkpoints')
  frames_then = _progress(logdir)[-1][0]
  # Training goes on after the last periodic checkpoint: the final one, at
  # SIGTERM, holds more frames than the one before it.
  _wait_for(lambda: _progress(logdir)[-1][0] > frames_then + 400, 120, 'more frames')
  first.send_signal(signal.SIGTERM)
  assert first.wait(60) == 143
  _each_damage_resumes_where_expected(logdir, tmp_path, processes)
  newest = tf.train.latest_checkpoint(directory)
  previous = Checkpointer(directory).candidates()[1]
  _truncate(_data_file(newest))
  rows_before = _progress(logdir)

  second = start('second')
  log_path = str(tmp_path / 'learner_second.log')
  _wait_for(lambda: 'Resumed from' in _read(log_path), 120, 'the learner to resume')
  resumed_at = int(
      re.search(r'Resumed from \S+ at ([\d,]+) frames', _read(log_path)).group(1).replace(',', ''))
  assert f'Resumed from {previous} at' in _read(log_path)
  assert f'Checkpoint {newest} does not load' in _read(log_path)
  assert resumed_at < rows_before[-1][0]  # the truncated checkpoint held later frames
  _wait_for(lambda: _progress(logdir)[-1][0] > rows_before[-1][0], 120, 'training past the end')
  second.send_signal(signal.SIGTERM)
  assert second.wait(60) == 143

  frames = [f for f, _ in _progress(logdir)]
  assert all(b >= a for a, b in zip(frames, frames[1:])), frames  # never goes back
  columns = plotting.read_progress(logdir)
  assert columns['frames'] == sorted(columns['frames'])
  assert 'episode_return' in columns and reporting.override_line(columns)
  plotting.plot_runs([logdir], str(tmp_path / 'plots'))
  [row] = learning_summary.summarise([learning.Run('catch', _AGENT, 0, logdir)])
  assert row['frames'] == frames[-1]

  for path in glob.glob(os.path.join(directory, 'ckpt-*.data-*')):
    _truncate(path)
  third = start('third')
  assert third.wait(180) == 1
  output = _read(str(tmp_path / 'learner_third.log'))
  assert f'Error: No checkpoint in {directory} loads; tried ckpt-' in output
  assert 'Traceback' not in output
