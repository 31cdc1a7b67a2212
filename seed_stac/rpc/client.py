"""Actor-side gRPC transport: handshake, then a lock-step step stream.

Synchronous API (the actor is a plain loop around a CPU-bound env batch). The
stream is a sync bidirectional call fed from a queue: `exchange()` enqueues a
request and blocks on the reply; gRPC's own thread sends it. Nothing here
retries; the caller decides which `grpc.RpcError`s are transient.
"""

import dataclasses
import queue
from typing import Optional

import grpc

from seed_stac.rpc import codec
from seed_stac.rpc import seed_stac_pb2 as pb
from seed_stac.rpc import seed_stac_pb2_grpc as pb_grpc
from seed_stac.rpc import server

_END = object()  # Queue sentinel: half-closes the request stream.


@dataclasses.dataclass(frozen=True)
class TlsTrust:
  """How an actor checks a TLS learner: the CA certificate (PEM bytes) that
  signed the learner's certificate, and optionally the name to expect in it
  when it differs from the address's host."""
  ca_certificate: bytes
  server_name: Optional[str] = None

  @classmethod
  def read(cls, ca_path: str, server_name: Optional[str] = None) -> 'TlsTrust':
    with open(ca_path, 'rb') as f:
      return cls(f.read(), server_name or None)


def open_channel(address: str, tls: Optional[TlsTrust] = None) -> grpc.Channel:
  """A fresh channel per connection attempt: no stale connection state."""
  if tls is None:
    return grpc.insecure_channel(address, options=server.client_options())
  options = server.client_options()
  if tls.server_name:
    options += (('grpc.ssl_target_name_override', tls.server_name),)
  credentials = grpc.ssl_channel_credentials(root_certificates=tls.ca_certificate)
  return grpc.secure_channel(address, credentials, options=options)


def handshake(channel: grpc.Channel, actor_id: Optional[int], run_id: str, token: Optional[str],
              timeout_s: float) -> codec.HandshakeReply:
  """Calls Handshake (actor_id None: the learner assigns one); raises
  grpc.RpcError, or codec.InvalidMessageError (a ValueError) on a bad reply."""
  stub = pb_grpc.LearnerServiceStub(channel)
  reply = stub.Handshake(pb.HandshakeRequest(actor_id=actor_id or 0,
                                             run_id=run_id,
                                             token=token or '',
                                             auto_actor_id=actor_id is None),
                         timeout=timeout_s)
  decoded = codec.HandshakeReply.from_proto(reply)
  if actor_id is not None and decoded.actor_id != actor_id:
    raise codec.InvalidMessageError(
        f'actor_id: asked for {actor_id}, the learner answered {decoded.actor_id}')
  return decoded


class StepStream:
  """One Stream call; `exchange(request) -> reply`, strictly alternating."""

  def __init__(self, channel: grpc.Channel, token: Optional[str]):
    self._requests = queue.SimpleQueue()
    metadata = ((server.TOKEN_METADATA_KEY, token),) if token else None
    stub = pb_grpc.LearnerServiceStub(channel)
    self._call = stub.Stream(self._iterate(), metadata=metadata)

  def _iterate(self):
    while True:
      request = self._requests.get()
      if request is _END:
        return
      yield request

  def exchange(self, request: pb.StepRequest) -> pb.StepReply:
    """Sends `request`, returns the learner's reply.

    Raises grpc.RpcError when the call fails, and EOFError if the learner
    ends the stream without an error (treated like a lost connection).
    """
    self._requests.put(request)
    try:
      return next(self._call)
    except StopIteration:
      raise EOFError('learner closed the stream') from None

  def cancel(self) -> None:
    """Ends the call; safe from any thread, any number of times."""
    self._requests.put(_END)
    self._call.cancel()
