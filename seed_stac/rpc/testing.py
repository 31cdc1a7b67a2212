"""A stand-in learner for transport tests and benchmarks (no model).

`FakeLearner` implements the handler protocol of `seed_stac.rpc.server` with
random or zero actions; `ServerThread` serves a handler from an asyncio loop
in a background thread, so synchronous code (tests, actors in threads) can
talk to it over real loopback gRPC.
"""

import asyncio
import collections
import threading
from typing import Optional

import numpy as np

from seed_stac import envs as envs_lib
from seed_stac.rpc import codec, server


class FakeLearner:
  """A `server.StepHandler` answering every StepMessage with random (or zero)
  actions.

  Args:
    env_config: {'kind', 'name', 'seed', 'options'} sent at handshake.
    env_batch_size: E sent at handshake.
    done_after_steps: reply training_done to an actor once it has sent this
      many steps (its reset request included); None: never.
    zero_actions: answer zeros instead of random actions (benchmarks).
    seed: for the random actions.
  Attributes (read them from other threads only after the traffic is over,
  or accept slightly stale values):
    handshakes: [(actor_id, run_id)].
    steps: {(actor_id, run_id): number of StepMessages received}.
    batches: the last StepMessage per (actor_id, run_id).
    closed: [(actor_id, run_id)] of ended streams.
  """

  def __init__(self,
               env_config=None,
               env_batch_size: int = 4,
               done_after_steps: Optional[int] = None,
               zero_actions: bool = False,
               seed: int = 0):
    self.env_config = dict(env_config or {
        'kind': 'catch',
        'name': 'catch',
        'seed': 0,
        'options': {}
    })
    self.env_batch_size = env_batch_size
    self.spec = envs_lib.create_environment(self.env_config['kind'], self.env_config['name'], 0,
                                            **self.env_config.get('options', {})).spec
    self.done_after_steps = done_after_steps
    self.zero_actions = zero_actions
    self._rng = np.random.default_rng(seed)
    self.step_layout = codec.StepLayout.of(self.spec, env_batch_size)
    self.handshakes = []
    self.steps = collections.Counter()
    self.batches = {}
    self.closed = []
    self.step_event = threading.Event()  # Set on every step.

  def handshake(self, actor_id: Optional[int], run_id: str) -> codec.HandshakeReply:
    self.handshakes.append((actor_id, run_id))
    return codec.HandshakeReply(self.spec,
                                self.env_config,
                                self.env_batch_size,
                                actor_id=actor_id or 0)

  async def step(self, batch):
    key = (batch.actor_id, batch.run_id)
    self.steps[key] += 1
    self.batches[key] = batch
    self.step_event.set()
    done = (self.done_after_steps is not None and self.steps[key] >= self.done_after_steps)
    return self._actions(batch.num_envs), done

  def _actions(self, num_envs: int) -> np.ndarray:
    action = self.spec.action
    shape = (num_envs,) + tuple(action.shape)
    if self.zero_actions:
      return np.zeros(shape, action.dtype)
    if action.kind == 'discrete':
      return self._rng.integers(0, action.num_actions, shape, np.int32)
    return self._rng.uniform(action.minimum, action.maximum, shape).astype(np.float32)

  def stream_closed(self, actor_id: int, run_id: str) -> None:
    self.closed.append((actor_id, run_id))


_shared_loop = None
_shared_loop_lock = threading.Lock()


def _background_loop() -> asyncio.AbstractEventLoop:
  """One event loop thread per process for every ServerThread.

  grpc.aio binds its completion-queue poller to the first loop that uses it;
  servers on several (or closed) loops in one process break it.
  """
  global _shared_loop
  with _shared_loop_lock:
    if _shared_loop is None:
      _shared_loop = asyncio.new_event_loop()
      threading.Thread(target=_shared_loop.run_forever, daemon=True, name='grpc-aio-loop').start()
    return _shared_loop


class ServerThread:
  """Runs `server.start_server(handler, ...)` on a background event loop."""

  def __init__(self,
               handler,
               address: str = '127.0.0.1:0',
               token: Optional[str] = None,
               **server_kwargs):
    """server_kwargs: start_server's keyword options (tls, max_message_bytes)."""
    self._loop = _background_loop()
    self.server, self.port = self.run(server.start_server(handler, address, token, **server_kwargs))

  @property
  def address(self) -> str:
    return f'127.0.0.1:{self.port}'

  def run(self, coro, timeout_s: float = 30.0):
    """Runs a coroutine on the server's loop; returns its result."""
    return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)

  def stop(self, grace_s: Optional[float] = None) -> None:
    """Stops the server; None: cancels all calls at once."""
    self.run(self.server.stop(grace_s))
