"""The learner's side of the actor protocol (seed_stac.rpc.server handler).

For each StepBatch: check it against the handshake's spec, update that
actor's state (frame stack etc.), get actions from the inference batcher,
record the step into the actor's unroll and queue finished unrolls for
training. Any malformed message raises InvalidMessageError, which the server
turns into INVALID_ARGUMENT for that stream only.
"""

import asyncio
import json
import queue
import threading
import time
from typing import Dict, Optional

import numpy as np

from seed_stac.envs.base import EnvSpec
from seed_stac.learner.batcher import InferenceBatcher
from seed_stac.learner.env_state import ActorState
from seed_stac.rpc.codec import ActorIdInUseError, InvalidMessageError, StepBatch


class EpisodeStats:
  """Thread-safe counters of environment frames and finished episodes."""

  def __init__(self, frames: int = 0):
    self._lock = threading.Lock()
    self.frames = frames
    self._returns = []

  def add(self, frames: int, episode_returns: np.ndarray):
    finished = episode_returns[~np.isnan(episode_returns)]
    with self._lock:
      self.frames += frames
      self._returns.extend(finished.tolist())

  def take_returns(self):
    with self._lock:
      returns, self._returns = self._returns, []
    return returns


class LearnerService:
  """Implements handshake/step/stream_closed for seed_stac.rpc.server.

  An actor id belongs to one live actor: a handshake for an id whose stream
  is open, or that handshook less than `handshake_grace_s` ago and has not
  streamed yet, is refused (ActorIdInUseError -> ALREADY_EXISTS) and the
  holder keeps its environments. A slot whose stream has closed is free.
  """

  def __init__(self, spec: EnvSpec, env_config: dict, env_batch_size: int,
               config_fingerprint: str, batcher: InferenceBatcher,
               initial_core_state, unroll_length: int,
               unroll_queue: Optional[queue.Queue], stats: EpisodeStats,
               training_done: threading.Event, handshake_grace_s: float = 10.0):
    self.spec = spec
    self._handshake_reply = dict(
        env_spec_json=json.dumps(spec.to_dict()), env_config_json=json.dumps(env_config),
        env_batch_size=env_batch_size, config_fingerprint=config_fingerprint)
    self.env_batch_size = env_batch_size
    self.batcher = batcher
    self.initial_core_state = [np.asarray(s) for s in initial_core_state]
    self.unroll_length = unroll_length
    self.unroll_queue = unroll_queue
    self.stats = stats
    self.training_done = training_done
    self._actors: Dict[int, ActorState] = {}
    self._streaming: Dict[int, bool] = {}
    self._handshake_times: Dict[int, float] = {}
    self.handshake_grace_s = handshake_grace_s

  def handshake(self, actor_id: int, run_id: str) -> dict:
    holder = self._actors.get(actor_id)
    if holder is not None and holder.run_id != run_id:
      age = time.monotonic() - self._handshake_times[actor_id]
      if self._streaming[actor_id] or age < self.handshake_grace_s:
        raise ActorIdInUseError(
            f'actor_id: {actor_id} is held by a live actor (run {holder.run_id!r}); '
            'give each actor its own id')
    self._streaming[actor_id] = False
    self._handshake_times[actor_id] = time.monotonic()
    core = tuple(np.repeat(s, self.env_batch_size, axis=0) for s in self.initial_core_state)
    self._actors[actor_id] = ActorState(run_id, self.spec, self.env_batch_size, core,
                                        self.unroll_length)
    return self._handshake_reply

  def stream_closed(self, actor_id: int, run_id: str) -> None:
    state = self._actors.get(actor_id)
    if state is not None and state.run_id == run_id:
      del self._actors[actor_id]
      del self._streaming[actor_id]
      del self._handshake_times[actor_id]

  async def step(self, batch: StepBatch):
    state = self._actors.get(batch.actor_id)
    if state is None or state.run_id != batch.run_id:
      raise InvalidMessageError(
          f'run_id: {batch.run_id!r} of actor {batch.actor_id} has not handshaken')
    batch.check(self.spec.observation_shape, self.spec.observation_dtype,
                self.env_batch_size)
    self._streaming[batch.actor_id] = True
    if self.training_done.is_set():
      return np.zeros((batch.num_envs,) + self.spec.action.shape,
                      self.spec.action.dtype), True
    inputs = state.observe(batch.observation, batch.reward, batch.terminated,
                           batch.truncated)
    inputs.update({f'core_{i}': s for i, s in enumerate(state.core_state)})
    outputs = await self.batcher.submit(inputs)
    core = tuple(outputs[f'core_{i}'] for i in range(len(state.core_state)))
    columns = state.act(outputs['action'], outputs['log_prob'], core)
    self.stats.add(batch.num_envs * self.spec.frames_per_step, batch.episode_return)
    if self.unroll_queue is not None:  # None: inference only (benchmarks)
      for column in columns or ():
        await self._enqueue(column)
    return outputs['action'], False

  async def _enqueue(self, column):
    """Back-pressure: a full queue holds this actor until training catches up."""
    while not self.training_done.is_set():
      try:
        self.unroll_queue.put_nowait(column)
        return
      except queue.Full:
        await asyncio.sleep(0.005)
