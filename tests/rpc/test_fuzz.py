"""Property-based fuzzing of the learner's RPC boundary (hypothesis).

Randomized malformed traffic goes over loopback gRPC to the real
`ActorHub` (with a real `InferenceBatcher`, a trivial policy and a real
unroll queue) served by the real `seed_stac.rpc.server.start_server`:

  (a) random bytes (and corrupted valid messages) as a Handshake or Stream
      request get INVALID_ARGUMENT naming the problem, never UNKNOWN/INTERNAL;
  (b) after a valid handshake (and 0-2 valid steps), a StepRequest with one
      randomly mutated field gets INVALID_ARGUMENT naming a field;
  (c) random handshake fields: negative ids get INVALID_ARGUMENT naming
      actor_id, and every accepted handshake yields an id that can step.

After every example a well-formed actor on another id, streaming since the
module started, still gets valid actions, and nothing a rejected stream sent
reaches the unroll queue. One server per module; examples are bounded and
derandomized, so a CI run is fast and reproducible.
"""

import itertools
import math
import threading

from google.protobuf.message import DecodeError
import grpc
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
import numpy as np
import pytest

from seed_stac import envs as envs_lib
from seed_stac.learner.batcher import InferenceBatcher
from seed_stac.learner.actor_hub import EpisodeStats, ActorHub
from seed_stac.learner.unroll_sources import FifoSource
from seed_stac.types import InferenceOutput
from seed_stac.rpc import client, codec
from seed_stac.rpc import seed_stac_pb2 as pb
from seed_stac.rpc import testing

E = 2  # envs per actor
UNROLL_LENGTH = 3
GOOD_ID = 0
TIMEOUT_S = 10.0
_SERVICE = '/seed_stac.LearnerService/'
_FIELDS = ('env_ids', 'observation', 'reward', 'terminated', 'truncated', 'episode_return',
           'episode_length')
_INVALID = grpc.StatusCode.INVALID_ARGUMENT


def _tensor(request, field):
  """The request's Tensor of `field`: a message field or a per-env entry."""
  return request.per_env[field] if field in request.per_env else getattr(request, field)


_HAS_AUTO_ID = 'auto_actor_id' in pb.HandshakeRequest.DESCRIPTOR.fields_by_name

FUZZ = settings(max_examples=200,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=[HealthCheck.too_slow])


def _trivial_policy(num_actions):

  def infer(batch):
    n = len(batch.reward)
    return InferenceOutput((np.arange(n) % num_actions).astype(np.int32),
                           np.full(n, -math.log(num_actions), np.float32), batch.core)

  return infer


class _Drain(threading.Thread):
  """Draws from the unroll source one unroll at a time (as the trainer
  would) and records unrolls that could not have come from a well-formed
  actor."""

  def __init__(self, unrolls: FifoSource, obs_shape):
    super().__init__(daemon=True, name='unroll-drain')
    self.unrolls, self.obs_shape = unrolls, tuple(obs_shape)
    self.stop, self.columns, self.bad = threading.Event(), 0, []

  def run(self):
    while not self.stop.is_set():
      batch = self.unrolls.next_batch(self.stop)
      if batch is None:
        continue
      self.columns += 1
      unroll = batch.unroll  # [T + 1, 1, ...]
      if (unroll.observation.shape[-len(self.obs_shape):] != self.obs_shape
          or not np.isfinite(unroll.observation).all() or not np.isfinite(unroll.reward).all()
          or unroll.first.dtype != bool or unroll.terminated.dtype != bool):
        self.bad.append(unroll)


class _Learner:
  """The served ActorHub, a well-formed actor and a raw channel."""

  def __init__(self):
    self.spec = envs_lib.create_environment('catch', 'catch', 0).spec
    unrolls = FifoSource(batch_size=1, capacity=64)
    self.stats = EpisodeStats()
    self.batcher = InferenceBatcher(_trivial_policy(self.spec.action.num_actions),
                                    inference_batch_size=4,
                                    batch_timeout_ms=1.0)
    self.hub = ActorHub(self.spec,
                        dict(kind='catch', name='catch', seed=0, options={}),
                        E,
                        self.batcher, (),
                        UNROLL_LENGTH,
                        unrolls,
                        self.stats,
                        threading.Event(),
                        handshake_grace_s=1.0)
    self.drain = _Drain(unrolls, self.spec.observation_shape)
    self.drain.start()
    self.serving = testing.ServerThread(self.hub)
    self.channel = client.open_channel(self.serving.address)
    self.raw_handshake = self.channel.unary_unary(_SERVICE + 'Handshake')
    self.raw_stream = self.channel.stream_stream(_SERVICE + 'Stream')
    self._ids = itertools.count(100)
    # The well-formed actor: one stream for the whole module.
    client.handshake(self.channel, GOOD_ID, 'good-run', None, TIMEOUT_S)
    self._good = client.StepStream(self.channel, None)
    self.good_steps = 0
    self.good_step()

  def request(self, actor_id, run_id, step=0, num_envs=E) -> pb.StepRequest:
    """A well-formed StepRequest (Catch-like: one lit cell, an episode end
    with reward +-1 every 9th step)."""
    observation = np.zeros((num_envs,) + self.spec.observation_shape, np.float32)
    observation[:, step % observation.shape[1]] = 1.0
    ended = np.full(num_envs, step > 0 and step % 9 == 0)
    reward = np.where(ended, 1.0, 0.0).astype(np.float32)
    return codec.StepMessage(actor_id=actor_id,
                             run_id=run_id,
                             env_ids=np.arange(actor_id * E,
                                               actor_id * E + num_envs,
                                               dtype=np.int32),
                             observation=observation,
                             reward=reward,
                             terminated=ended,
                             truncated=np.zeros(num_envs, bool),
                             episode_return=np.where(ended, 1.0, np.nan).astype(np.float32),
                             episode_length=np.full(num_envs, step % 9, np.int32)).to_proto()

  def good_step(self):
    """The well-formed actor's next step must get E valid actions."""
    reply = self._good.exchange(self.request(GOOD_ID, 'good-run', self.good_steps))
    actions, done = codec.decode_reply(reply, np.int32, (E,))
    assert not done
    assert ((actions >= 0) & (actions < self.spec.action.num_actions)).all()
    self.good_steps += 1
    assert not self.drain.bad, 'a malformed step reached the unroll queue'

  def fresh_actor(self) -> int:
    """Handshakes an unused id (random handshakes may hold some); returns it."""
    for actor_id in self._ids:
      try:
        config = client.handshake(self.channel, actor_id, f'fuzz-{actor_id}', None, TIMEOUT_S)
      except grpc.RpcError as e:
        if e.code() == grpc.StatusCode.ALREADY_EXISTS:
          continue
        raise
      assert config.env_batch_size == E
      return actor_id
    raise AssertionError('unreachable')

  def close(self):
    self._good.cancel()
    self.channel.close()
    self.serving.stop()
    self.serving.run(self.batcher.close())
    self.drain.stop.set()
    self.drain.join()


@pytest.fixture(scope='module', name='learner')
def learner_fixture():
  learner = _Learner()
  yield learner
  learner.close()


def _field(details: str) -> str:
  """The field an error message names: the text before the first colon."""
  return details.split(':', 1)[0]


def _stream_error(stream: client.StepStream, request) -> grpc.RpcError:
  with pytest.raises(grpc.RpcError) as error:
    stream.exchange(request)
  note(f'{error.value.code()}: {error.value.details()}')
  return error.value


# (a) Random bytes. ----------------------------------------------------------


def _corrupted(learner_spec_request):
  """Bytes of a valid StepRequest, truncated and/or with some bytes flipped."""
  raw = learner_spec_request.SerializeToString()
  return st.tuples(
      st.integers(0, len(raw)),
      st.lists(st.tuples(st.integers(0,
                                     len(raw) - 1), st.integers(1, 255)), max_size=4),
  ).map(lambda cut_flips: _apply(raw, *cut_flips))


def _apply(raw: bytes, cut: int, flips) -> bytes:
  data = bytearray(raw)
  for index, xor in flips:
    data[index] ^= xor
  return bytes(data[:cut])


def _random_requests(learner):
  return st.one_of(st.binary(max_size=600), _corrupted(learner.request(7, 'nobody')))


@pytest.fixture(name='random_requests', scope='module')
def random_requests_fixture(learner):
  return _random_requests(learner)


def test_random_bytes_as_a_stream_request_are_invalid_argument(learner, random_requests):

  @FUZZ
  @given(raw=random_requests)
  def check(raw):
    with pytest.raises(grpc.RpcError) as error:
      list(learner.raw_stream(iter([raw]), timeout=TIMEOUT_S))
    note(f'{error.value.code()}: {error.value.details()}')
    try:
      request = pb.StepRequest.FromString(raw)
    except DecodeError:
      request = None
    assert error.value.code() == _INVALID, error.value.details()
    if request is None:
      assert _field(error.value.details()) == 'request'
    else:  # Parses, but names no handshaken run or has bad tensors.
      assert _field(error.value.details()) in _FIELDS + ('run_id',)
    learner.good_step()

  check()


def test_random_bytes_as_a_handshake_are_invalid_argument(learner, random_requests):

  @FUZZ
  @given(raw=random_requests)
  def check(raw):
    try:
      request = pb.HandshakeRequest.FromString(raw)
    except DecodeError:
      request = None
    try:
      reply = pb.HandshakeReply.FromString(learner.raw_handshake(raw, timeout=TIMEOUT_S))
    except grpc.RpcError as e:
      note(f'{e.code()}: {e.details()}')
      if request is None:
        assert e.code() == _INVALID and _field(e.details()) == 'request', e.details()
      else:
        assert e.code() in (_INVALID, grpc.StatusCode.ALREADY_EXISTS), e.details()
        assert _field(e.details()) == 'actor_id', e.details()
    else:  # The bytes happen to be a handshake: a sane reply for a usable id.
      assert request is not None and reply.env_batch_size == E
      assert not _HAS_AUTO_ID or reply.actor_id >= 0
    learner.good_step()

  check()


# (b) A valid handshake, then mutated StepRequests. ---------------------------

_DTYPE_NAMES = st.one_of(
    st.sampled_from(
        sorted(codec.KNOWN_DTYPES) + [
            '', 'f4', '<f4', '>f4', 'float', 'bool_', 'object', 'O', 'str', 'U8', 'V4', 'complex64',
            'datetime64', 'float32 ', 'FLOAT32', 'int', 'float128'
        ]), st.text(max_size=12))
_INT64 = st.integers(-2**63, 2**63 - 1)
_INT32 = st.integers(-2**31, 2**31 - 1)


def _mutate_dtype(learner, request, data):
  field = data.draw(st.sampled_from(_FIELDS), label='field')
  tensor = _tensor(request, field)
  tensor.dtype = data.draw(_DTYPE_NAMES.filter(lambda s: s != tensor.dtype), label='dtype')
  return {field}


def _mutate_shape(learner, request, data):
  field = data.draw(st.sampled_from(_FIELDS), label='field')
  tensor = _tensor(request, field)
  shape = list(tensor.shape)
  new = data.draw(
      st.one_of(
          st.lists(_INT64, max_size=8),
          st.lists(st.integers(-1, 60), max_size=5),
          st.just(shape[::-1]),
          st.integers(1, 100).map(lambda k: shape + [1] * k),  # same byte count
          st.lists(st.integers(2**31, 2**63 - 1), min_size=1,
                   max_size=4).map(lambda huge: shape[:1] + huge),
      ).filter(lambda s: s != shape),
      label='shape')
  del tensor.shape[:]
  tensor.shape.extend(new)
  return {field}


def _mutate_huge_empty(learner, request, data):
  """A zero-size declared shape (so 0 bytes is 'right') with huge dimensions."""
  field = data.draw(st.sampled_from(_FIELDS), label='field')
  tensor = _tensor(request, field)
  huge = data.draw(st.lists(st.integers(2**20, 2**63 - 1), min_size=1, max_size=3), label='huge')
  new = list(tensor.shape[:1]) + [0] + huge
  del tensor.shape[:]
  tensor.shape.extend(new)
  tensor.data = b''
  return {field}


def _mutate_length(learner, request, data):
  field = data.draw(st.sampled_from(_FIELDS), label='field')
  tensor = _tensor(request, field)
  size = len(tensor.data)
  delta = data.draw(st.integers(-size, 64).filter(lambda d: d != 0), label='delta')
  if delta < 0:
    tensor.data = tensor.data[:delta]
  else:
    tensor.data = tensor.data + data.draw(st.binary(min_size=delta, max_size=delta))
  return {field}


def _mutate_nonfinite(learner, request, data):
  field = data.draw(st.sampled_from(['reward', 'observation']), label='field')
  tensor = _tensor(request, field)
  values = codec.decode_tensor(tensor, field).copy()
  index = data.draw(st.integers(0, values.size - 1), label='index')
  values.reshape(-1)[index] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
  codec.encode_tensor(values, tensor)
  return {field}


def _mutate_infinite_return(learner, request, data):
  values = codec.decode_tensor(request.per_env['episode_return'], 'episode_return').copy()
  index = data.draw(st.integers(0, E - 1), label='index')
  values[index] = data.draw(st.sampled_from([np.inf, -np.inf]))
  codec.encode_tensor(values, request.per_env['episode_return'])
  return {'episode_return'}


def _mutate_bool_bytes(learner, request, data):
  field = data.draw(st.sampled_from(['terminated', 'truncated']), label='field')
  raw = data.draw(st.binary(min_size=E, max_size=E).filter(lambda b: max(b) > 1), label='bytes')
  _tensor(request, field).data = raw
  return {field}


def _mutate_env_ids(learner, request, data):
  expected = list(codec.decode_tensor(request.env_ids, 'env_ids'))
  ids = data.draw(st.one_of(
      st.lists(_INT32, min_size=E, max_size=E),
      st.lists(st.integers(-4, 4), min_size=E, max_size=E),
      st.just(expected[::-1]),
      st.just([-i - 1 for i in expected]),
  ).filter(lambda v: v != expected),
                  label='env_ids')
  codec.encode_tensor(np.array(ids, np.int32), request.env_ids)
  return {'env_ids'}


def _mutate_num_envs(learner, request, data):
  """A consistent batch of the wrong number of envs."""
  n = data.draw(st.integers(1, 2 * E + 1).filter(lambda n: n != E), label='num_envs')
  step = data.draw(st.integers(0, 20))
  request.CopyFrom(learner.request(request.actor_id, request.run_id, step, n))
  return {'observation', 'env_ids'}


def _mutate_clear(learner, request, data):
  field = data.draw(st.sampled_from(_FIELDS), label='field')
  if field in request.per_env:
    del request.per_env[field]
  else:
    request.ClearField(field)
  return {field}


def _mutate_identity(learner, request, data):
  which = data.draw(st.sampled_from(['actor_id', 'run_id', 'both']), label='identity')
  if which in ('actor_id', 'both'):
    request.actor_id = data.draw(_INT32.filter(lambda i: i != request.actor_id))
  if which in ('run_id', 'both'):
    request.run_id = data.draw(st.text(max_size=20).filter(lambda s: s != request.run_id))
  fields = {'actor_id/run_id', 'run_id'}  # mid-stream / on the first request
  if which != 'run_id':  # on the first request the env_ids no longer fit the actor id
    fields.add('env_ids')
  return fields


_MUTATIONS = (_mutate_dtype, _mutate_shape, _mutate_huge_empty, _mutate_length, _mutate_nonfinite,
              _mutate_bool_bytes, _mutate_env_ids, _mutate_num_envs, _mutate_clear,
              _mutate_identity, _mutate_infinite_return)


def test_mutated_step_requests_are_invalid_argument_naming_a_field(learner):

  @settings(FUZZ, max_examples=600)
  @given(data=st.data())
  def check(data):
    prefix = data.draw(st.integers(0, 2), label='valid steps first')
    mutate = data.draw(st.sampled_from(_MUTATIONS), label='mutation')
    actor_id = learner.fresh_actor()
    run_id = f'fuzz-{actor_id}'
    stream = client.StepStream(learner.channel, None)
    try:
      for step in range(prefix):
        reply = stream.exchange(learner.request(actor_id, run_id, step))
        codec.decode_reply(reply, np.int32, (E,))
      request = learner.request(actor_id, run_id, prefix)
      fields = mutate(learner, request, data)
      error = _stream_error(stream, request)
    finally:
      stream.cancel()
    assert error.code() == _INVALID, f'{error.code()}: {error.details()}'
    assert _field(error.details()) in fields, error.details()
    learner.good_step()

  check()


# (c) Random handshake fields. ------------------------------------------------


def test_random_handshakes_are_refused_or_usable(learner):

  @settings(FUZZ, max_examples=300)
  @given(actor_id=st.one_of(_INT32, st.integers(0, 300)),
         run_id=st.text(max_size=40),
         token=st.text(max_size=12),
         auto=st.booleans() if _HAS_AUTO_ID else st.just(False))
  def check(actor_id, run_id, token, auto):
    extra = dict(auto_actor_id=True) if auto else {}
    raw = pb.HandshakeRequest(actor_id=actor_id, run_id=run_id, token=token,
                              **extra).SerializeToString()
    try:
      reply = pb.HandshakeReply.FromString(learner.raw_handshake(raw, timeout=TIMEOUT_S))
    except grpc.RpcError as e:
      note(f'{e.code()}: {e.details()}')
      assert _field(e.details()) == 'actor_id', e.details()
      if actor_id < 0:
        assert e.code() == _INVALID
      elif auto:
        raise AssertionError(f'an id was not assigned: {e.code()}: {e.details()}')
      elif e.code() == _INVALID:  # only if its env ids overflow int32
        assert (actor_id + 1) * E > 2**31, e.details()
      else:  # or if a live actor holds it
        assert e.code() == grpc.StatusCode.ALREADY_EXISTS, e.details()
      learner.good_step()
      return
    assert actor_id >= 0 or auto, 'a negative actor_id was accepted'
    assert reply.env_batch_size == E
    used = reply.actor_id if (auto or _HAS_AUTO_ID) else actor_id
    if not auto:
      assert used == actor_id
    # An accepted handshake must give an id that can step.
    stream = client.StepStream(learner.channel, None)
    try:
      reply = stream.exchange(learner.request(used, run_id))
      actions, _ = codec.decode_reply(reply, np.int32, (E,))
      assert actions.shape == (E,)
    finally:
      stream.cancel()
    learner.good_step()

  check()


# Shapes numpy cannot reshape, infinite returns, and the state left behind. ------


@pytest.mark.parametrize('shape', [[E, 50] + [1] * 70, [E, 0, 2**62]],
                         ids=['65+_dims', 'zero_size_overflow'])
def test_unreshapable_observation_is_invalid_argument(learner, shape):
  actor_id = learner.fresh_actor()
  request = learner.request(actor_id, f'fuzz-{actor_id}')
  del request.observation.shape[:]
  request.observation.shape.extend(shape)
  if 0 in shape:
    request.observation.data = b''
  stream = client.StepStream(learner.channel, None)
  try:
    with pytest.raises(grpc.RpcError) as error:  # not _stream_error: no hypothesis here
      stream.exchange(request)
  finally:
    stream.cancel()
  learner.good_step()
  assert error.value.code() == _INVALID, f'{error.value.code()}: {error.value.details()}'
  assert _field(error.value.details()) == 'observation'


@pytest.mark.parametrize('value', [np.inf, -np.inf])
def test_an_infinite_episode_return_never_reaches_the_logged_returns(learner, value):
  """Refused naming episode_return, or at least not counted as a return."""
  actor_id = learner.fresh_actor()
  request = learner.request(actor_id, f'fuzz-{actor_id}', step=9)  # an episode end
  codec.encode_tensor(np.array([1.0, value], np.float32), request.per_env['episode_return'])
  learner.stats.take_episodes()
  stream = client.StepStream(learner.channel, None)
  try:
    stream.exchange(request)
  except grpc.RpcError as e:
    assert e.code() == _INVALID and _field(e.details()) == 'episode_return', e.details()
  finally:
    stream.cancel()
  learner.good_step()
  assert np.isfinite(learner.stats.take_episodes()[0]).all()


def test_rejected_streams_leave_no_state_behind(learner):
  """Every fuzzed actor's slot is freed: closed streams at once, handshakes
  without a stream after the grace period (at the next handshake). Runs
  alone too: it steps the good actor through a whole unroll itself."""
  for _ in range(UNROLL_LENGTH + 1):
    learner.good_step()
  for _ in range(200):  # the drain thread takes unrolls off the queue
    if learner.drain.columns:
      break
    threading.Event().wait(0.01)
  assert learner.drain.columns > 0  # the good actor's unrolls did arrive
  assert not learner.drain.bad
  deadline = learner.hub.handshake_grace_s + 0.2
  threading.Event().wait(deadline)
  actor_id = learner.fresh_actor()  # releases expired handshakes
  assert learner.hub.num_slots == 2, learner.hub.num_slots  # good + this one
  stream = client.StepStream(learner.channel, None)
  try:
    stream.exchange(learner.request(actor_id, f'fuzz-{actor_id}'))
  finally:
    stream.cancel()
