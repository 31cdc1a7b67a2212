"""Tests for seed_stac.envs.catch."""

import numpy as np
import pytest

from seed_stac.envs import catch

ROWS, COLS = 10, 5


def _positions(observation):
  board = observation.reshape(ROWS, COLS)
  ball = np.argwhere(board[:-1] == 1.0)
  paddle_col = int(np.argmax(board[-1]))
  return (tuple(ball[0]) if len(ball) else None), paddle_col


def _play(env, policy):
  """Plays one episode; returns (rewards, steps)."""
  observation = env.reset()
  rewards = []
  while True:
    step = env.step(policy(observation))
    rewards.append(step.reward)
    assert not step.truncated
    if step.terminated:
      return rewards
    observation = step.observation


def _chase(observation):
  (_, ball_col), paddle_col = _positions(observation)
  return 1 + int(np.sign(ball_col - paddle_col))


def test_spec_and_first_observation():
  env = catch.Catch(seed=0)
  assert env.spec.name == 'catch'
  assert env.spec.observation_shape == (ROWS * COLS,)
  assert env.spec.observation_dtype == 'float32'
  assert env.spec.action.kind == 'discrete'
  assert env.spec.action.num_actions == 3
  observation = env.reset()
  assert observation.shape == (50,) and observation.dtype == np.float32
  assert observation.sum() == 2.0  # ball + paddle
  (ball_row, _), paddle_col = _positions(observation)
  assert ball_row == 0 and paddle_col == COLS // 2


def test_catching_gives_plus_one_after_rows_minus_one_steps():
  env = catch.Catch(seed=1)
  for _ in range(10):
    rewards = _play(env, _chase)
    assert len(rewards) == ROWS - 1
    assert rewards[-1] == 1.0 and not any(rewards[:-1])


def test_missing_gives_minus_one():
  env = catch.Catch(seed=2)

  def flee(observation):
    (_, ball_col), _ = _positions(observation)
    return 2 if ball_col < COLS // 2 else 0  # Run to the far wall.

  for _ in range(10):
    assert _play(env, flee)[-1] == -1.0


def test_paddle_moves_and_clips_at_walls():
  env = catch.Catch(seed=0)
  env.reset()
  cols = []
  for action in (0, 0, 0, 2, 1):
    cols.append(_positions(env.step(action).observation)[1])
  assert cols == [1, 0, 0, 1, 1]


def test_seeded_determinism():

  def ball_columns(seed):
    env = catch.Catch(seed=seed)
    return [_positions(env.reset())[0][1] for _ in range(30)]

  assert ball_columns(3) == ball_columns(3)
  assert ball_columns(3) != ball_columns(4)
  assert set(ball_columns(3)) == set(range(COLS))


def test_custom_grid():
  env = catch.Catch(seed=0, rows=4, cols=3)
  assert env.spec.observation_shape == (12,)
  env.reset()
  assert [env.step(1).terminated for _ in range(3)] == [False, False, True]


def test_errors():
  env = catch.Catch(seed=0)
  with pytest.raises(RuntimeError, match='call reset'):
    env.step(1)
  env.reset()
  for bad in (3, -1, 1.5):
    with pytest.raises(ValueError, match='action'):
      env.step(bad)
  for _ in range(ROWS - 1):
    env.step(1)
  with pytest.raises(RuntimeError, match='after the episode ended'):
    env.step(1)
  with pytest.raises(ValueError, match='catch rows must be an integer >= 2'):
    catch.Catch(rows=1)
  with pytest.raises(ValueError, match='seed'):
    catch.Catch(seed=-3)
