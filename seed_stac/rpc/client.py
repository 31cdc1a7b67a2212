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
  """
  env_spec: base.EnvSpec
  env_config: dict
  env_batch_size: int
  config_fingerprint: str


def open_channel(address: str) -> grpc.Channel:
  """A fresh channel per connection attempt: no stale connection state."""
  return grpc.insecure_channel(address, options=server.client_options())


def handshake(channel: grpc.Channel, actor_id: int, run_id: str,
              token: Optional[str], timeout_s: float) -> LearnerConfig:
  """Calls Handshake; raises grpc.RpcError, or ValueError on a bad reply."""
  stub = pb_grpc.LearnerServiceStub(channel)
  reply = stub.Handshake(
      pb.HandshakeRequest(actor_id=actor_id, run_id=run_id, token=token or ''),
      timeout=timeout_s)
  env_config = json.loads(reply.env_config_json)
  missing = {'kind', 'name', 'seed'} - set(env_config)
  if missing:
    raise ValueError(f'env_config_json: missing {sorted(missing)}')
  env_config.setdefault('options', {})
  if reply.env_batch_size < 1:
    raise ValueError(f'env_batch_size: must be >= 1, got '
                     f'{reply.env_batch_size}')
  return LearnerConfig(
      env_spec=base.EnvSpec.from_dict(json.loads(reply.env_spec_json)),
      env_config=env_config,
      env_batch_size=reply.env_batch_size,
      config_fingerprint=reply.config_fingerprint)


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
