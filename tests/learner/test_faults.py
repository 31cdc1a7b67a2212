"""Faults with real processes on loopback (learner and actor binaries):
an actor killed mid-run, the learner killed and restarted (resumes from its
checkpoint, actors reconnect on their own), and SIGTERM (checkpoint, exit 143
so that a supervisor restarts it, actors keep waiting for the learner)."""

import csv
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def _start(args, log_path):
  log = open(log_path, 'w')
  return subprocess.Popen([sys.executable, '-m'] + args,
                          cwd=ROOT,
                          env=ENV,
                          stdout=log,
                          stderr=subprocess.STDOUT)


def _learner(logdir, port, total_frames, checkpoint_interval_s, tag):
  return _start([
      'seed_stac.learner', '--config=configs/catch.py', f'--logdir={logdir}', f'--port={port}',
      f'--config.learner.total_frames={total_frames}', '--config.learner.batch_size=4',
      '--config.actor.env_batch_size=4', '--config.learner.log_interval_s=0.5',
      f'--config.learner.checkpoint_interval_s={checkpoint_interval_s}'
  ], os.path.join(logdir, f'learner_{tag}.log'))


def _actor(logdir, port, actor_id, tag, max_reconnect_seconds=120):
  return _start([
      'seed_stac.actor', f'--learner_address=127.0.0.1:{port}', f'--actor_id={actor_id}',
      f'--max_reconnect_seconds={max_reconnect_seconds}'
  ], os.path.join(logdir, f'actor{actor_id}_{tag}.log'))


def _rows(logdir):
  path = os.path.join(logdir, 'progress.csv')
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return list(csv.DictReader(f))


def _frames(logdir) -> float:
  rows = _rows(logdir)
  return float(rows[-1]['frames']) if rows else 0.0


def _wait_for(predicate, timeout_s, what):
  deadline = time.monotonic() + timeout_s
  while time.monotonic() < deadline:
    if predicate():
      return
    time.sleep(0.2)
  raise AssertionError(f'timed out waiting for {what}')


def _read(logdir, name):
  with open(os.path.join(logdir, name)) as f:
    return f.read()


def _checkpoints(logdir):
  directory = os.path.join(logdir, 'checkpoints')
  return ([n for n in os.listdir(directory) if n.endswith('.index')]
          if os.path.isdir(directory) else [])


@pytest.mark.slow
def test_killed_actor_and_killed_learner_recover(tmp_path, processes):
  logdir, port = str(tmp_path), _free_port()
  learner = _learner(logdir, port, 24_000, 1.0, 'first')
  actors = [_actor(logdir, port, i, 'first') for i in range(2)]
  processes.extend([learner] + actors)

  _wait_for(lambda: _frames(logdir) > 2_000, 120, 'training to start')
  actors[1].send_signal(signal.SIGKILL)
  actors[1].wait()
  at_kill = _frames(logdir)
  _wait_for(lambda: _frames(logdir) > at_kill + 2_000, 60, 'the run to go on without actor 1')
  restarted = _actor(logdir, port, 1, 'restarted')
  processes.append(restarted)

  _wait_for(lambda: _checkpoints(logdir) and _frames(logdir) > 8_000, 60, 'a checkpoint')
  learner.send_signal(signal.SIGKILL)
  learner.wait()
  rows_before = len(_rows(logdir))
  second = _learner(logdir, port, 24_000, 1.0, 'second')
  processes.append(second)

  assert second.wait(180) == 0
  for actor in (actors[0], restarted):
    assert actor.wait(60) == 0
  learner_log = _read(logdir, 'learner_second.log')
  assert 'Resumed from' in learner_log
  resumed = _rows(logdir)[rows_before:]
  assert resumed and float(resumed[0]['frames']) > 0  # counters continued
  assert float(resumed[0]['main/gamma']) != pytest.approx(0.99005, abs=1e-6)  # restored
  assert float(resumed[-1]['frames']) >= 24_000
  # The surviving actor reconnected to the new learner by itself.
  assert '2 connection(s)' in _read(logdir, 'actor0_first.log')
  assert 'training_done' in _read(logdir, 'actor1_restarted.log')


@pytest.mark.slow
def test_sigterm_checkpoints_and_leaves_actors_waiting(tmp_path, processes):
  logdir, port = str(tmp_path), _free_port()
  learner = _learner(logdir, port, 10_000_000, 1e9, 'first')
  actor = _actor(logdir, port, 0, 'first')
  processes.extend([learner, actor])
  _wait_for(lambda: _frames(logdir) > 1_000, 120, 'training to start')
  assert not _checkpoints(logdir)
  learner.send_signal(signal.SIGTERM)
  # Not 0: a Kubernetes Job would count a drained learner as a finished run.
  assert learner.wait(60) == 143
  assert _checkpoints(logdir)
  assert 'run again with the same --logdir to resume' in _read(logdir, 'learner_first.log')
  time.sleep(1.0)
  assert actor.poll() is None  # still waiting to reconnect, not told to stop


def _bad_step(port, actor_id, mutate):
  """Handshakes as `actor_id`, sends one mutated first step, returns the
  grpc.RpcError."""
  import grpc
  import numpy as np
  from seed_stac.envs.batch import BatchStep
  from seed_stac.rpc import client, codec
  channel = client.open_channel(f'127.0.0.1:{port}')
  try:
    config = client.handshake(channel, actor_id, f'bad-{actor_id}', None, 30)
    n = config.env_batch_size
    batch = codec.StepMessage.of(
        actor_id, f'bad-{actor_id}',
        np.arange(n, dtype=np.int32) + actor_id * n,
        BatchStep.first(np.zeros((n,) + config.env_spec.observation_shape, np.float32)))
    request = mutate(batch)
    stream = client.StepStream(channel, None)
    with pytest.raises(grpc.RpcError) as error:
      stream.exchange(request)
    return error.value
  finally:
    channel.close()


@pytest.mark.slow
def test_malformed_messages_get_invalid_argument_and_the_run_goes_on(tmp_path, processes):
  import grpc
  import numpy as np
  logdir, port = str(tmp_path), _free_port()
  learner = _learner(logdir, port, 6_000, 1e9, 'first')
  actor = _actor(logdir, port, 0, 'first')
  processes.extend([learner, actor])
  _wait_for(lambda: _frames(logdir) > 500, 120, 'training to start')

  def wrong_shape(batch):
    batch.observation = np.zeros((batch.num_envs, 49), np.float32)
    return batch.to_proto()

  def wrong_dtype(batch):
    batch.observation = batch.observation.astype(np.float64)
    return batch.to_proto()

  def garbage_bytes(batch):
    request = batch.to_proto()
    request.observation.data = b'\x00garbage'
    return request

  def unknown_env_ids(batch):
    batch.env_ids = batch.env_ids + 1000
    return batch.to_proto()

  for actor_id, mutate, field in [(5, wrong_shape, 'observation'), (6, wrong_dtype, 'observation'),
                                  (7, garbage_bytes, 'observation'),
                                  (8, unknown_env_ids, 'env_ids')]:
    error = _bad_step(port, actor_id, mutate)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in error.details(), error.details()

  assert learner.wait(120) == 0 and actor.wait(60) == 0
  assert float(_rows(logdir)[-1]['frames']) >= 6_000


@pytest.mark.slow
def test_a_second_actor_with_the_same_id_cannot_knock_out_the_first(tmp_path, processes):
  import grpc
  from seed_stac.rpc import client
  logdir, port = str(tmp_path), _free_port()
  learner = _learner(logdir, port, 8_000, 1e9, 'first')
  actor = _actor(logdir, port, 0, 'first')
  processes.extend([learner, actor])
  _wait_for(lambda: _frames(logdir) > 500, 120, 'training to start')
  channel = client.open_channel(f'127.0.0.1:{port}')
  try:
    with pytest.raises(grpc.RpcError) as probe:
      client.handshake(channel, 0, 'intruder', None, 30)
  finally:
    channel.close()
  assert probe.value.code() == grpc.StatusCode.ALREADY_EXISTS
  assert 'actor_id: 0 is held by a live actor' in probe.value.details()
  duplicate = _actor(logdir, port, 0, 'duplicate', max_reconnect_seconds=4)
  processes.append(duplicate)
  assert duplicate.wait(60) == 1  # refused, retried, gave up; never took the slot
  assert 'held by a live actor' in _read(logdir, 'actor0_duplicate.log')
  assert learner.wait(120) == 0 and actor.wait(60) == 0  # the first finished the run
  assert 'training_done' in _read(logdir, 'actor0_first.log')
  assert float(_rows(logdir)[-1]['frames']) >= 8_000


def test_idle_watch_warns_first_then_every_repeat_until_frames_move():
  from seed_stac.learner.run import IdleWatch
  watch = IdleWatch(threshold_s=100.0, frames=0, now=0.0)
  assert watch.check(0, 99.0) is None
  assert watch.check(0, 100.0) == 'first'
  assert watch.check(0, 130.0) is None
  assert watch.check(0, 160.0) == 'repeat'  # every min(60 s, threshold)
  assert watch.idle_s(160.0) == 160.0
  assert watch.check(5, 161.0) is None  # steps arrived: the clock restarts
  assert watch.check(5, 260.0) is None and watch.check(5, 261.0) == 'first'


@pytest.mark.slow
def test_a_learner_without_actors_says_so_and_checkpoints(tmp_path, processes):
  logdir, port = str(tmp_path), _free_port()
  learner = _start([
      'seed_stac.learner', '--config=configs/catch.py', f'--logdir={logdir}', f'--port={port}',
      '--config.learner.idle_warning_s=2', '--config.learner.checkpoint_interval_s=1e9'
  ], os.path.join(logdir, 'learner.log'))
  processes.append(learner)
  _wait_for(lambda: 'No environment steps for' in _read(logdir, 'learner.log'), 120,
            'the idle warning')
  _wait_for(lambda: _checkpoints(logdir), 30, 'the idle checkpoint')
  _wait_for(lambda: _read(logdir, 'learner.log').count('No environment steps for') >= 2, 30,
            'a repeated warning')
  learner.send_signal(signal.SIGTERM)
  assert learner.wait(60) == 143


@pytest.mark.slow
def test_a_learner_whose_actors_are_gone_exits_naming_them(tmp_path, processes):
  """learner.idle_exit_s: no step for that long, and the learner checkpoints,
  names the actors that came and left, and exits 3 (not restarted into the
  same wait); without any actor it says none ever connected."""
  logdir, port = str(tmp_path), _free_port()
  learner = _start([
      'seed_stac.learner', '--config=configs/catch.py', f'--logdir={logdir}', f'--port={port}',
      '--config.learner.idle_exit_s=6', '--config.learner.log_interval_s=0.5',
      '--config.learner.checkpoint_interval_s=1e9'
  ], os.path.join(logdir, 'learner.log'))
  processes.append(learner)
  actor = _actor(logdir, port, 5, 'first')
  processes.append(actor)
  _wait_for(lambda: _frames(logdir) > 0, 120, 'training')
  actor.send_signal(signal.SIGKILL)
  assert learner.wait(120) == 3
  log = _read(logdir, 'learner.log')
  assert 'No environment step for' in log and '(learner.idle_exit_s=6)' in log
  assert 'actor ids seen: 5; connected now: none; missing: 5' in log
  assert _checkpoints(logdir) and 'Traceback' not in log

  lonely = _start([
      'seed_stac.learner', '--config=configs/catch.py', f'--logdir={tmp_path / "lonely"}',
      f'--port={_free_port()}', '--config.learner.idle_exit_s=2'
  ], os.path.join(logdir, 'lonely.log'))
  processes.append(lonely)
  assert lonely.wait(120) == 3
  assert 'no actor has ever connected' in _read(logdir, 'lonely.log')


@pytest.mark.slow
def test_auto_actor_ids_need_no_arithmetic(tmp_path, processes):
  """Two actors started alike (`--actor_id=auto`, as Compose --scale or
  Kubernetes replicas would) get ids 0 and 1 from the learner and train."""
  logdir, port = str(tmp_path), _free_port()
  learner = _learner(logdir, port, 3_000, 1e9, 'auto')
  actors = [_actor(logdir, port, 'auto', f'auto{k}') for k in range(2)]
  processes.extend([learner] + actors)
  assert learner.wait(180) == 0, _read(logdir, 'learner_auto.log')[-2000:]
  logs = []
  for k, a in enumerate(actors):
    assert a.wait(60) == 0, _read(logdir, f'actorauto_auto{k}.log')[-2000:]
    logs.append(_read(logdir, f'actorauto_auto{k}.log'))
  assert sorted(l.count('Actor id 0 ') + 2 * l.count('Actor id 1 ') for l in logs) == [1, 2]
  assert all('finished (training_done)' in l for l in logs)


def test_learner_refuses_an_open_address_without_a_token(tmp_path):
  env = {k: v for k, v in ENV.items() if k != 'SEED_STAC_TOKEN'}
  proc = subprocess.run([
      sys.executable, '-m', 'seed_stac.learner', '--config=configs/catch.py',
      f'--logdir={tmp_path}', '--bind_address=0.0.0.0', f'--port={_free_port()}'
  ],
                        cwd=ROOT,
                        env=env,
                        capture_output=True,
                        text=True,
                        timeout=120)
  assert proc.returncode != 0
  assert 'not loopback) without a token' in proc.stderr and '--insecure' in proc.stderr
  assert not os.path.exists(os.path.join(tmp_path, 'config.json'))  # nothing started
