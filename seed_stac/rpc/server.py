"""Learner-side gRPC server: decodes actor traffic and hands it to a handler.

The handler is the learner's object; this module only does transport. It must
provide

  handler.handshake(actor_id: int, run_id: str) -> dict with keys
      env_spec_json: str, env_config_json: str, env_batch_size: int,
      config_fingerprint: str
  async handler.step(batch: codec.StepBatch)
      -> (actions: np.ndarray [E] int32 or [E, ...] float32,
          training_done: bool)

and may provide

  handler.stream_closed(actor_id: int, run_id: str) -> None
      called once when an actor's stream ends for any reason (so the learner
      can drop that run's per-env state).

`handshake` runs on the event loop and should be quick. Requests of one stream
are handled strictly in order; different streams run concurrently. If decoding
fails or the handler raises `InvalidMessageError`, only that stream is aborted
with INVALID_ARGUMENT and the error message. With a token configured, calls
without it fail with UNAUTHENTICATED: Handshake carries it in the request,
Stream in the `TOKEN_METADATA_KEY` metadata.
"""

import hmac
from typing import Optional, Tuple

from absl import logging
from google.protobuf.message import DecodeError
import grpc

from seed_stac.rpc import codec
from seed_stac.rpc import seed_stac_pb2 as pb
from seed_stac.rpc import seed_stac_pb2_grpc as pb_grpc

TOKEN_METADATA_KEY = 'x-seed-stac-token'

# Observations of a whole env batch can exceed gRPC's 4 MiB default.
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
_SERVICE_NAME = pb.DESCRIPTOR.services_by_name['LearnerService'].full_name

_MESSAGE_OPTIONS = (
    ('grpc.max_send_message_length', MAX_MESSAGE_BYTES),
    ('grpc.max_receive_message_length', MAX_MESSAGE_BYTES),
)
KEEPALIVE_MS = 20_000


def server_options():
  """gRPC server options: message size limits and keepalive.

  Both ends ping every KEEPALIVE_MS, so a peer whose host vanished without
  closing TCP is noticed within ~1.5 KEEPALIVE_MS. The server must accept
  pings on streams that carry no data for a while (a learner compiling or
  checkpointing), or after two "strikes" it drops healthy actors with GOAWAY.
  """
  return _MESSAGE_OPTIONS + (
      ('grpc.keepalive_time_ms', KEEPALIVE_MS),
      ('grpc.keepalive_timeout_ms', KEEPALIVE_MS // 2),
      ('grpc.http2.max_pings_without_data', 0),
      ('grpc.http2.min_recv_ping_interval_without_data_ms',
       KEEPALIVE_MS // 2),
      ('grpc.http2.max_ping_strikes', 0),
  )


def client_options():
  """gRPC channel options for actors, matching server_options()."""
  return _MESSAGE_OPTIONS + (
      ('grpc.keepalive_time_ms', KEEPALIVE_MS),
      ('grpc.keepalive_timeout_ms', KEEPALIVE_MS // 2),
      ('grpc.http2.max_pings_without_data', 0),
  )


class _Servicer(pb_grpc.LearnerServiceServicer):
  """Adapts LearnerService calls to the handler protocol above."""

  def __init__(self, handler, token: Optional[str]):
    self._handler = handler
    self._token = token

  def _authorized(self, presented: str) -> bool:
    # compare_digest: no timing side channel on the secret.
    return self._token is None or hmac.compare_digest(
        presented.encode(), self._token.encode())

  async def Handshake(self, raw_request, context):
    try:
      request = _parse(pb.HandshakeRequest, raw_request)
    except codec.InvalidMessageError as e:
      await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
    if not self._authorized(request.token):
      await context.abort(grpc.StatusCode.UNAUTHENTICATED, 'bad token')
    try:
      if request.actor_id < 0:
        raise codec.InvalidMessageError(
            f'actor_id: must be >= 0, got {request.actor_id}')
      reply = self._handler.handshake(request.actor_id, request.run_id)
    except codec.InvalidMessageError as e:
      await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
    except codec.ActorIdInUseError as e:
      await context.abort(grpc.StatusCode.ALREADY_EXISTS, str(e))
    return pb.HandshakeReply(**reply)

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
      if identity is not None and hasattr(self._handler, 'stream_closed'):
        self._handler.stream_closed(*identity)

  async def _step(self, request, identity) -> pb.StepReply:
    """Decodes, runs the handler, encodes. Raises InvalidMessageError."""
    if (request.actor_id, request.run_id) != identity:
      raise codec.InvalidMessageError(
          f'actor_id/run_id: changed within a stream from {identity} to '
          f'{(request.actor_id, request.run_id)}')
    batch = codec.StepBatch.from_proto(request)
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
      'Handshake': grpc.unary_unary_rpc_method_handler(
          servicer.Handshake, request_deserializer=None,
          response_serializer=pb.HandshakeReply.SerializeToString),
      'Stream': grpc.stream_stream_rpc_method_handler(
          servicer.Stream, request_deserializer=None,
          response_serializer=pb.StepReply.SerializeToString),
  }
  server.add_generic_rpc_handlers(
      (grpc.method_handlers_generic_handler(_SERVICE_NAME, handlers),))


async def start_server(handler, address: str = '127.0.0.1:0',
                       token: Optional[str] = None
                       ) -> Tuple[grpc.aio.Server, int]:
  """Starts serving `handler` on `address`; returns (server, bound port).

  Must be awaited on the event loop that will run the handler. Stop with
  `await server.stop(grace_seconds)`.
  """
  server = grpc.aio.server(options=server_options())
  _add_servicer(_Servicer(handler, token), server)
  port = server.add_insecure_port(address)
  if port == 0:
    raise OSError(f'could not bind {address}')
  await server.start()
  return server, port
