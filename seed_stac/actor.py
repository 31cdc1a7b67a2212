r"""Actor: owns a batch of environments, steps them with the learner's actions.

The actor has no model. It sends the observations of all its E environments
in one StepRequest, receives E actions, steps, and repeats:

  python -m seed_stac.actor --learner_address=HOST:PORT --actor_id=N \
      [--token=SECRET | env SEED_STAC_TOKEN=SECRET]

Exit status: 0 when the learner says training is done or on SIGTERM/SIGINT;
1 when the learner rejects the actor (INVALID_ARGUMENT, UNAUTHENTICATED, ...:
a bug or misconfiguration, so retrying is pointless) or stays unreachable for
--max_reconnect_seconds. An id held by another live actor (ALREADY_EXISTS) is
retried with back-off for as long: the holder may die and free it.
"""

import dataclasses
import json
import os
import signal
import sys
import threading
import time
import uuid
from typing import List, Optional

from absl import app
from absl import flags
from absl import logging
import grpc
import numpy as np

from seed_stac import envs as envs_lib
from seed_stac.envs.batch import BatchStep
from seed_stac.rpc import client
from seed_stac.rpc import codec

# Connection problems worth a new connection. Anything else (INVALID_ARGUMENT,
# UNAUTHENTICATED, UNKNOWN from a handler crash, ...) would fail again.
_TRANSIENT_CODES = frozenset({
    grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED, grpc.StatusCode.CANCELLED,
    grpc.StatusCode.DEADLINE_EXCEEDED
})
_FIRST_BACKOFF_S = 0.1
_HANDSHAKE_TIMEOUT_S = 10.0


class LearnerRejectedError(RuntimeError):
  """The learner answered with a non-transient error status."""


class LearnerUnavailableError(RuntimeError):
  """No learner could be reached for max_reconnect_seconds."""


@dataclasses.dataclass
class ActorResult:
  """reason: 'training_done' or 'stopped'. env_steps: summed over envs.
  actor_id: the id of the last connection (assigned by the learner with
  auto ids; None before the first handshake)."""
  reason: str
  env_steps: int = 0
  run_ids: List[str] = dataclasses.field(default_factory=list)
  actor_id: Optional[int] = None


class _Envs:
  """The env batch, rebuilt only when the learner's env config changes."""

  def __init__(self):
    self.batch = None
    self._key = None

  def prepare(self, config: codec.HandshakeReply, actor_id: int):
    """Returns the batch for `config`, reset; observations [E, ...]."""
    key = (json.dumps(config.env_config, sort_keys=True), config.env_batch_size)
    if key != self._key:
      self.close()
      env = config.env_config
      # Env i gets seed + i, so offsetting by actor_id * E gives every env of
      # every actor its own seed (the same as its global env id + seed).
      self.batch = envs_lib.create_env_batch(env['kind'],
                                             env['name'],
                                             seed=env['seed'] + actor_id * config.env_batch_size,
                                             batch_size=config.env_batch_size,
                                             **env['options'])
      self._key = key
      if self.batch.spec != config.env_spec:
        raise LearnerRejectedError(f'env_spec_json: learner expects {config.env_spec}, the '
                                   f'environment has {self.batch.spec}')
    return self.batch.reset()

  def close(self):
    if self.batch is not None:
      self.batch.close()
      self.batch = None
      self._key = None


class _Connection:
  """One handshake + stream with a fresh run_id. Cancellable from any thread."""

  def __init__(self, address, actor_id, token, tls):
    self.run_id = uuid.uuid4().hex
    self._actor_id = actor_id
    self._token = token
    self._channel = client.open_channel(address, tls)
    self._stream = None
    self._cancelled = False
    self._lock = threading.Lock()

  def handshake(self) -> codec.HandshakeReply:
    return client.handshake(self._channel, self._actor_id, self.run_id, self._token,
                            _HANDSHAKE_TIMEOUT_S)

  def open_stream(self) -> client.StepStream:
    with self._lock:
      if self._cancelled:
        raise EOFError('stopped')
      self._stream = client.StepStream(self._channel, self._token)
      return self._stream

  def cancel(self):
    with self._lock:
      self._cancelled = True
      if self._stream is not None:
        self._stream.cancel()
    self._channel.close()


def _step_stream(connection: _Connection, envs: _Envs, result: ActorResult, on_connected) -> bool:
  """Handshakes and runs the step loop. True when training is done."""
  config = connection.handshake()
  actor_id = config.actor_id  # the learner's choice with --actor_id=auto
  if result.actor_id != actor_id:
    logging.info('Actor id %d (run %s)', actor_id, connection.run_id)
  result.actor_id = actor_id
  observation = envs.prepare(config, actor_id)
  num_envs = config.env_batch_size
  env_ids = np.arange(actor_id * num_envs, (actor_id + 1) * num_envs, dtype=np.int32)
  action_spec = config.env_spec.action
  action_shape = (num_envs,) + tuple(action_spec.shape)
  request = codec.StepMessage.of(actor_id, connection.run_id, env_ids, BatchStep.first(observation))
  stream = connection.open_stream()
  result.run_ids.append(connection.run_id)
  while True:
    reply = stream.exchange(request.to_proto())
    on_connected()
    if reply.training_done:
      return True
    actions, _ = codec.decode_reply(reply, action_spec.dtype, action_shape)
    step = envs.batch.step(actions)
    result.env_steps += num_envs
    request = codec.StepMessage.of(actor_id, connection.run_id, env_ids, step)


class _Backoff:
  """Exponential back-off; gives up `limit_s` after the outage began (0:
  never, for actors whose supervisor ends them with their learner)."""

  def __init__(self, limit_s: float, max_delay_s: float):
    self._limit_s = limit_s
    self._max_delay_s = max_delay_s
    self.reset()

  def reset(self):
    self._outage_start = None
    self._delay = _FIRST_BACKOFF_S

  def next_delay(self) -> float:
    """Seconds to wait before the next attempt; raises when out of time."""
    now = time.monotonic()
    if self._outage_start is None:
      self._outage_start = now
    left = self._outage_start + self._limit_s - now if self._limit_s else float('inf')
    if left <= 0:
      raise LearnerUnavailableError(f'no learner for {self._limit_s:.1f} s, giving up')
    delay = min(self._delay, left)
    self._delay = min(self._delay * 2, self._max_delay_s)
    return delay


def run_actor(learner_address: str,
              actor_id: Optional[int],
              token: Optional[str] = None,
              max_reconnect_seconds: float = 300.0,
              stop_event: Optional[threading.Event] = None,
              max_backoff_seconds: float = 5.0,
              tls: Optional[client.TlsTrust] = None) -> ActorResult:
  """Runs until the learner says training is done or `stop_event` is set.

  On a lost connection it reconnects with exponential back-off (capped at
  `max_backoff_seconds`), a new run_id, a new handshake and freshly reset
  envs. actor_id None: the learner assigns one at every handshake. tls: the
  CA to check a TLS learner with (None: plaintext).

  Returns:
    ActorResult with reason 'training_done' or 'stopped'.
  Raises:
    LearnerRejectedError: non-transient error from the learner.
    LearnerUnavailableError: no learner for `max_reconnect_seconds`.
    codec.InvalidMessageError: the learner sent malformed actions.
  """
  stop_event = stop_event or threading.Event()
  result = ActorResult(reason='stopped')
  backoff = _Backoff(max_reconnect_seconds, max_backoff_seconds)
  envs = _Envs()
  try:
    while not stop_event.is_set():
      connection = _Connection(learner_address, actor_id, token, tls)
      if _serve_until_stopped(connection, envs, _name(actor_id), result, backoff, stop_event):
        result.reason = 'training_done'
        return result
      if not stop_event.is_set():
        delay = backoff.next_delay()
        logging.info('Actor %s reconnecting in %.2f s', _name(actor_id), delay)
        stop_event.wait(delay)
    return result
  finally:
    envs.close()


def _name(actor_id: Optional[int]) -> str:
  return 'auto' if actor_id is None else str(actor_id)


def _serve_until_stopped(connection, envs, name, result, backoff, stop_event) -> bool:
  """One connection. True: training done; False: reconnect (or stopped)."""
  done = threading.Event()

  def cancel_on_stop():
    # The step loop may be blocked waiting for a reply; cancelling the call
    # unblocks it.
    while not done.wait(0.1):
      if stop_event.is_set():
        connection.cancel()
        return

  watcher = threading.Thread(target=cancel_on_stop, daemon=True)
  watcher.start()
  try:
    return _step_stream(connection, envs, result, backoff.reset)
  except grpc.RpcError as e:
    if stop_event.is_set():
      return False
    if e.code() == grpc.StatusCode.ALREADY_EXISTS:
      # Another live actor holds this id; it may die, so wait and retry
      # (until max_reconnect_seconds) rather than take its place.
      logging.warning('Actor %s: %s; retrying', name, e.details())
      return False
    if e.code() not in _TRANSIENT_CODES:
      raise LearnerRejectedError(f'learner rejected actor {name}: {e.code().name}: '
                                 f'{e.details()}') from None
    logging.warning('Actor %s lost the learner: %s: %s', name, e.code().name, e.details())
    return False
  except EOFError as e:
    logging.warning('Actor %s: %s', name, e)
    return False
  finally:
    done.set()
    connection.cancel()
    watcher.join()


_LEARNER_ADDRESS = flags.DEFINE_string('learner_address', 'localhost:8686',
                                       'Learner gRPC address, HOST:PORT.')
_ACTOR_ID = flags.DEFINE_string(
    'actor_id', '0', 'This actor\'s id, a non-negative integer unique among the '
    'running actors, or "auto": the learner assigns the lowest free id.')
_TOKEN = flags.DEFINE_string(
    'token', None, 'Shared secret expected by the learner. Defaults to the '
    'SEED_STAC_TOKEN environment variable (which, unlike a flag, does not '
    'show up in `ps`).')
_MAX_RECONNECT_SECONDS = flags.DEFINE_float(
    'max_reconnect_seconds', 300.0, 'Give up after this long without a learner (0: never, '
    'for actors a supervisor stops with their learner).')
_TLS_CA = flags.DEFINE_string(
    'tls_ca', None, 'PEM file of the CA that signed the learner\'s TLS certificate; '
    'set it when the learner runs with --tls_cert (connections then use TLS).')
_TLS_SERVER_NAME = flags.DEFINE_string(
    'tls_server_name', None, 'Name to expect in the learner\'s certificate when it '
    'differs from the host in --learner_address (e.g. an IP address).')
_EXIT_WITH_PARENT = flags.DEFINE_bool(
    'exit_with_parent', False,
    'Stop when the parent process dies, however it dies (set by the local '
    'launcher, so that its actors never outlive it).')


def watch_parent(stop_event: threading.Event,
                 poll_s: float = 0.5,
                 grace_s: float = 5.0) -> threading.Thread:
  """Sets `stop_event` once this process's parent is gone (it is re-parented,
  so `getppid()` changes), and exits hard if stopping takes over `grace_s`."""
  parent = os.getppid()

  def watch():
    while os.getppid() == parent:
      if stop_event.wait(poll_s):
        return
    logging.warning('Actor: parent process %d is gone, stopping', parent)
    stop_event.set()
    time.sleep(grace_s)
    _exit_now(0)

  thread = threading.Thread(target=watch, name='parent-watch', daemon=True)
  thread.start()
  return thread


def parse_actor_id(text: str) -> Optional[int]:
  """'auto' -> None (the learner assigns one); else a non-negative integer."""
  if text.strip() == 'auto':
    return None
  if not text.strip().isdigit():
    raise app.UsageError(f'--actor_id must be a non-negative integer or "auto", got {text!r}')
  return int(text)


def main(argv):
  del argv
  stop_event = threading.Event()
  actor_id = parse_actor_id(_ACTOR_ID.value)
  tls = client.TlsTrust.read(_TLS_CA.value, _TLS_SERVER_NAME.value) if _TLS_CA.value else None

  def stop(signum, frame):
    del frame
    logging.info('Actor %s: signal %d, stopping', _name(actor_id), signum)
    stop_event.set()

  signal.signal(signal.SIGTERM, stop)
  signal.signal(signal.SIGINT, stop)
  if _EXIT_WITH_PARENT.value:
    watch_parent(stop_event)
  token = _TOKEN.value or os.environ.get('SEED_STAC_TOKEN') or None
  try:
    result = run_actor(_LEARNER_ADDRESS.value,
                       actor_id,
                       token=token,
                       max_reconnect_seconds=_MAX_RECONNECT_SECONDS.value,
                       stop_event=stop_event,
                       tls=tls)
  except (LearnerRejectedError, LearnerUnavailableError, codec.InvalidMessageError) as e:
    logging.error('Actor %s: %s', _name(actor_id), e)
    _exit_now(1)
  logging.info('Actor %s finished (%s) after %d env steps, %d connection(s)',
               _name(result.actor_id), result.reason, result.env_steps, len(result.run_ids))
  _exit_now(0)


def _exit_now(status: int):
  """Flushes the logs and exits without the interpreter's shutdown.

  Called by `main` once `run_actor` has returned (envs and channel closed,
  nothing left to save), and by the parent watcher when stopping overran its
  grace period. Finalizing gRPC can hang: once in CI an actor logged
  'finished (stopped)' after SIGTERM and was still alive 10 s later. An
  actor that does not exit holds its id and its cores until a supervisor
  kills it.
  """
  logging.flush()
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(status)  # pylint: disable=protected-access


if __name__ == '__main__':
  from seed_stac.quiet import quiet_start  # pylint: disable=g-import-not-at-top
  quiet_start(tensorflow=False)
  app.run(main)
