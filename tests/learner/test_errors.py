"""Bad configs fail at start naming the key; bad actor messages are rejected
naming the field, and the learner's state for other actors is untouched."""

import asyncio
import threading

import numpy as np
import pytest

from configs import catch
from seed_stac.config import ConfigError
from seed_stac.envs.base import ActionSpec, EnvSpec
from seed_stac.envs.batch import BatchStep
from seed_stac.learner.run import run_learner
from seed_stac.learner.actor_hub import EpisodeStats, ActorHub
from seed_stac.learner.unroll_sources import FifoSource
from seed_stac.types import InferenceOutput
from seed_stac.rpc.codec import ActorIdInUseError, InvalidMessageError, StepMessage


@pytest.mark.parametrize('key,value,message', [
    ('learner.batch_size', 0, 'config.learner.batch_size'),
    ('agent', 'ppo', 'config.agent'),
    ('network.torso', 'vit',
     r"config.network.torso='vit' is not one of \('mlp', 'conv', 'nature', 'resnet'\)"),
    ('env.kind', 'procgen', "config.env.kind='procgen' is not one of .*'catch'"),
    ('optimizer.max_grad_norm', -1.0, r'config.optimizer.max_grad_norm must be >= 0 \(0: off\)'),
    ('algo.meta_batch_size', -2, r'config.algo.meta_batch_size must be >= 0 \(0: off\)'),
    ('algo.clip_rho', 0.0, 'config.algo.clip_rho must be > 0'),
    ('learner.stop_at_return', float('nan'),
     'config.learner.stop_at_return must be a finite number or None, got nan'),
    ('learner.unroll_queue_capacity', 4,
     r'config.learner.unroll_queue_capacity \(4\) must be >= config.learner.batch_size \(16\)'),
    ('learner.replay_fraction', 1.0, r'config.learner.replay_fraction must be in \[0, 1\)'),
    ('learner.replay_fraction', 0.01, 'replays 0 of a batch of 16 unrolls'),
    ('learner.replay_fraction', 0.5,
     r'config.learner.replay_capacity \(0 unrolls\) must hold at least the 8'),
    ('learner.passes', 0, 'config.learner.passes must be > 0'),
    ('algo.trust_region', 1.5, r'config.algo.trust_region must be in \[0, 1\)'),
    ('optimizer.decay_frames', -1, r'config.optimizer.decay_frames must be >= 0 \(0: off\)'),
    ('algo.coefficient_ceiling', 0.5, r'config.algo.coefficient_ceiling must be >= 1'),
])
def test_bad_config_fails_at_start_naming_the_key(tmp_path, key, value, message):
  config = catch.get_config()
  section, _, name = key.rpartition('.')
  (config[section] if section else config)[name] = value
  with pytest.raises(ConfigError, match=message):
    run_learner(config, str(tmp_path))


def test_unknown_environment_fails_at_start_listing_choices(tmp_path):
  config = catch.get_config()
  config.env.kind = 'procgen'
  with pytest.raises(ValueError, match='catch'):
    run_learner(config, str(tmp_path))


class _Batcher:

  async def submit(self, inputs):
    n = len(inputs.reward)
    return InferenceOutput(np.zeros(n, np.int32), np.zeros(n, np.float32), inputs.core)


def _service(handshake_grace_s=10.0):
  spec = EnvSpec('catch', (50,), 'float32', ActionSpec('discrete', num_actions=3))
  return ActorHub(spec, {}, 2, _Batcher(), (), 3, FifoSource(1, 10), EpisodeStats(),
                  threading.Event(), handshake_grace_s)


def _batch(actor_id, run_id, observation):
  return StepMessage.of(actor_id, run_id,
                        np.arange(2, dtype=np.int32) + 2 * actor_id, BatchStep.first(observation))


def _served(service, batch):
  """The hub's step as the server runs it: on the message decoded against
  the hub's layout."""
  return asyncio.run(service.step(StepMessage.from_proto(batch.to_proto(), service.step_layout)))


def test_malformed_steps_are_rejected_naming_the_field():
  service = _service()
  service.handshake(0, 'a')
  service.handshake(1, 'b')
  good = np.zeros((2, 50), np.float32)
  with pytest.raises(InvalidMessageError, match='observation: expected shape'):
    _served(service, _batch(0, 'a', np.zeros((2, 49), np.float32)))
  with pytest.raises(InvalidMessageError, match='observation: expected dtype float32'):
    _served(service, _batch(0, 'a', np.zeros((2, 50), np.float64)))
  with pytest.raises(InvalidMessageError, match='run_id'):
    _served(service, _batch(0, 'stale', good))
  wrong_ids = _batch(0, 'a', good)
  wrong_ids.env_ids = np.array([5, 6], np.int32)
  with pytest.raises(InvalidMessageError, match='env_ids'):
    _served(service, wrong_ids)
  actions, done = _served(service, _batch(1, 'b', good))
  assert actions.shape == (2,) and not done


def test_a_live_actor_id_cannot_be_taken_over():
  service = _service(handshake_grace_s=0.0)
  good = np.zeros((2, 50), np.float32)
  service.handshake(0, 'first')
  asyncio.run(service.step(_batch(0, 'first', good)))
  with pytest.raises(ActorIdInUseError,
                     match="actor_id: 0 is held by a live actor \\(run 'first'\\)"):
    service.handshake(0, 'intruder')
  # The holder keeps its slot and environments.
  asyncio.run(service.step(_batch(0, 'first', good)))
  with pytest.raises(InvalidMessageError, match='has not handshaken'):
    asyncio.run(service.step(_batch(0, 'intruder', good)))
  # Once its stream closes the slot is free.
  service.stream_closed(0, 'first')
  service.handshake(0, 'successor')
  asyncio.run(service.step(_batch(0, 'successor', good)))


def test_a_fresh_handshake_is_held_for_the_grace_period_then_freed():
  held = _service(handshake_grace_s=60.0)
  held.handshake(3, 'first')
  with pytest.raises(ActorIdInUseError):
    held.handshake(3, 'second')
  stale = _service(handshake_grace_s=0.0)
  stale.handshake(3, 'first')  # never streams (e.g. died right after)
  stale.handshake(3, 'second')
  asyncio.run(stale.step(_batch(3, 'second', np.zeros((2, 50), np.float32))))


def test_resume_differences_name_what_the_checkpoints_depend_on():
  from configs import cartpole
  from seed_stac import config as config_lib
  import json
  saved = json.loads(catch.get_config().to_json_best_effort())
  assert config_lib.resume_differences(saved, catch.get_config()) == []
  other = catch.get_config()
  other.optimizer.learning_rate = 1.0  # may change between sittings
  other.learner.total_frames = 5
  assert config_lib.resume_differences(saved, other) == []
  differences = config_lib.resume_differences(saved, cartpole.get_config())
  assert "env.kind: 'catch' -> 'cartpole'" in differences
  assert any(d.startswith('network.mlp.sizes') for d in differences)
  del saved['network']['continuous_policy']  # written by an older version: not compared
  assert config_lib.resume_differences(saved, catch.get_config()) == []


@pytest.mark.slow
def test_a_logdir_refuses_to_resume_under_another_config(tmp_path):
  import os
  import subprocess
  import sys
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

  def local(config):
    return subprocess.run([
        sys.executable, '-m', 'seed_stac.local', f'--config={config}', f'--logdir={tmp_path}',
        '--num_actors=1', '--config.learner.total_frames=600'
    ],
                          cwd=root,
                          capture_output=True,
                          text=True,
                          timeout=300)

  first = local('configs/catch.py')
  assert first.returncode == 0, first.stderr[-2000:]
  refused = local('configs/cartpole.py')
  assert refused.returncode == 1
  assert f'Error: {tmp_path} holds a run of another config' in refused.stderr
  assert "env.kind: 'catch' -> 'cartpole'" in refused.stderr
  assert 'Traceback' not in refused.stderr
  assert local('configs/catch.py').returncode == 0  # its own config still resumes
