"""The GridWalk corridor (examples/gridwalk.py) as a `dm_env.Environment`,
for `env.kind=dm_env`:

  python -m seed_stac.local --config=configs/dm_env.py:examples.corridor_dm_env:make_env,impala \
      --config.learner.total_frames=20000 --logdir=runs/corridor

Same rules: +1 at the right end (a LAST step with discount 0, a termination),
-0.01 per other step, cut after `max_steps` (a LAST step with discount 1, a
truncation). Observations: {'position': one-hot float32 [length]}.
"""

import dm_env
from dm_env import specs
import numpy as np


class Corridor(dm_env.Environment):
  """See the module docstring."""

  def __init__(self, length: int = 8, max_steps: int = 50):
    self.length, self.max_steps = length, max_steps
    self._position, self._steps = 0, 0

  def reset(self) -> dm_env.TimeStep:
    self._position, self._steps = 0, 0
    return dm_env.restart(self._observation())

  def step(self, action) -> dm_env.TimeStep:
    self._steps += 1
    move = 1 if int(action) == 1 else -1
    self._position = min(max(self._position + move, 0), self.length - 1)
    if self._position == self.length - 1:
      return dm_env.termination(1.0, self._observation())
    if self._steps >= self.max_steps:
      return dm_env.truncation(-0.01, self._observation())
    return dm_env.transition(-0.01, self._observation())

  def observation_spec(self):
    return {'position': specs.Array((self.length,), np.float32, 'position')}

  def action_spec(self):
    return specs.DiscreteArray(2, name='action')

  def _observation(self):
    return {'position': np.eye(self.length, dtype=np.float32)[self._position]}


def make_env(seed: int = 0, length: int = 8) -> Corridor:
  del seed  # deterministic
  return Corridor(length=length)
