"""seed_stac.learner.actor_hub: actor id slots (fixed and assigned), what a
handshake costs, and the env steps an actor's departure loses."""

import asyncio
import gc
import threading
import time
import tracemalloc

import numpy as np
import pytest

from seed_stac.envs.base import ActionSpec, EnvSpec
from seed_stac.envs.batch import BatchStep
from seed_stac.learner.actor_hub import EpisodeStats, ActorHub
from seed_stac.learner.unroll_sources import FifoSource
from seed_stac.types import InferenceOutput
from seed_stac.rpc.codec import ActorIdInUseError, InvalidMessageError, StepMessage

ATARI = EnvSpec('atari', (84, 84),
                'uint8',
                ActionSpec('discrete', num_actions=18),
                frame_stack=4,
                frames_per_step=4)
CATCH = EnvSpec('catch', (50,), 'float32', ActionSpec('discrete', num_actions=3))


class _Batcher:

  async def submit(self, inputs):
    n = len(inputs.reward)
    return InferenceOutput(np.zeros(n, np.int32), np.zeros(n, np.float32), inputs.core)


def _service(spec=CATCH, num_envs=2, unroll_length=3, grace_s=10.0, core=()):
  return ActorHub(spec, {}, num_envs, _Batcher(), core, unroll_length, FifoSource(1, 1000),
                  EpisodeStats(), threading.Event(), grace_s)


def _batch(service, actor_id, run_id):
  n, spec = service.env_batch_size, service.spec
  return StepMessage.of(
      actor_id, run_id,
      np.arange(n, dtype=np.int32) + n * actor_id,
      BatchStep.first(np.zeros((n,) + spec.observation_shape, spec.observation_dtype)))


def test_assigned_ids_are_the_lowest_free_ones():
  service = _service()
  assert [service.handshake(None, f'r{i}').actor_id for i in range(3)] == [0, 1, 2]
  assert service.handshake(5, 'fixed').actor_id == 5
  assert service.handshake(None, 'r3').actor_id == 3
  for actor_id, run_id in ((1, 'r1'), (5, 'fixed')):
    asyncio.run(service.step(_batch(service, actor_id, run_id)))
  service.stream_closed(1, 'r1')  # a departed actor frees its id
  assert service.handshake(None, 'r4').actor_id == 1
  with pytest.raises(ActorIdInUseError, match='--actor_id=auto'):
    service.handshake(5, 'intruder')


def test_ids_beyond_int32_env_ids_are_refused():
  service = _service(num_envs=32)
  assert service.max_actor_id == (2**31 - 1) // 32 - 1
  service.handshake(service.max_actor_id, 'last')
  with pytest.raises(InvalidMessageError, match='actor_id: .* too large for 32 envs'):
    service.handshake(service.max_actor_id + 1, 'r')


def test_a_flood_of_handshakes_costs_little_and_is_released():
  """Atari, 32 envs and an LSTM state per actor: a handshake allocates no
  per-env state, and slots that never stream are freed after the grace time."""
  core = (np.zeros((1, 256), np.float32), np.zeros((1, 256), np.float32))
  service = _service(ATARI, num_envs=32, unroll_length=20, grace_s=0.5, core=core)
  gc.collect()
  tracemalloc.start()
  try:
    before = tracemalloc.get_traced_memory()[0]
    for i in range(3000):
      service.handshake(i, f'flood-{i}')
    held = tracemalloc.get_traced_memory()[0] - before
  finally:
    tracemalloc.stop()
  # Stated bound: under 1 KB per pending handshake (one actor's frame stacks
  # alone would be 32 x 4 x 84 x 84 = 0.9 MB, its LSTM state 64 KB).
  assert held < 3000 * 1024, held
  assert service.num_slots == 3000
  time.sleep(0.6)
  service.handshake(None, 'after')  # any handshake releases the expired ones
  assert service.num_slots == 1


def test_per_env_state_starts_at_the_first_step():
  service = _service(ATARI, num_envs=32)
  service.handshake(0, 'a')
  assert service._slots[0].state is None  # pylint: disable=protected-access
  asyncio.run(service.step(_batch(service, 0, 'a')))
  assert service._slots[0].state is not None  # pylint: disable=protected-access


def test_a_departing_actor_loses_only_its_unfinished_unroll(caplog):
  service = _service(num_envs=2, unroll_length=3)
  for actor_id, run_id in ((0, 'stays'), (1, 'leaves')):
    service.handshake(actor_id, run_id)
  for _ in range(4):  # T + 1 steps: one unroll of each actor is queued
    for actor_id, run_id in ((0, 'stays'), (1, 'leaves')):
      asyncio.run(service.step(_batch(service, actor_id, run_id)))
  for _ in range(2):
    asyncio.run(service.step(_batch(service, 1, 'leaves')))
  assert service.unroll_source.stats()['unroll_queue_depth'] == 4  # 2 actors x 2 envs
  with caplog.at_level('INFO'):
    service.stream_closed(1, 'leaves')
  # Its partial unroll: the carried step plus 2 new steps, 2 envs each.
  assert service.stats.dropped_steps == 6
  assert 'Actor 1 (run leaves) left with an unfinished unroll: 6 env steps dropped' in caplog.text
  assert service.unroll_source.stats()['unroll_queue_depth'] == 4  # what was finished stays queued
  asyncio.run(service.step(_batch(service, 0, 'stays')))


def test_episode_stats_keep_return_and_length_of_finished_episodes_only():
  stats = EpisodeStats()
  stats.add(4, np.array([np.nan, 2.5, np.nan, -1.0], np.float32), np.array([0, 7, 0, 3], np.int32))
  stats.add(4, np.full(4, np.nan, np.float32), np.zeros(4, np.int32))
  assert stats.frames == 8
  assert stats.take_episodes() == ([2.5, -1.0], [7, 3])
  assert stats.take_episodes() == ([], [])
