"""Tests for seed_stac.rpc.codec."""

import dataclasses

import numpy as np
import pytest

from seed_stac.envs.base import ActionSpec, EnvSpec
from seed_stac.envs.batch import BatchStep
from seed_stac.rpc import codec
from seed_stac.rpc import seed_stac_pb2 as pb

E = 4


def make_batch(rng, actor_id=2, obs_dtype=np.float32, num_envs=E):
  first = actor_id * num_envs
  return codec.StepMessage(actor_id=actor_id,
                           run_id='run-a',
                           env_ids=np.arange(first, first + num_envs, dtype=np.int32),
                           observation=rng.integers(0, 255, (num_envs, 3, 2)).astype(obs_dtype),
                           reward=rng.standard_normal(num_envs).astype(np.float32),
                           terminated=rng.random(num_envs) < 0.5,
                           truncated=rng.random(num_envs) < 0.5,
                           episode_return=np.where(rng.random(num_envs) < 0.5, np.nan,
                                                   1.5).astype(np.float32),
                           episode_length=rng.integers(0, 100, num_envs).astype(np.int32))


LAYOUT = codec.StepLayout((3, 2), np.dtype(np.float32), E)


def wire(msg):
  """Through bytes, as over the network."""
  return type(msg).FromString(msg.SerializeToString())


@pytest.mark.parametrize('dtype', sorted(codec.KNOWN_DTYPES))
def test_tensor_round_trip_every_dtype(dtype):
  rng = np.random.default_rng(0)
  array = (rng.random((3, 4, 2)) * 100).astype(dtype)
  decoded = codec.decode_tensor(wire(codec.encode_tensor(array)), 'x', dtype, (3, 4, 2))
  assert decoded.dtype == np.dtype(dtype)
  np.testing.assert_array_equal(decoded, array)


@pytest.mark.parametrize(
    'array',
    [
        np.float32(2.5),  # 0-d
        np.zeros((0, 7), np.uint8),  # empty
        np.arange(24, dtype=np.int64).reshape(4, 6)[:, ::2],  # non-contiguous
        np.arange(5, dtype='>i4'),  # big-endian input
    ],
    ids=['scalar', 'empty', 'strided', 'big_endian'])
def test_tensor_round_trip_odd_layouts(array):
  decoded = codec.decode_tensor(wire(codec.encode_tensor(array)), 'x')
  assert decoded.shape == array.shape
  np.testing.assert_array_equal(decoded, array)


def test_encode_rejects_unsupported_dtype():
  with pytest.raises(ValueError, match='cannot encode'):
    codec.encode_tensor(np.array(['a', 'b']))


def test_decoded_array_is_zero_copy_and_read_only():
  msg = codec.encode_tensor(np.arange(6, dtype=np.float32))
  decoded = codec.decode_tensor(msg, 'x')
  assert not decoded.flags.writeable


@pytest.mark.parametrize(
    'tensor, kwargs, message',
    [
        (pb.Tensor(data=b'\0' * 4, dtype='object',
                   shape=[1]), {}, "observation: unknown dtype 'object'"),
        (pb.Tensor(data=b'', dtype='float32', shape=[-1, 0
                                                    ]), {}, 'observation: negative dimension'),
        (pb.Tensor(data=b'\0' * 7, dtype='float32',
                   shape=[2]), {}, r'observation: 7 bytes for shape \(2,\) float32 \(expected 8\)'),
        (pb.Tensor(data=b'\0' * 8, dtype='float32', shape=[2]), {
            'expected_dtype': np.uint8
        }, 'observation: expected dtype uint8, got float32'),
        (pb.Tensor(data=b'\0' * 8, dtype='float32', shape=[2]), {
            'expected_shape': (None, 2)
        }, r'observation: expected shape \(\?, 2\), got \(2,\)'),
        (pb.Tensor(data=b'\0' * 8, dtype='float32', shape=[2]), {
            'expected_shape': (3,)
        }, r'observation: expected shape \(3,\), got \(2,\)'),
        (pb.Tensor(data=b'\0\2', dtype='bool',
                   shape=[2]), {}, 'observation: bool bytes must be 0 or 1'),
        # A huge claimed shape must fail on the byte count, not allocate.
        (pb.Tensor(data=b'', dtype='float64', shape=[2**40, 2**40]), {}, 'observation: 0 bytes'),
    ])
def test_decode_errors_name_the_field(tensor, kwargs, message):
  with pytest.raises(codec.InvalidMessageError, match=message):
    codec.decode_tensor(tensor, 'observation', **kwargs)


def test_step_message_round_trip():
  batch = make_batch(np.random.default_rng(1), obs_dtype=np.uint8)
  layout = codec.StepLayout((3, 2), np.dtype(np.uint8), E)
  decoded = codec.StepMessage.from_proto(wire(batch.to_proto()), layout)
  assert decoded.actor_id == 2 and decoded.run_id == 'run-a'
  assert decoded.num_envs == E
  for field in ('env_ids', 'observation', 'reward', 'terminated', 'truncated', 'episode_return',
                'episode_length'):
    expected = getattr(batch, field)
    actual = getattr(decoded, field)
    assert actual.dtype == expected.dtype, field
    np.testing.assert_array_equal(actual, expected, err_msg=field)


@pytest.mark.parametrize('field, value, message', [
    ('reward', np.zeros(E + 1, np.float32), r'reward: expected shape \(4,\), got \(5,\)'),
    ('terminated', np.zeros(E, np.int32), 'terminated: expected dtype bool, got int32'),
    ('episode_length', np.zeros(E, np.int64), 'episode_length: expected dtype int32, got int64'),
    ('observation', np.zeros(
        (E - 1, 3, 2), np.float32), r'observation: expected shape \(4, 3, 2\), got \(3, 3, 2\)'),
    ('observation', np.float32(1.0), r'observation: expected shape \(4, 3, 2\), got \(\)'),
    ('env_ids', np.zeros((E, 1), np.int32), r'env_ids: expected shape \(4,\), got \(4, 1\)'),
    ('env_ids', np.zeros(0, np.int32), r'env_ids: expected shape \(4,\), got \(0,\)'),
])
def test_step_message_decode_errors_name_the_field(field, value, message):
  msg = make_batch(np.random.default_rng(2)).to_proto()
  codec.encode_tensor(value, msg.per_env[field] if field in msg.per_env else getattr(msg, field))
  with pytest.raises(codec.InvalidMessageError, match=message):
    codec.StepMessage.from_proto(wire(msg), LAYOUT)


@pytest.mark.parametrize('field, index, bad', [('reward', 2, np.nan), ('reward', 0, np.inf),
                                               ('observation', 3, -np.inf),
                                               ('observation', 1, np.nan)])
def test_non_finite_rewards_and_float_observations_are_refused(field, index, bad):
  batch = make_batch(np.random.default_rng(4))
  batch.observation = batch.observation.astype(np.float32)
  values = getattr(batch, field).copy()
  values.reshape(E, -1)[index, -1] = bad
  setattr(batch, field, values)
  with pytest.raises(codec.InvalidMessageError,
                     match=f'{field}: non-finite value \\(NaN or inf\\) at env index {index}'):
    codec.StepMessage.from_proto(wire(batch.to_proto()), LAYOUT)
  # NaN episode returns are the protocol's "no episode ended" and pass.
  fine = make_batch(np.random.default_rng(4))
  fine.episode_return = np.full(E, np.nan, np.float32)
  codec.StepMessage.from_proto(wire(fine.to_proto()), LAYOUT)


def test_step_message_missing_field_is_an_error():
  msg = make_batch(np.random.default_rng(3)).to_proto()
  del msg.per_env['truncated']
  with pytest.raises(codec.InvalidMessageError, match='truncated: missing from per_env'):
    codec.StepMessage.from_proto(wire(msg), LAYOUT)
  msg.ClearField('observation')
  with pytest.raises(codec.InvalidMessageError, match='observation: unknown'):
    codec.StepMessage.from_proto(wire(msg), LAYOUT)


def test_a_per_env_field_the_learner_does_not_know_is_an_error():
  msg = make_batch(np.random.default_rng(3)).to_proto()
  codec.encode_tensor(np.ones(E, np.float32), msg.per_env['discount'])
  with pytest.raises(codec.InvalidMessageError,
                     match=r"per_env: unknown fields \['discount'\].*another version"):
    codec.StepMessage.from_proto(wire(msg), LAYOUT)


@pytest.mark.parametrize('layout, message', [
    (((3, 3), np.float32, E), r'observation: expected shape \(4, 3, 3\), got \(4, 3, 2\)'),
    (((3, 2), np.uint8, E), 'observation: expected dtype uint8, got float32'),
    (((3, 2), np.float32, E + 1), r'env_ids: expected shape \(5,\), got \(4,\)'),
])
def test_decoding_against_the_learner_layout(layout, message):
  msg = wire(make_batch(np.random.default_rng(4)).to_proto())
  codec.StepMessage.from_proto(msg, LAYOUT)
  shape, dtype, num_envs = layout
  with pytest.raises(codec.InvalidMessageError, match=message):
    codec.StepMessage.from_proto(msg, codec.StepLayout(shape, np.dtype(dtype), num_envs))


def test_a_layout_needs_an_env():
  with pytest.raises(ValueError, match='env_batch_size must be >= 1, got 0'):
    codec.StepLayout((3, 2), np.dtype(np.float32), 0)


def test_env_ids_must_belong_to_the_actor():
  batch = make_batch(np.random.default_rng(5), actor_id=2)
  batch.actor_id = 1
  with pytest.raises(codec.InvalidMessageError, match='env_ids: expected 4..7 for actor 1'):
    codec.StepMessage.from_proto(wire(batch.to_proto()), LAYOUT)


def test_reply_round_trip_and_validation():
  actions = np.array([0, 2, 1, 1], np.int32)
  msg = wire(codec.encode_reply(actions, True))
  decoded, done = codec.decode_reply(msg, np.int32, (E,))
  np.testing.assert_array_equal(decoded, actions)
  assert done is True
  with pytest.raises(codec.InvalidMessageError, match='action: expected dtype'):
    codec.decode_reply(msg, np.float32, (E,))
  with pytest.raises(codec.InvalidMessageError, match='action: expected shape'):
    codec.decode_reply(msg, np.int32, (E, 2))


CATCH_SPEC = EnvSpec('catch', (50,), 'float32', ActionSpec('discrete', num_actions=3))
CATCH_CONFIG = {'kind': 'catch', 'name': 'catch', 'seed': 0, 'options': {'rows': 10}}


def test_handshake_reply_round_trip():
  reply = codec.HandshakeReply(CATCH_SPEC, CATCH_CONFIG, env_batch_size=4, actor_id=7)
  wire = pb.HandshakeReply.FromString(reply.to_proto().SerializeToString())
  assert codec.HandshakeReply.from_proto(wire) == reply


@pytest.mark.parametrize('change,message', [
    (dict(env_config_json='{"kind": "catch"}'), r"env_config_json: missing \['name', 'seed'\]"),
    (dict(env_config_json='[1, 2]'), 'env_config_json: not a JSON object'),
    (dict(env_spec_json='{not json'), 'handshake reply: undecodable JSON'),
    (dict(env_batch_size=0), 'env_batch_size: must be >= 1, got 0'),
])
def test_handshake_reply_errors_name_the_field(change, message):
  wire = codec.HandshakeReply(CATCH_SPEC, CATCH_CONFIG, 4, 0).to_proto()
  for field, value in change.items():
    setattr(wire, field, value)
  with pytest.raises(codec.InvalidMessageError, match=message):
    codec.HandshakeReply.from_proto(wire)


def test_handshake_reply_without_options_gets_empty_options():
  config = {'kind': 'catch', 'name': 'catch', 'seed': 3}
  wire = codec.HandshakeReply(CATCH_SPEC, config, 4, 0).to_proto()
  assert codec.HandshakeReply.from_proto(wire).env_config['options'] == {}


def test_the_step_message_is_the_env_batch_step_with_its_address():
  """One declaration: the request's fields are BatchStep's plus where it comes
  from, and each per-env field has its wire field."""
  names = [f.name for f in dataclasses.fields(codec.StepMessage)]
  assert names == [f.name for f in dataclasses.fields(BatchStep)
                  ] + ['actor_id', 'run_id', 'env_ids']
  first = BatchStep.first(np.ones((3, 2), np.uint8))
  assert [first.fields()[name].dtype for name, _ in BatchStep.per_env_fields()
         ] == [dtype for _, dtype in BatchStep.per_env_fields()]
  assert np.isnan(first.episode_return).all() and not first.terminated.any()
  message = codec.StepMessage.of(1, 'r', np.arange(3, 6, dtype=np.int32), first)
  assert sorted(message.to_proto().per_env) == sorted(
      name for name, _ in BatchStep.per_env_fields())
  decoded = codec.StepMessage.from_proto(wire(message.to_proto()),
                                         codec.StepLayout((2,), np.dtype(np.uint8), 3))
  for name, value in first.fields().items():
    np.testing.assert_array_equal(getattr(decoded, name), value)
