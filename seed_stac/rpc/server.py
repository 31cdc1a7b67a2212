"""Learner-side gRPC server: decodes actor traffic and hands it to a handler.

The handler is the learner's object, a `StepHandler` (the learner's
`learner/actor_hub.py:ActorHub`, the tests' `rpc/testing.py:FakeLearner`);
this module only does transport.

`handshake` runs on the event loop and should be quick. Requests of one stream
are handled strictly in order; different streams run concurrently. If decoding
fails or the handler raises `InvalidMessageError`, only that stream is aborted
with INVALID_ARGUMENT and the error message. With a token configured, calls
without it fail with UNAUTHENTICATED: Handshake carries it in the request,
Stream in the `TOKEN_METADATA_KEY` metadata. With `tls` the port is served
with TLS only (grpc SSL credentials); actors then need the CA certificate.
Requests larger than `max_message_bytes` (see `step_message_bytes`) fail with
RESOURCE_EXHAUSTED before they are read into memory.
"""

import dataclasses
import hmac
import ipaddress
from typing import Optional, Protocol, Tuple

from absl import logging
from google.protobuf.message import DecodeError
import grpc
import numpy as np

from seed_stac.envs.batch import BatchStep
from seed_stac.rpc import codec
from seed_stac.rpc import seed_stac_pb2 as pb
from seed_stac.rpc import seed_stac_pb2_grpc as pb_grpc

TOKEN_METADATA_KEY = 'x-seed-stac-token'

# gRPC's default limit; enough for any reply (actions, the handshake's JSON).
DEFAULT_MESSAGE_BYTES = 4 * 1024 * 1024
# Per StepRequest beyond its arrays: ids, dtype names, shapes, tags.
_MESSAGE_SLACK_BYTES = 64 * 1024
_SERVICE_NAME = pb.DESCRIPTOR.services_by_name['LearnerService'].full_name
KEEPALIVE_MS = 20_000


@dataclasses.dataclass(frozen=True)
class TlsFiles:
  """PEM bytes for a TLS server: its certificate chain and private key."""
  certificate_chain: bytes
  private_key: bytes

  @classmethod
  def read(cls, cert_path: str, key_path: str) -> 'TlsFiles':
    with open(cert_path, 'rb') as cert, open(key_path, 'rb') as key:
      return cls(cert.read(), key.read())


def step_message_bytes(observation_shape, observation_dtype, env_batch_size: int) -> int:
  """The largest StepRequest a well-formed actor sends: one observation, its
  env id and the step's other per-env fields for each of its envs, plus
  slack for the message's own fields."""
  observation = int(np.prod(observation_shape,
                            dtype=np.int64)) * np.dtype(observation_dtype).itemsize
  per_env = np.dtype(np.int32).itemsize + sum(
      dtype.itemsize for _, dtype in BatchStep.per_env_fields())
  return env_batch_size * (observation + per_env) + _MESSAGE_SLACK_BYTES


def is_loopback(address: str) -> bool:
  """True for 'localhost:P', '127.x.y.z:P', '[::1]:P' (reachable from this host only)."""
  host = address.rpartition(':')[0].strip('[]')
  if host == 'localhost':
    return True
  try:
    return ipaddress.ip_address(host).is_loopback
  except ValueError:
    return False


def check_exposure(address: str, token: Optional[str], tls: bool, insecure: bool) -> None:
  """Refuses to serve a non-loopback address to anyone who can reach it.

  Off loopback, actors must present the shared token unless `insecure`
  (say, a private Docker network) says otherwise. Raises ValueError naming
  the fix. A token without TLS travels in plaintext: a warning says so.
  """
  if is_loopback(address):
    return
  if not token and not insecure:
    raise ValueError(
        f'binding {address} (not loopback) without a token would let anyone who can '
        'reach it feed the learner: set SEED_STAC_TOKEN (or --token) for the learner and '
        'its actors, or pass --insecure on a private network')
  if token and not tls:
    logging.warning(
        'Serving %s with a token but without TLS: the token and the traffic '
        'are readable on the network (see --tls_cert/--tls_key)', address)


def server_options(max_message_bytes: int = DEFAULT_MESSAGE_BYTES):
  """gRPC server options: message size limits and keepalive.

  Both ends ping every KEEPALIVE_MS, so a peer whose host vanished without
  closing TCP is noticed within ~1.5 KEEPALIVE_MS. The server must accept
  pings on streams that carry no data for a while (a learner compiling or
  checkpointing), or after two "strikes" it drops healthy actors with GOAWAY.
  """
  return (
      ('grpc.max_receive_message_length', max_message_bytes),
      ('grpc.max_send_message_length', DEFAULT_MESSAGE_BYTES),
      ('grpc.keepalive_time_ms', KEEPALIVE_MS),
      ('grpc.keepalive_timeout_ms', KEEPALIVE_MS // 2),
      ('grpc.http2.max_pings_without_data', 0),
      ('grpc.http2.min_recv_ping_interval_without_data_ms', KEEPALIVE_MS // 2),
      ('grpc.http2.max_ping_strikes', 0),
  )


def client_options():
  """gRPC channel options for actors, matching server_options(): gRPC's
  default size limits (sending is unlimited, replies are small)."""
  return (
      ('grpc.keepalive_time_ms', KEEPALIVE_MS),
      ('grpc.keepalive_timeout_ms', KEEPALIVE_MS // 2),
      ('grpc.http2.max_pings_without_data', 0),
  )


class StepHandler(Protocol):
  """What the server hands decoded actor traffic to."""

  step_layout: codec.StepLayout
  """What every StepRequest must hold; requests are decoded against it, so
  the handler receives only messages that fit it."""

  def handshake(self, actor_id: Optional[int], run_id: str) -> codec.HandshakeReply:
    """Takes an actor id for `run_id` (None: assign one); the reply's
    actor_id is the id the actor is to use. Raises codec.ActorIdInUseError or
    codec.InvalidMessageError."""
    ...

  async def step(self, batch: codec.StepMessage) -> Tuple[np.ndarray, bool]:
    """(actions [E] int32 or [E, ...] float32, training_done) for one step
    of an actor's E environments. Raises codec.InvalidMessageError."""
    ...

  def stream_closed(self, actor_id: int, run_id: str) -> None:
    """Called once when an actor's stream ends for any reason, so the
    learner can drop that run's per-env state."""
    ...


class _Servicer(pb_grpc.LearnerServiceServicer):
  """Adapts LearnerService calls to the handler protocol above."""

  def __init__(self, handler: StepHandler, token: Optional[str]):
    self._handler = handler
    self._token = token

  def _authorized(self, presented: str) -> bool:
    # compare_digest: no timing side channel on the secret.
    return self._token is None or hmac.compare_digest(presented.encode(), self._token.encode())

  async def Handshake(self, raw_request, context):
    try:
      request = _parse(pb.HandshakeRequest, raw_request)
    except codec.InvalidMessageError as e:
      await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
    if not self._authorized(request.token):
      await context.abort(grpc.StatusCode.UNAUTHENTICATED, 'bad token')
    try:
      if request.actor_id < 0:
        raise codec.InvalidMessageError(f'actor_id: must be >= 0, got {request.actor_id}')
      requested = None if request.auto_actor_id else request.actor_id
      reply = self._handler.handshake(requested, request.run_id)
    except codec.InvalidMessageError as e:
      await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
    except codec.ActorIdInUseError as e:
      await context.abort(grpc.StatusCode.ALREADY_EXISTS, str(e))
    return reply.to_proto()

  async def Stream(self, request_iterator, context):
    metadata = dict(context.invocation_metadata() or ())
    if not self._authorized(metadata.get(TOKEN_METADATA_KEY, '')):
      await context.abort(grpc.StatusCode.UNAUTHENTICATED, 'bad token')
    identity = None  # (actor_id, run_id) fixed by the first request.
    try:
      # read()/write() rather than async generators: fewer task switches.
      while True:
        raw_request = await context.read()
        if raw_request is grpc.aio.EOF:
          return
        try:
          request = _parse(pb.StepRequest, raw_request)
          if identity is None:
            identity = (request.actor_id, request.run_id)
          reply = await self._step(request, identity)
        except codec.InvalidMessageError as e:
          logging.warning('Rejecting a stream (actor, run %s): %s', identity, e)
          await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        await context.write(reply)
    finally:
      if identity is not None:
        self._handler.stream_closed(*identity)

  async def _step(self, request, identity) -> pb.StepReply:
    """Decodes, runs the handler, encodes. Raises InvalidMessageError."""
    if (request.actor_id, request.run_id) != identity:
      raise codec.InvalidMessageError(
          f'actor_id/run_id: changed within a stream from {identity} to '
          f'{(request.actor_id, request.run_id)}')
    batch = codec.StepMessage.from_proto(request, self._handler.step_layout)
    actions, training_done = await self._handler.step(batch)
    return codec.encode_reply(actions, training_done)


def _parse(message_type, raw: bytes):
  """Parses a request ourselves so that bytes that are not the message give
  INVALID_ARGUMENT naming it, not gRPC's UNKNOWN 'Unexpected DecodeError'."""
  try:
    return message_type.FromString(raw)
  except DecodeError as e:
    raise codec.InvalidMessageError(
        f'request: not a valid {message_type.DESCRIPTOR.name} ({len(raw)} bytes): {e}') from e


def _add_servicer(servicer: _Servicer, server: grpc.aio.Server) -> None:
  """Registers the LearnerService methods with raw-bytes requests (parsed by
  `_parse`) and the generated reply serializers."""
  handlers = {
      'Handshake':
          grpc.unary_unary_rpc_method_handler(
              servicer.Handshake,
              request_deserializer=None,
              response_serializer=pb.HandshakeReply.SerializeToString),
      'Stream':
          grpc.stream_stream_rpc_method_handler(servicer.Stream,
                                                request_deserializer=None,
                                                response_serializer=pb.StepReply.SerializeToString),
  }
  server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(_SERVICE_NAME, handlers),))


async def start_server(handler: StepHandler,
                       address: str = '127.0.0.1:0',
                       token: Optional[str] = None,
                       *,
                       max_message_bytes: int = DEFAULT_MESSAGE_BYTES,
                       tls: Optional[TlsFiles] = None) -> Tuple[grpc.aio.Server, int]:
  """Starts serving `handler` on `address`; returns (server, bound port).

  Must be awaited on the event loop that will run the handler. Stop with
  `await server.stop(grace_seconds)`.
  """
  server = grpc.aio.server(options=server_options(max_message_bytes))
  _add_servicer(_Servicer(handler, token), server)
  if tls is None:
    port = server.add_insecure_port(address)
  else:
    credentials = grpc.ssl_server_credentials([(tls.private_key, tls.certificate_chain)])
    port = server.add_secure_port(address, credentials)
  if port == 0:
    raise OSError(f'could not bind {address}')
  await server.start()
  return server, port
