"""numpy arrays <-> wire messages, with validation of everything received.

Tensors travel as raw C-order little-endian buffers (`Tensor.data`), so
encoding is one `tobytes()` and decoding one zero-copy `np.frombuffer()` per
array; no per-element Python work. Decoded arrays are READ-ONLY views of the
message bytes: copy before writing into them.

Every check raises `InvalidMessageError` whose message starts with the field
name, e.g. "observation: expected dtype uint8, got float32"; the server turns it
into INVALID_ARGUMENT for the offending stream only.
"""

import dataclasses
import json
import math
from typing import Optional, Sequence, Tuple

import numpy as np

from seed_stac.envs.base import EnvSpec
from seed_stac.envs.batch import BatchStep
from seed_stac.rpc import seed_stac_pb2 as pb

# Only fixed-size numeric dtypes: anything else (object, str, void) cannot be
# rebuilt from raw bytes safely.
KNOWN_DTYPES = {
    name: np.dtype(name).newbyteorder('<')
    for name in ('bool', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64',
                 'float16', 'float32', 'float64')
}


class InvalidMessageError(ValueError):
  """A received message is malformed or does not match what was expected."""


class ActorIdInUseError(Exception):
  """A handshake names an actor id that a live actor holds (ALREADY_EXISTS)."""


def encode_tensor(array, out: Optional[pb.Tensor] = None) -> pb.Tensor:
  """Encodes an array (any shape, a KNOWN_DTYPES dtype) into a Tensor.

  Fills `out` in place when given (e.g. a sub-message of a request).
  """
  array = np.asarray(array)
  name = array.dtype.name
  if name not in KNOWN_DTYPES:
    raise ValueError(f'cannot encode dtype {array.dtype}')
  # tobytes() copies into C order; astype is a no-op on little-endian hosts.
  data = array.astype(KNOWN_DTYPES[name], copy=False).tobytes()
  if out is None:
    return pb.Tensor(data=data, dtype=name, shape=array.shape)
  out.data = data
  out.dtype = name
  del out.shape[:]
  out.shape.extend(array.shape)
  return out


# numpy's own limit is 64; no observation of ours comes close.
MAX_DIMENSIONS = 32


def decode_tensor(msg: pb.Tensor,
                  field: str,
                  expected_dtype=None,
                  expected_shape: Optional[Sequence[Optional[int]]] = None) -> np.ndarray:
  """Decodes and validates a Tensor; returns a read-only array.

  Args:
    msg: the received Tensor.
    field: name used in error messages.
    expected_dtype: dtype the array must have, or None for any known one.
    expected_shape: shape it must have; None entries match any size.
  Raises:
    InvalidMessageError naming `field`.
  """
  dtype = KNOWN_DTYPES.get(msg.dtype)
  if dtype is None:
    raise InvalidMessageError(f'{field}: unknown dtype {msg.dtype!r}')
  if expected_dtype is not None and dtype != np.dtype(expected_dtype):
    raise InvalidMessageError(f'{field}: expected dtype {np.dtype(expected_dtype).name}, '
                              f'got {msg.dtype}')
  shape = tuple(msg.shape)
  if len(shape) > MAX_DIMENSIONS:
    raise InvalidMessageError(f'{field}: {len(shape)} dimensions, at most {MAX_DIMENSIONS}')
  if any(d < 0 for d in shape):
    raise InvalidMessageError(f'{field}: negative dimension in shape {shape}')
  if expected_shape is not None and not _shape_matches(shape, expected_shape):
    raise InvalidMessageError(
        f'{field}: expected shape {_format_shape(expected_shape)}, got {shape}')
  # math.prod on Python ints cannot overflow, unlike np.prod.
  expected_bytes = math.prod(shape) * dtype.itemsize
  if len(msg.data) != expected_bytes:
    raise InvalidMessageError(f'{field}: {len(msg.data)} bytes for shape {shape} {msg.dtype} '
                              f'(expected {expected_bytes})')
  try:
    array = np.frombuffer(msg.data, dtype=dtype).reshape(shape)
  except ValueError as e:  # e.g. a zero-size shape whose other dims overflow
    raise InvalidMessageError(f'{field}: shape {shape} cannot hold the data: {e}') from e
  if dtype.kind == 'b' and array.size and array.view(np.uint8).max() > 1:
    raise InvalidMessageError(f'{field}: bool bytes must be 0 or 1')
  return array


def _shape_matches(shape, expected) -> bool:
  return len(shape) == len(expected) and all(e is None or s == e for s, e in zip(shape, expected))


def _format_shape(shape) -> str:
  return '(' + ', '.join(
      '?' if d is None else str(d) for d in shape) + (',)' if len(shape) == 1 else ')')


# Per-env fields of a StepRequest other than `observation`: (name, dtype).
_PER_ENV_FIELDS = BatchStep.per_env_fields()


def _require_finite(field: str, values: np.ndarray) -> None:
  """Raises InvalidMessageError naming the first env whose values are NaN/inf."""
  finite = np.isfinite(values).reshape(values.shape[0], -1).all(axis=1)
  if not finite.all():
    index = int(np.argmin(finite))
    raise InvalidMessageError(f'{field}: non-finite value (NaN or inf) at env index {index}')


@dataclasses.dataclass(kw_only=True)
class StepMessage(BatchStep):
  """One step of an actor's E environments (a decoded StepRequest): the
  `BatchStep` fields plus where it comes from.

  actor_id: the sending actor's id.  run_id: its run (a new one per process).
  env_ids: [E] int32, global ids actor_id * E + i.
  """
  actor_id: int
  run_id: str
  env_ids: np.ndarray

  @classmethod
  def of(cls, actor_id: int, run_id: str, env_ids: np.ndarray, step: BatchStep) -> 'StepMessage':
    return cls(actor_id=actor_id, run_id=run_id, env_ids=env_ids, **step.fields())

  @property
  def num_envs(self) -> int:
    return int(self.env_ids.shape[0])

  def to_proto(self) -> pb.StepRequest:
    msg = pb.StepRequest(actor_id=self.actor_id, run_id=self.run_id)
    encode_tensor(np.asarray(self.env_ids, np.int32), msg.env_ids)
    encode_tensor(self.observation, msg.observation)
    for name, dtype in _PER_ENV_FIELDS:
      encode_tensor(np.asarray(getattr(self, name), dtype), msg.per_env[name])
    return msg

  @classmethod
  def from_proto(cls, msg: pb.StepRequest, layout: 'StepLayout') -> 'StepMessage':
    """Decodes `msg` and checks it against `layout`, this run's step layout
    (the learner's, sent in the handshake): dtypes, shapes, env ids and
    finiteness. Raises InvalidMessageError naming the first field that is
    wrong.
    """
    num_envs = layout.env_batch_size
    env_ids = decode_tensor(msg.env_ids, 'env_ids', np.int32, (num_envs,))
    observation = decode_tensor(msg.observation, 'observation', layout.observation_dtype,
                                (num_envs,) + layout.observation_shape)
    first = msg.actor_id * num_envs
    if not np.array_equal(env_ids, np.arange(first, first + num_envs)):
      raise InvalidMessageError(
          f'env_ids: expected {first}..{first + num_envs - 1} for actor {msg.actor_id}')
    names = [name for name, _ in _PER_ENV_FIELDS]
    unknown = sorted(set(msg.per_env) - set(names))
    if unknown:
      raise InvalidMessageError(f'per_env: unknown fields {unknown} (expected {names}): '
                                'is the actor from another version of seed_stac?')
    missing = [name for name in names if name not in msg.per_env]
    if missing:
      raise InvalidMessageError(f'{missing[0]}: missing from per_env (expected {names})')
    vectors = {
        name: decode_tensor(msg.per_env[name], name, dtype, (num_envs,))
        for name, dtype in _PER_ENV_FIELDS
    }
    # One NaN reward would make every batch holding that unroll non-finite
    # and skipped: refuse it at the boundary, naming the environment.
    _require_finite('reward', vectors['reward'])
    # NaN is the protocol's "no episode ended"; an infinite return is a bug
    # that would turn the logged mean return infinite.
    if np.isinf(vectors['episode_return']).any():
      index = int(np.argmax(np.isinf(vectors['episode_return'])))
      raise InvalidMessageError(f'episode_return: infinite value at env index {index}')
    if np.issubdtype(observation.dtype, np.floating):
      _require_finite('observation', observation)
    return cls(actor_id=msg.actor_id,
               run_id=msg.run_id,
               env_ids=env_ids,
               observation=observation,
               **vectors)


@dataclasses.dataclass(frozen=True)
class StepLayout:
  """What every StepRequest of one learner must hold: observation
  [env_batch_size, *observation_shape] of observation_dtype, and env_ids
  actor_id * env_batch_size + arange(env_batch_size)."""
  observation_shape: Tuple[int, ...]
  observation_dtype: np.dtype
  env_batch_size: int

  def __post_init__(self):
    if self.env_batch_size < 1:
      raise ValueError(f'StepLayout.env_batch_size must be >= 1, got {self.env_batch_size}')

  @classmethod
  def of(cls, spec: EnvSpec, env_batch_size: int) -> 'StepLayout':
    return cls(tuple(spec.observation_shape), np.dtype(spec.observation_dtype), env_batch_size)


@dataclasses.dataclass(frozen=True)
class HandshakeReply:
  """The learner's answer to a handshake: what an actor needs to serve it.

  env_config: {'kind': str, 'name': str, 'seed': int, 'options': dict}.
  env_batch_size: E, environments per actor.
  actor_id: the id the actor uses for this run (the requested one, or the
    learner's choice when the actor asked for one).
  """
  env_spec: EnvSpec
  env_config: dict
  env_batch_size: int
  actor_id: int

  def to_proto(self) -> pb.HandshakeReply:
    return pb.HandshakeReply(env_spec_json=json.dumps(self.env_spec.to_dict()),
                             env_config_json=json.dumps(self.env_config, sort_keys=True),
                             env_batch_size=self.env_batch_size,
                             actor_id=self.actor_id)

  @classmethod
  def from_proto(cls, msg: pb.HandshakeReply) -> 'HandshakeReply':
    """Decodes and checks; raises InvalidMessageError naming the field."""
    try:
      env_config = json.loads(msg.env_config_json)
      env_spec = EnvSpec.from_dict(json.loads(msg.env_spec_json))
    except (ValueError, TypeError, KeyError) as e:
      raise InvalidMessageError(f'handshake reply: undecodable JSON: {e}') from e
    if not isinstance(env_config, dict):
      raise InvalidMessageError('env_config_json: not a JSON object')
    missing = {'kind', 'name', 'seed'} - set(env_config)
    if missing:
      raise InvalidMessageError(f'env_config_json: missing {sorted(missing)}')
    env_config.setdefault('options', {})
    if msg.env_batch_size < 1:
      raise InvalidMessageError(f'env_batch_size: must be >= 1, got {msg.env_batch_size}')
    return cls(env_spec, env_config, msg.env_batch_size, msg.actor_id)


def encode_reply(actions: np.ndarray, training_done: bool) -> pb.StepReply:
  """actions: [E] int32 or [E, ...] float32."""
  msg = pb.StepReply(training_done=bool(training_done))
  encode_tensor(actions, msg.action)
  return msg


def decode_reply(msg: pb.StepReply, action_dtype, action_shape):
  """Returns (actions [E, *action_shape] of action_dtype, training_done).

  action_shape: the full expected shape including E.
  """
  actions = decode_tensor(msg.action, 'action', action_dtype, action_shape)
  return actions, msg.training_done
