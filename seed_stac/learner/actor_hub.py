"""The learner's side of the actor protocol (seed_stac.rpc.server handler).

For each StepMessage (the server has already decoded it against
`step_layout`, the handshake's spec): update that actor's state (frame stack
etc.), get actions from the inference batcher, record the step into the
actor's unroll and hand finished unrolls to the trainer's unroll source. A step from a run
that has not handshaken raises InvalidMessageError, which the server turns
into INVALID_ARGUMENT for that stream only.
"""

import asyncio
import collections
import dataclasses
import itertools
import threading
import time
from typing import Dict, List, Optional, Tuple

from absl import logging
import numpy as np

from seed_stac.envs.base import EnvSpec
from seed_stac.learner.batcher import InferenceBatcher
from seed_stac.learner.env_state import ActorState
from seed_stac.learner.unroll_sources import UnrollSource
from seed_stac.rpc.codec import (ActorIdInUseError, HandshakeReply, InvalidMessageError, StepLayout,
                                 StepMessage)


class EpisodeStats:
  """Thread-safe counters of environment frames, finished episodes (return
  and length in agent steps), and env steps lost in unfinished unrolls of
  actors that left (`dropped_steps`)."""

  def __init__(self, frames: int = 0):
    self._lock = threading.Lock()
    self.frames = frames
    self.dropped_steps = 0
    self._returns = []
    self._lengths = []

  def add_dropped(self, steps: int):
    with self._lock:
      self.dropped_steps += steps

  def add(self, frames: int, episode_returns: np.ndarray, episode_lengths: np.ndarray):
    """episode_returns: [E] float32, NaN where no episode ended;
    episode_lengths: [E] int32, read where an episode ended."""
    ended = ~np.isnan(episode_returns)
    with self._lock:
      self.frames += frames
      self._returns.extend(episode_returns[ended].tolist())
      self._lengths.extend(episode_lengths[ended].tolist())

  def take_episodes(self) -> Tuple[List[float], List[int]]:
    """(returns, lengths) of the episodes finished since the last call."""
    with self._lock:
      taken = self._returns, self._lengths
      self._returns, self._lengths = [], []
    return taken


def _ids(ids) -> str:
  shown = ', '.join(str(i) for i in ids[:20])
  return shown + (f' and {len(ids) - 20} more' if len(ids) > 20 else '')


@dataclasses.dataclass
class _Slot:
  """One actor id's holder. `state` is None until its first step: a
  handshake alone costs a few hundred bytes, however large observations are."""
  run_id: str
  handshake_time: float
  state: Optional[ActorState] = None
  streaming: bool = False


class ActorHub:
  """The learner's `rpc/server.py:StepHandler`.

  An actor id belongs to one live actor: a handshake for an id whose stream
  is open, or that handshook less than `handshake_grace_s` ago and has not
  streamed yet, is refused (ActorIdInUseError -> ALREADY_EXISTS) and the
  holder keeps its environments. A slot whose stream has closed is free, and
  so is one whose handshake is older than `handshake_grace_s` without a
  stream (released at the next handshake). `handshake(None, run_id)` assigns
  the lowest free id. An actor's per-env state (frame stacks, the unroll being
  filled) exists from its first step until its stream closes.
  """

  def __init__(self,
               spec: EnvSpec,
               env_config: dict,
               env_batch_size: int,
               batcher: InferenceBatcher,
               initial_core_state,
               unroll_length: int,
               unroll_source: Optional[UnrollSource],
               stats: EpisodeStats,
               training_done: threading.Event,
               handshake_grace_s: float = 10.0):
    self.spec = spec
    self._handshake_reply = HandshakeReply(spec, env_config, env_batch_size, actor_id=0)
    self.step_layout = StepLayout.of(spec, env_batch_size)  # the server decodes against it
    self.env_batch_size = env_batch_size
    self.batcher = batcher
    self.initial_core_state = [np.asarray(s) for s in initial_core_state]
    self.unroll_length = unroll_length
    self.unroll_source = unroll_source
    self.stats = stats
    self.training_done = training_done
    self.handshake_grace_s = handshake_grace_s
    self._slots: Dict[int, _Slot] = {}
    self._seen_ids: set = set()  # every actor id that has handshaken
    # Ids handshaken but not yet streaming, oldest first: expired ones are
    # released from the front, so a flood of handshakes cannot grow forever.
    self._pending: 'collections.OrderedDict[int, None]' = collections.OrderedDict()
    # Global env ids are int32 actor_id * E + i.
    self.max_actor_id = (2**31 - 1) // env_batch_size - 1

  def handshake(self, actor_id: Optional[int], run_id: str) -> HandshakeReply:
    """Takes the slot `actor_id` (None: the lowest free id) for `run_id`;
    returns the handshake reply, including the id to use."""
    now = time.monotonic()
    self._release_expired(now)
    if actor_id is None:
      actor_id = next(i for i in itertools.count() if i not in self._slots)
    if actor_id > self.max_actor_id:
      raise InvalidMessageError(
          f'actor_id: {actor_id} is too large for {self.env_batch_size} envs per actor '
          f'(global env ids are int32); at most {self.max_actor_id}')
    holder = self._slots.get(actor_id)
    if holder is not None and holder.run_id != run_id and (
        holder.streaming or now - holder.handshake_time < self.handshake_grace_s):
      raise ActorIdInUseError(
          f'actor_id: {actor_id} is held by a live actor (run {holder.run_id!r}); '
          'give each actor its own id, or use --actor_id=auto')
    if holder is not None and holder.state is not None:
      self._count_dropped(actor_id, holder)
    self._slots[actor_id] = _Slot(run_id, now)
    self._seen_ids.add(actor_id)
    self._pending.pop(actor_id, None)
    self._pending[actor_id] = None
    return dataclasses.replace(self._handshake_reply, actor_id=actor_id)

  def _release_expired(self, now: float) -> None:
    while self._pending:
      actor_id = next(iter(self._pending))
      if now - self._slots[actor_id].handshake_time < self.handshake_grace_s:
        return
      del self._pending[actor_id]
      del self._slots[actor_id]

  def describe_actors(self) -> str:
    """Which actors have come and which are here now, for a message."""
    if not self._seen_ids:
      return 'no actor has ever connected (are they running, and do they reach this address?)'
    streaming = sorted(i for i, s in self._slots.items() if s.streaming)
    gone = sorted(self._seen_ids - set(streaming))
    return (f'actor ids seen: {_ids(sorted(self._seen_ids))}; connected now: '
            f'{_ids(streaming) or "none"}; missing: {_ids(gone) or "none"}')

  @property
  def num_slots(self) -> int:
    """Actor ids held: streaming, or handshaken within the grace period."""
    return len(self._slots)

  def stream_closed(self, actor_id: int, run_id: str) -> None:
    slot = self._slots.get(actor_id)
    if slot is not None and slot.run_id == run_id:
      if slot.state is not None:
        self._count_dropped(actor_id, slot)
      del self._slots[actor_id]
      self._pending.pop(actor_id, None)

  def _count_dropped(self, actor_id: int, slot: _Slot) -> None:
    """The unfinished unroll of a departing actor run is lost: count and log it."""
    steps = slot.state.partial_steps * self.env_batch_size
    if steps and not self.training_done.is_set():  # at the end every actor leaves so
      self.stats.add_dropped(steps)
      logging.info(
          'Actor %d (run %s) left with an unfinished unroll: %d env steps '
          'dropped (%d in all)', actor_id, slot.run_id, steps, self.stats.dropped_steps)

  async def step(self, batch: StepMessage):
    slot = self._slots.get(batch.actor_id)
    if slot is None or slot.run_id != batch.run_id:
      raise InvalidMessageError(
          f'run_id: {batch.run_id!r} of actor {batch.actor_id} has not handshaken')
    if slot.state is None:
      slot.streaming = True
      self._pending.pop(batch.actor_id, None)
      core = tuple(np.repeat(s, self.env_batch_size, axis=0) for s in self.initial_core_state)
      slot.state = ActorState(slot.run_id, self.spec, self.env_batch_size, core, self.unroll_length)
    state = slot.state
    if self.training_done.is_set():
      return np.zeros((batch.num_envs,) + self.spec.action.shape, self.spec.action.dtype), True
    inputs = state.observe(batch)
    outputs = await self.batcher.submit(inputs)
    unrolls = state.act(outputs.action, outputs.log_prob, outputs.core)
    self.stats.add(batch.num_envs * self.spec.frames_per_step, batch.episode_return,
                   batch.episode_length)
    if self.unroll_source is not None:  # None: inference only (benchmarks)
      for unroll in unrolls or ():
        await self._hand_over(unroll)
    return outputs.action, False

  async def _hand_over(self, unroll):
    """Back-pressure: a full source holds this actor until training catches up."""
    while not self.training_done.is_set():
      if self.unroll_source.try_put(unroll):
        return
      await asyncio.sleep(0.005)
