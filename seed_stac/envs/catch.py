"""Catch: a tiny deterministic environment for fast end-to-end tests.

bsuite-style: a ball starts in a random column of the top row and falls one
row per step; the paddle moves along the bottom row. When the ball reaches the
bottom row the episode terminates with reward +1 if the paddle is under it,
else -1. Every other step gives reward 0. An episode lasts `rows - 1` steps.

Observation: float32 (rows * cols,), the row-major board with 1.0 at the ball
and at the paddle, 0.0 elsewhere. Actions: 0 = left, 1 = stay, 2 = right.
"""

import numpy as np

from seed_stac.envs import base
from seed_stac.envs import checks

NUM_ACTIONS = 3


class Catch(base.Environment):
  """Catch on a `rows` x `cols` grid; the ball column comes from `seed`."""

  def __init__(self, seed: int = 0, rows: int = 10, cols: int = 5):
    self._rows = checks.check_int('catch rows', rows, 2)
    self._cols = checks.check_int('catch cols', cols, 2)
    self._rng = np.random.default_rng(checks.check_seed(seed))
    self._ball_row = self._ball_col = self._paddle_col = 0
    self._done = True
    self.spec = base.EnvSpec(name='catch',
                             observation_shape=(rows * cols,),
                             observation_dtype='float32',
                             action=base.ActionSpec(kind='discrete', num_actions=NUM_ACTIONS))

  def reset(self) -> np.ndarray:
    self._ball_row = 0
    self._ball_col = int(self._rng.integers(self._cols))
    # Centre start, as in bsuite.
    self._paddle_col = self._cols // 2
    self._done = False
    return self._observation()

  def step(self, action) -> base.Step:
    if self._done:
      raise checks.episode_over_error(self.spec.name)
    move = checks.discrete_action(action, NUM_ACTIONS) - 1
    self._paddle_col = min(max(self._paddle_col + move, 0), self._cols - 1)
    self._ball_row += 1
    reward = 0.0
    if self._ball_row == self._rows - 1:
      reward = 1.0 if self._paddle_col == self._ball_col else -1.0
      self._done = True
    return base.Step(observation=self._observation(),
                     reward=reward,
                     terminated=self._done,
                     truncated=False)

  def _observation(self) -> np.ndarray:
    board = np.zeros((self._rows, self._cols), np.float32)
    board[self._ball_row, self._ball_col] = 1.0
    board[self._rows - 1, self._paddle_col] = 1.0
    return board.reshape(-1)
