"""Per-actor learner state: frame stacks, episode starts, unroll overlap."""

import numpy as np

from seed_stac.envs.base import ActionSpec, EnvSpec
from seed_stac.envs.batch import BatchStep
from seed_stac.learner.env_state import ActorState, push_frame

SPEC = EnvSpec('t', (2, 2, 1), 'uint8', ActionSpec('discrete', num_actions=3), frame_stack=3)


def _obs(value, num_envs=2):
  return np.full((num_envs, 2, 2, 1), value, np.uint8)


def _flags(*values):
  return np.array(values, bool)


def _step(observation, reward, terminated, truncated):
  num_envs = len(observation)
  return BatchStep(observation=observation,
                   reward=np.asarray(reward, np.float32),
                   terminated=terminated,
                   truncated=truncated,
                   episode_return=np.full(num_envs, np.nan, np.float32),
                   episode_length=np.zeros(num_envs, np.int32))


def test_frame_stack_refills_at_episode_start_and_shifts_otherwise():
  state = ActorState('run', SPEC, 2, (), unroll_length=4)
  inputs = state.observe(_step(_obs(1), np.zeros(2), _flags(0, 0), _flags(0, 0)))
  assert inputs.first.all()
  np.testing.assert_array_equal(inputs.observation[0, :, 0, 0, 0], [1, 1, 1])
  state.act(np.array([2, 1], np.int32), np.zeros(2, np.float32), ())
  inputs = state.observe(_step(_obs(2), np.ones(2), _flags(0, 1), _flags(0, 0)))
  np.testing.assert_array_equal(inputs.observation[0, :, 0, 0, 0], [1, 1, 2])
  np.testing.assert_array_equal(inputs.observation[1, :, 0, 0, 0], [2, 2, 2])
  np.testing.assert_array_equal(inputs.prev_action, [2, 0])
  np.testing.assert_array_equal(inputs.first, [False, True])


def test_unrolls_overlap_by_one_step_and_carry_the_core_state():
  state = ActorState('run', SPEC, 2, (np.zeros((2, 1), np.float32),), unroll_length=2)
  columns = []
  for t in range(5):
    state.observe(_step(_obs(t), np.full(2, t, np.float32), _flags(0, 0), _flags(0, 0)))
    out = state.act(np.full(2, t % 3, np.int32), np.full(2, -t, np.float32), (np.full(
        (2, 1), t + 1, np.float32),))
    columns.extend(out or [])
  assert len(columns) == 4  # two unrolls x two envs
  first, second = columns[0], columns[2]
  np.testing.assert_array_equal(first.reward, [0, 1, 2])
  np.testing.assert_array_equal(second.reward, [2, 3, 4])
  np.testing.assert_array_equal(second.prev_action, [1, 2, 0])
  assert first.observation.shape == (3,) + SPEC.stacked_observation_shape
  # Core state at the start of each unroll is the one fed to its first step.
  np.testing.assert_array_equal(first.core_state[0], [0])
  np.testing.assert_array_equal(second.core_state[0], [2])


def _reference_stacks(observations, firsts, frame_stack):
  """Brute force: each env's stack rebuilt from its episode's frames alone."""
  stacks = []
  for t in range(len(observations)):
    per_env = []
    for e in range(observations[0].shape[0]):
      start = max(s for s in range(t + 1) if s == 0 or firsts[s][e])
      history = [observations[max(start, t - k)][e] for k in reversed(range(frame_stack))]
      per_env.append(np.stack(history))
    stacks.append(np.stack(per_env))
  return stacks


def test_push_frame_matches_stacks_rebuilt_from_each_episode():
  rng = np.random.default_rng(0)
  steps, num_envs, frame_stack = 12, 3, 4
  observations = [rng.integers(0, 255, (num_envs, 2, 3), np.uint8) for _ in range(steps)]
  firsts = [np.ones(num_envs, bool)] + [rng.random(num_envs) < 0.3 for _ in range(steps - 1)]
  frames, got = None, []
  for observation, first in zip(observations, firsts):
    previous = frames
    frames = push_frame(frames, observation, first, frame_stack)
    assert previous is None or not np.shares_memory(frames, previous)
    got.append(frames.copy())
  for t, (stack,
          expected) in enumerate(zip(got, _reference_stacks(observations, firsts, frame_stack))):
    np.testing.assert_array_equal(stack, expected, err_msg=f'step {t}')
