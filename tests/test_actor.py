"""Tests for seed_stac.actor against a fake learner over loopback gRPC."""

import asyncio
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from seed_stac import actor
from seed_stac.rpc import codec
from seed_stac.rpc import server
from seed_stac.rpc import testing

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
E = 8
CATCH_EPISODE_STEPS = 9  # rows - 1 with the default 10 rows.


def start_actor_process(address, actor_id, *extra):
  env = dict(os.environ, PYTHONPATH=REPO)
  env.pop('SEED_STAC_TOKEN', None)
  return subprocess.Popen([
      sys.executable, '-m', 'seed_stac.actor', f'--learner_address={address}',
      f'--actor_id={actor_id}', *extra
  ],
                          cwd=REPO,
                          env=env,
                          stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT,
                          text=True)


def run_in_thread(**kwargs):
  """Starts run_actor in a thread; returns (thread, outcome dict)."""
  outcome = {}

  def target():
    try:
      outcome['result'] = actor.run_actor(**kwargs)
    except Exception as e:  # pylint: disable=broad-except
      outcome['error'] = e

  thread = threading.Thread(target=target, daemon=True)
  thread.start()
  return thread, outcome


def wait_for(predicate, timeout_s=10.0):
  deadline = time.monotonic() + timeout_s
  while not predicate():
    assert time.monotonic() < deadline, 'timed out'
    time.sleep(0.01)


def free_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


class RecordingLearner(testing.FakeLearner):
  """Also keeps every batch (copied) per run."""

  def __init__(self, **kwargs):
    super().__init__(**kwargs)
    self.history = {}

  async def step(self, batch):
    self.history.setdefault((batch.actor_id, batch.run_id), []).append(batch)
    return await super().step(batch)


def test_binary_runs_until_training_done_and_exits_zero():
  steps = 3 * CATCH_EPISODE_STEPS
  learner = RecordingLearner(env_batch_size=E, done_after_steps=steps, seed=1)
  serving = testing.ServerThread(learner)
  try:
    process = start_actor_process(serving.address, 2)
    output, _ = process.communicate(timeout=30)
  finally:
    serving.stop()
  assert process.returncode == 0, output
  ((actor_id, run_id), history), = learner.history.items()
  assert actor_id == 2 and len(run_id) == 32
  assert len(history) == steps
  first = history[0]
  np.testing.assert_array_equal(first.env_ids, np.arange(16, 24))
  np.testing.assert_array_equal(first.reward, 0)
  assert not first.terminated.any() and not first.truncated.any()
  assert np.isnan(first.episode_return).all()
  # Catch episodes end every 9 steps with reward +-1 in all envs at once.
  for t, batch in enumerate(history[1:], start=1):
    ended = t % CATCH_EPISODE_STEPS == 0
    assert batch.terminated.all() == ended and batch.terminated.any() == ended
    if ended:
      np.testing.assert_array_equal(np.abs(batch.reward), 1)
      np.testing.assert_array_equal(batch.episode_return, batch.reward)
      np.testing.assert_array_equal(batch.episode_length, CATCH_EPISODE_STEPS)
    else:
      assert np.isnan(batch.episode_return).all()


def test_actors_get_distinct_env_seeds():
  learner = RecordingLearner(env_batch_size=E, done_after_steps=1)
  serving = testing.ServerThread(learner)
  try:
    for actor_id in (0, 1):
      actor.run_actor(serving.address, actor_id)
  finally:
    serving.stop()
  (run0, first0), (run1, first1) = sorted(
      (key, h[0].observation) for key, h in learner.history.items())
  assert run0[0] == 0 and run1[0] == 1
  # Ball columns of the reset boards, env by env (catch: 10 x 5 board).
  columns = [obs.reshape(E, 10, 5)[:, 0].argmax(-1) for obs in (first0, first1)]
  assert not np.array_equal(*columns)


def test_reconnects_with_new_run_id_after_learner_restart():
  learner = testing.FakeLearner(env_batch_size=E)
  serving = testing.ServerThread(learner)
  port = serving.port
  thread, outcome = run_in_thread(learner_address=serving.address,
                                  actor_id=1,
                                  max_reconnect_seconds=20)
  wait_for(lambda: sum(learner.steps.values()) >= 5)
  serving.stop()  # Like a learner crash: every call is cancelled.
  time.sleep(0.3)  # Let the actor fail a few reconnects.
  restarted = RecordingLearner(env_batch_size=E, done_after_steps=4)
  serving = testing.ServerThread(restarted, address=f'127.0.0.1:{port}')
  try:
    thread.join(20)
  finally:
    serving.stop()
  assert not thread.is_alive()
  assert 'error' not in outcome, outcome
  result = outcome['result']
  assert result.reason == 'training_done'
  (old_run,) = [run for _, run in learner.handshakes]
  (new_run,) = [run for _, run in restarted.handshakes]
  assert result.run_ids == [old_run, new_run] and old_run != new_run
  # The new run starts from freshly reset envs.
  first = restarted.history[(1, new_run)][0]
  assert np.isnan(first.episode_return).all()
  np.testing.assert_array_equal(first.reward, 0)


def test_gives_up_without_learner():
  start = time.monotonic()
  with pytest.raises(actor.LearnerUnavailableError, match='giving up'):
    actor.run_actor(f'127.0.0.1:{free_port()}', 0, max_reconnect_seconds=0.5)
  assert time.monotonic() - start < 5


def test_zero_means_never_give_up():
  backoff = actor._Backoff(0, 2.0)  # pylint: disable=protected-access
  delays = [backoff.next_delay() for _ in range(40)]  # raises if it gives up
  assert max(delays) == 2.0
  with pytest.raises(actor.LearnerUnavailableError):
    limited = actor._Backoff(1e-9, 2.0)  # pylint: disable=protected-access
    limited.next_delay()
    time.sleep(0.01)
    limited.next_delay()


class RejectingLearner(testing.FakeLearner):
  """Rejects actors 0 and 1 on their third batch (as a wrong-dtype bug)."""

  async def step(self, batch):
    if batch.actor_id in (0, 1) and self.steps[(batch.actor_id, batch.run_id)] == 2:
      raise codec.InvalidMessageError('observation: expected dtype uint8, got float32')
    return await super().step(batch)


def test_invalid_argument_is_fatal_and_spares_other_actors():
  learner = RejectingLearner(env_batch_size=E)
  serving = testing.ServerThread(learner)
  try:
    healthy, outcome = run_in_thread(learner_address=serving.address, actor_id=2)
    wait_for(lambda: len(learner.handshakes) == 1)
    process = start_actor_process(serving.address, 0)
    with pytest.raises(actor.LearnerRejectedError,
                       match='INVALID_ARGUMENT: observation: expected dtype'):
      actor.run_actor(serving.address, 1)
    output, _ = process.communicate(timeout=30)
    (healthy_run,) = [key for key in learner.steps if key[0] == 2]
    steps_so_far = learner.steps[healthy_run]
    learner.done_after_steps = steps_so_far + 5
    healthy.join(30)
  finally:
    serving.stop()
  assert process.returncode == 1, output
  assert 'observation: expected dtype uint8' in output
  # No retries after a rejection.
  assert sorted(a for a, _ in learner.handshakes) == [0, 1, 2]
  # The healthy actor ran to the end on the same server meanwhile.
  assert outcome['result'].reason == 'training_done'
  assert learner.steps[healthy_run] >= steps_so_far + 5


class BadActionsLearner(testing.FakeLearner):

  async def step(self, batch):
    actions, done = await super().step(batch)
    return actions.astype(np.float32), done


def test_malformed_actions_from_learner_are_fatal():
  serving = testing.ServerThread(BadActionsLearner(env_batch_size=E))
  try:
    with pytest.raises(codec.InvalidMessageError,
                       match='action: expected dtype int32, got float32'):
      actor.run_actor(serving.address, 0)
  finally:
    serving.stop()


def test_token_is_checked():
  learner = testing.FakeLearner(env_batch_size=E, done_after_steps=3)
  serving = testing.ServerThread(learner, token='sesame')
  try:
    with pytest.raises(actor.LearnerRejectedError, match='UNAUTHENTICATED'):
      actor.run_actor(serving.address, 0, token='wrong')
    with pytest.raises(actor.LearnerRejectedError, match='UNAUTHENTICATED'):
      actor.run_actor(serving.address, 0)
    result = actor.run_actor(serving.address, 0, token='sesame')
  finally:
    serving.stop()
  assert result.reason == 'training_done'
  assert len(learner.handshakes) == 1


class StallingLearner(testing.FakeLearner):
  """Answers the first batch, then never again (like a hung learner)."""

  async def step(self, batch):
    if sum(self.steps.values()) >= 1:
      await asyncio.sleep(3600)
    return await super().step(batch)


def test_stop_event_interrupts_a_blocked_actor():
  learner = StallingLearner(env_batch_size=E)
  serving = testing.ServerThread(learner)
  stop = threading.Event()
  try:
    thread, outcome = run_in_thread(learner_address=serving.address, actor_id=0, stop_event=stop)
    wait_for(lambda: sum(learner.steps.values()) >= 1)
    time.sleep(0.1)
    stop.set()
    thread.join(5)
  finally:
    serving.stop()
  assert not thread.is_alive()
  assert outcome['result'].reason == 'stopped'


def test_sigterm_exits_cleanly():
  learner = testing.FakeLearner(env_batch_size=E)
  serving = testing.ServerThread(learner)
  try:
    process = start_actor_process(serving.address, 0)
    wait_for(lambda: sum(learner.steps.values()) >= 10)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=10)
  finally:
    serving.stop()
  assert process.returncode == 0, output
  assert 'finished (stopped)' in output


class QuietLearner(testing.FakeLearner):
  """Goes silent for a while after the first batch (e.g. compiling)."""

  async def step(self, batch):
    if self.steps[(batch.actor_id, batch.run_id)] == 1:
      await asyncio.sleep(4)
    return await super().step(batch)


def test_keepalive_pings_do_not_drop_a_quiet_learner(monkeypatch):
  # Many pings during the silence: with gRPC's default server ping policy the
  # server answers GOAWAY "too_many_pings" after ~3 s here, and the actor
  # has to reconnect (checked: it reconnects 3-7 times).
  monkeypatch.setattr(server, 'KEEPALIVE_MS', 200)
  learner = QuietLearner(env_batch_size=E, done_after_steps=3)
  serving = testing.ServerThread(learner)
  try:
    result = actor.run_actor(serving.address, 0)
  finally:
    serving.stop()
  assert result.reason == 'training_done'
  assert len(result.run_ids) == 1


class OtherSpecLearner(testing.FakeLearner):

  def handshake(self, actor_id, run_id):
    reply = super().handshake(actor_id, run_id)
    return dataclasses.replace(reply, env_spec=dataclasses.replace(reply.env_spec, frame_stack=4))


def test_env_spec_mismatch_is_fatal():
  serving = testing.ServerThread(OtherSpecLearner(env_batch_size=E))
  try:
    with pytest.raises(actor.LearnerRejectedError, match='env_spec_json: learner expects'):
      actor.run_actor(serving.address, 0)
  finally:
    serving.stop()


def _alive(pid: int) -> bool:
  """True unless the process is gone or a zombie (PID 1 may not reap it)."""
  try:
    with open(f'/proc/{pid}/stat') as f:
      return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
  except FileNotFoundError:
    return False


@pytest.mark.parametrize('exit_with_parent', [True, False])
def test_actor_stops_when_its_launcher_is_killed(exit_with_parent):
  """The launcher (a parent process, as seed_stac.local) is SIGKILLed while
  its actor waits for a learner; with --exit_with_parent the actor ends too."""
  flag = '--exit_with_parent' if exit_with_parent else '--noexit_with_parent'
  launcher_code = (
      'import subprocess, sys, time\n'
      "p = subprocess.Popen([sys.executable, '-m', 'seed_stac.actor', "
      f"'--learner_address=127.0.0.1:{free_port()}', '--max_reconnect_seconds=120', '{flag}'])\n"
      'print(p.pid, flush=True)\n'
      'time.sleep(600)\n')
  launcher = subprocess.Popen([sys.executable, '-c', launcher_code],
                              cwd=REPO,
                              stdout=subprocess.PIPE,
                              text=True)
  actor_pid = int(launcher.stdout.readline())
  try:
    time.sleep(3)  # The actor is up and retrying.
    assert _alive(actor_pid)
    launcher.kill()
    launcher.wait(10)
    deadline = time.monotonic() + 15
    while _alive(actor_pid) and time.monotonic() < deadline:
      time.sleep(0.2)
    assert _alive(actor_pid) != exit_with_parent
  finally:
    if _alive(actor_pid):
      os.kill(actor_pid, signal.SIGKILL)


# Installed as sitecustomize.py: any import of the TensorFlow stack fails.
_NO_TENSORFLOW = '''
import sys
BLOCKED = ('tensorflow', 'tensorflow_probability', 'tf_keras', 'keras', 'tensorboard', 'jax')
class _Blocker:
  def find_spec(self, name, path=None, target=None):
    if name.split('.')[0] in BLOCKED:
      raise ImportError(f'the actor must not import {name}')
    return None
sys.meta_path.insert(0, _Blocker())
'''


def test_actor_binary_runs_without_tensorflow(tmp_path):
  """The actor image installs no TensorFlow (requirements-actor.txt): the
  binary and every environment adapter must run with it unimportable."""
  (tmp_path / 'sitecustomize.py').write_text(_NO_TENSORFLOW)
  env = dict(os.environ, PYTHONPATH=f'{tmp_path}{os.pathsep}{REPO}')
  env.pop('SEED_STAC_TOKEN', None)
  probe = subprocess.run([sys.executable, '-c', 'import tensorflow'],
                         env=env,
                         capture_output=True,
                         text=True)
  assert 'the actor must not import tensorflow' in probe.stderr  # the blocker works
  modules = [
      'seed_stac.envs.' + m for m in ('atari', 'catch', 'cartpole', 'dmc', 'dm_env_factory', 'gym',
                                      'minatar', 'rwrl', 'subprocess_env')
  ]
  imports = subprocess.run([sys.executable, '-c', f'import {", ".join(modules)}'],
                           env=env,
                           capture_output=True,
                           text=True,
                           timeout=120)
  assert imports.returncode == 0, imports.stderr
  learner = RecordingLearner(env_batch_size=E, done_after_steps=2 * CATCH_EPISODE_STEPS, seed=1)
  serving = testing.ServerThread(learner)
  try:
    process = subprocess.run([
        sys.executable, '-m', 'seed_stac.actor', f'--learner_address={serving.address}',
        '--actor_id=0'
    ],
                             cwd=REPO,
                             env=env,
                             capture_output=True,
                             text=True,
                             timeout=60)
  finally:
    serving.stop()
  assert process.returncode == 0, process.stderr
  ((_, history),) = learner.history.items()
  assert len(history) == 2 * CATCH_EPISODE_STEPS
