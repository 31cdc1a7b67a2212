"""Tests for seed_stac.rpc.server over real loopback gRPC."""

import asyncio
import json
import queue
import threading

import grpc
import numpy as np
import pytest

from seed_stac.rpc import codec
from seed_stac.rpc import seed_stac_pb2 as pb
from seed_stac.rpc import seed_stac_pb2_grpc as pb_grpc
from seed_stac.rpc import server
from seed_stac.rpc import testing

E = 4
OBS_SHAPE = (50,)  # catch


class EchoHandler(testing.FakeLearner):
  """Actions = env_ids; sleeps a random while to scramble timing."""

  def __init__(self, **kwargs):
    super().__init__(env_batch_size=E, **kwargs)
    self.order = []
    self._delays = np.random.default_rng(0)

  async def step(self, batch):
    await asyncio.sleep(float(self._delays.uniform(0, 0.005)))
    await super().step(batch)
    self.order.append(int(batch.reward[0]))
    return batch.env_ids.copy(), False


@pytest.fixture(name='learner')
def learner_fixture():
  handler = EchoHandler()
  serving = testing.ServerThread(handler, token='sesame')
  yield handler, serving
  serving.stop()


def stub_for(serving):
  channel = grpc.insecure_channel(serving.address)
  return channel, pb_grpc.LearnerServiceStub(channel)


def step_request(actor_id=1, run_id='r1', reward=0.0, obs_dtype=np.float32):
  return codec.StepMessage(actor_id=actor_id,
                           run_id=run_id,
                           env_ids=np.arange(actor_id * E, (actor_id + 1) * E, dtype=np.int32),
                           observation=np.zeros((E,) + OBS_SHAPE, obs_dtype),
                           reward=np.full(E, reward, np.float32),
                           terminated=np.zeros(E, bool),
                           truncated=np.zeros(E, bool),
                           episode_return=np.full(E, np.nan, np.float32),
                           episode_length=np.zeros(E, np.int32)).to_proto()


GOOD_TOKEN = ((server.TOKEN_METADATA_KEY, 'sesame'),)


class LockStep:
  """A client stream sending one request at a time from this thread."""

  def __init__(self, stub, metadata=GOOD_TOKEN):
    self._requests = queue.SimpleQueue()
    self.call = stub.Stream(iter(self._requests.get, None), metadata=metadata)

  def exchange(self, request):
    self._requests.put(request)
    return next(self.call)

  def close(self):
    self._requests.put(None)


def test_handshake_returns_handler_config(learner):
  handler, serving = learner
  channel, stub = stub_for(serving)
  with channel:
    reply = stub.Handshake(pb.HandshakeRequest(actor_id=3, run_id='abc', token='sesame'),
                           timeout=10)
  assert handler.handshakes == [(3, 'abc')]
  assert json.loads(reply.env_config_json)['kind'] == 'catch'
  assert json.loads(reply.env_spec_json)['observation_shape'] == [50]
  assert reply.env_batch_size == E
  assert reply.actor_id == 3


@pytest.mark.parametrize('token', ['', 'wrong'])
def test_bad_token_is_unauthenticated(learner, token):
  handler, serving = learner
  channel, stub = stub_for(serving)
  with channel:
    with pytest.raises(grpc.RpcError) as handshake_error:
      stub.Handshake(pb.HandshakeRequest(actor_id=0, run_id='x', token=token), timeout=10)
    metadata = ((server.TOKEN_METADATA_KEY, token),) if token else None
    stream = LockStep(stub, metadata)
    with pytest.raises(grpc.RpcError) as stream_error:
      stream.exchange(step_request())
  assert handshake_error.value.code() == grpc.StatusCode.UNAUTHENTICATED
  assert stream_error.value.code() == grpc.StatusCode.UNAUTHENTICATED
  assert not handler.handshakes and not handler.steps


def test_pipelined_requests_are_handled_and_answered_in_order(learner):
  handler, serving = learner
  channel, stub = stub_for(serving)
  requests = [step_request(reward=float(i)) for i in range(20)]
  with channel:
    replies = list(stub.Stream(iter(requests), metadata=GOOD_TOKEN, timeout=20))
  assert handler.order == list(range(20))
  assert len(replies) == 20
  for reply in replies:
    actions, done = codec.decode_reply(reply, np.int32, (E,))
    np.testing.assert_array_equal(actions, np.arange(E, 2 * E))
    assert not done
  assert handler.closed == [(1, 'r1')]


@pytest.mark.parametrize(
    'mutate, message',
    [
        (lambda m: codec.encode_tensor(np.zeros((E,) + OBS_SHAPE, np.float64), m.observation),
         'observation: expected dtype float32, got float64'),
        (lambda m: setattr(m.per_env['reward'], 'data', m.per_env['reward'].data[:-1]),
         'reward: 15 bytes for shape (4,) float32 (expected 16)'),
        (lambda m: setattr(m.per_env['terminated'], 'dtype', 'complex'),
         "terminated: unknown dtype 'complex'"),
        (lambda m: codec.encode_tensor(np.arange(E, dtype=np.int32), m.env_ids),
         'env_ids: expected 4..7 for actor 1'),  # Raised by the handler.
        (lambda m: setattr(m, 'run_id', 'other'), 'actor_id/run_id: changed within a stream'),
        (lambda m: codec.encode_tensor(np.array([0, np.nan, 0, 0], np.float32), m.per_env['reward']
                                      ), 'reward: non-finite value (NaN or inf) at env index 1'),
    ],
    ids=['dtype', 'bytes', 'unknown_dtype', 'handler_check', 'identity', 'nan_reward'])
def test_bad_message_aborts_only_its_stream(learner, mutate, message):
  handler, serving = learner
  channel, stub = stub_for(serving)
  with channel:
    good, bad = LockStep(stub), LockStep(stub)
    good.exchange(step_request(actor_id=0, run_id='good'))
    bad.exchange(step_request())  # Fix identity, then misbehave.
    request = step_request(reward=1.0)
    mutate(request)
    with pytest.raises(grpc.RpcError) as error:
      bad.exchange(request)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in error.value.details()
    # The other stream and new streams keep working.
    reply = good.exchange(step_request(actor_id=0, run_id='good', reward=2.0))
    assert not reply.training_done
    assert LockStep(stub).exchange(step_request(run_id='new')).action.data
    good.close()
  assert handler.steps[(0, 'good')] == 2
  assert handler.steps[(1, 'r1')] == 1  # The bad request never reached it.
  assert (1, 'r1') in handler.closed


def test_handler_may_end_training():
  fake = testing.FakeLearner(env_batch_size=E, done_after_steps=2)
  other = testing.ServerThread(fake)
  try:
    channel, stub = stub_for(other)
    with channel:
      stream = LockStep(stub, None)
      assert not stream.exchange(step_request()).training_done
      assert stream.exchange(step_request()).training_done
      stream.close()
  finally:
    other.stop()


def test_stop_cancels_open_streams_with_unavailable():
  fake = testing.FakeLearner(env_batch_size=E)
  serving = testing.ServerThread(fake)
  channel, stub = stub_for(serving)
  with channel:
    stream = LockStep(stub, None)
    stream.exchange(step_request())
    stopper = threading.Thread(target=serving.stop)
    stopper.start()
    with pytest.raises(grpc.RpcError) as error:
      for _ in range(1000):
        stream.exchange(step_request())
    stopper.join()
  assert error.value.code() == grpc.StatusCode.UNAVAILABLE


def test_unbindable_address_raises():
  fake = testing.FakeLearner(env_batch_size=E)
  with pytest.raises(Exception, match='bind|address'):
    testing.ServerThread(fake, address='256.0.0.1:0')


def test_garbage_bytes_and_negative_actor_ids_are_invalid_arguments(learner):
  handler, serving = learner
  channel = grpc.insecure_channel(serving.address)
  with channel:
    raw_handshake = channel.unary_unary('/seed_stac.LearnerService/Handshake')
    with pytest.raises(grpc.RpcError) as garbage:
      raw_handshake(b'\xff\xff\xff\xff not a protobuf', timeout=10)
    raw_stream = channel.stream_stream('/seed_stac.LearnerService/Stream')
    with pytest.raises(grpc.RpcError) as garbage_stream:
      list(raw_stream(iter([b'\x0a\xff\xff']), metadata=GOOD_TOKEN, timeout=10))
    _, stub = stub_for(serving)
    with pytest.raises(grpc.RpcError) as negative:
      stub.Handshake(pb.HandshakeRequest(actor_id=-1, run_id='x', token='sesame'), timeout=10)
  assert garbage.value.code() == grpc.StatusCode.INVALID_ARGUMENT
  assert 'not a valid HandshakeRequest' in garbage.value.details()
  assert garbage_stream.value.code() == grpc.StatusCode.INVALID_ARGUMENT
  assert 'not a valid StepRequest' in garbage_stream.value.details()
  assert negative.value.code() == grpc.StatusCode.INVALID_ARGUMENT
  assert 'actor_id: must be >= 0, got -1' in negative.value.details()
  assert not handler.handshakes and not handler.steps
