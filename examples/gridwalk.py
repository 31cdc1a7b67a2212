"""A tiny custom Gymnasium environment, registered on import.

Walk a corridor of `length` cells from the left end to the goal at the right
end: action 0 steps left, 1 steps right. Reaching the goal pays +1 and ends the
episode (`terminated`); every other step costs 0.01; after `max_episode_steps`
the episode is cut (`truncated`). Observations are the one-hot position,
float32 [length]. Random play needs about length^2 steps to reach the goal, so
a learning agent is easy to tell from a random one.

Train it (the actors import this module too, so it is registered there):

  python -m seed_stac.local --config=configs/gym.py:seed_stac_examples/GridWalk-v0 \
      --config.env.options.import_module=examples.gridwalk --logdir=runs/gridwalk
"""

import gymnasium
from gymnasium import spaces
import numpy as np

ENV_ID = 'seed_stac_examples/GridWalk-v0'


class GridWalk(gymnasium.Env):
  """The corridor; see the module docstring."""

  def __init__(self, length: int = 8):
    if length < 2:
      raise ValueError(f'length must be >= 2, got {length}')
    self.length = length
    self.observation_space = spaces.Box(0.0, 1.0, (length,), np.float32)
    self.action_space = spaces.Discrete(2)
    self._position = 0

  def reset(self, *, seed=None, options=None):
    super().reset(seed=seed)
    self._position = 0
    return self._observation(), {}

  def step(self, action):
    move = 1 if int(action) == 1 else -1
    self._position = min(max(self._position + move, 0), self.length - 1)
    at_goal = self._position == self.length - 1
    reward = 1.0 if at_goal else -0.01
    return self._observation(), reward, at_goal, False, {}

  def _observation(self):
    observation = np.zeros(self.length, np.float32)
    observation[self._position] = 1.0
    return observation


if ENV_ID not in gymnasium.registry:
  gymnasium.register(ENV_ID, entry_point=GridWalk, max_episode_steps=50)
