"""Actor-side gRPC transport: handshake, then a lock-step step stream.

Synchronous API (the actor is a plain loop around a CPU-bound env batch). The
stream is a sync bidirectional call fed from a queue: `exchange()` enqueues a
request and blocks on the reply; gRPC's own thread sends it. Nothing here
retries; the caller decides which `grpc.RpcError`s are transient.
"""

import dataclasses
import json
import queue
from typing import Optional

import grpc

from seed_stac.envs import base
from seed_stac.rpc import seed_stac_pb2 as pb
from seed_stac.rpc import seed_stac_pb2_grpc as pb_grpc
from seed_stac.rpc import server

_END = object()  # Queue sentinel: half-closes the request stream.


@dataclasses.dataclass(frozen=True)
class LearnerConfig:
  """A decoded HandshakeReply.

  env_config: {'kind': str, 'name': str, 'seed': int, 'options': dict}.
  actor_id: the id to use for this run (assigned by the learner when asked).
  """
  env_spec: base.EnvSpec
  env_config: dict
  env_batch_size: int
  config_fingerprint: str
  actor_id: int


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


def handshake(channel: grpc.Channel, actor_id: Optional[int], run_id: str,
              token: Optional[str], timeout_s: float) -> LearnerConfig:
  """Calls Handshake (actor_id None: the learner assigns one); raises
  grpc.RpcError, or ValueError on a bad reply."""
  stub = pb_grpc.LearnerServiceStub(channel)
  reply = stub.Handshake(
      pb.HandshakeRequest(actor_id=actor_id or 0, run_id=run_id, token=token or '',
                          auto_actor_id=actor_id is None),
      timeout=timeout_s)
  env_config = json.loads(reply.env_config_json)
  missing = {'kind', 'name', 'seed'} - set(env_config)
  if missing:
    raise ValueError(f'env_config_json: missing {sorted(missing)}')
  env_config.setdefault('options', {})
  if reply.env_batch_size < 1:
    raise ValueError(f'env_batch_size: must be >= 1, got '
                     f'{reply.env_batch_size}')
  if actor_id is not None and reply.actor_id != actor_id:
    raise ValueError(f'actor_id: asked for {actor_id}, the learner answered {reply.actor_id}')
  return LearnerConfig(
      env_spec=base.EnvSpec.from_dict(json.loads(reply.env_spec_json)),
      env_config=env_config,
      env_batch_size=reply.env_batch_size,
      config_fingerprint=reply.config_fingerprint,
      actor_id=reply.actor_id)


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
