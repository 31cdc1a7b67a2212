"""Wraps a `dm_env.Environment` (dm_control, RWRL, a user's `dm_env` factory).

Shared by `dmc.py`, `rwrl.py` and `dm_env_factory.py`: action checks (continuous
actions clipped, discrete ones range-checked), action repeat and the
mapping of dm_env's LAST step to terminated/truncated. dm_control marks a time
limit with discount 1.0 on the LAST step and a real termination with discount
0.0, so `discount == 0` -> terminated, anything else -> truncated.
"""

from typing import Callable

import dm_env
import numpy as np

from seed_stac.envs import base
from seed_stac.envs import checks


def flatten_observation(observation) -> np.ndarray:
  """float32 (N,): a dict's values raveled and concatenated in the dict's own
  (fixed, suite-defined) key order, or an array raveled."""
  if isinstance(observation, dict):
    parts = [np.asarray(value, np.float32).reshape(-1) for value in observation.values()]
    return np.concatenate(parts) if parts else np.zeros((0,), np.float32)
  return np.asarray(observation, np.float32).reshape(-1)


def continuous_action_spec(spec) -> base.ActionSpec:
  """`ActionSpec` from a dm_env `BoundedArray` (bounds broadcast, flat)."""
  shape = tuple(int(d) for d in spec.shape)
  minimum = np.broadcast_to(np.asarray(spec.minimum, np.float32), shape)
  maximum = np.broadcast_to(np.asarray(spec.maximum, np.float32), shape)
  return base.ActionSpec(kind='continuous',
                         shape=shape,
                         minimum=tuple(float(v) for v in minimum.reshape(-1)),
                         maximum=tuple(float(v) for v in maximum.reshape(-1)))


class DmEnvAdapter(base.Environment):
  """A dm_env with `action_repeat`; `observe` maps a TimeStep to one frame.

  `observe(timestep) -> np.ndarray` must return arrays of
  `spec.observation_shape` / `spec.observation_dtype` (features or pixels).
  Rewards are summed over the repeats; a LAST step ends the repeat early.
  """

  def __init__(self,
               env: dm_env.Environment,
               spec: base.EnvSpec,
               observe: Callable[[dm_env.TimeStep], np.ndarray],
               action_repeat: int = 1):
    action_repeat = checks.check_int('action_repeat', action_repeat, 1)
    self._env = env
    self._observe = observe
    self._action_repeat = action_repeat
    self._action_dtype = env.action_spec().dtype
    self._done = True
    self.spec = spec

  @property
  def env(self) -> dm_env.Environment:
    return self._env

  def reset(self) -> np.ndarray:
    timestep = self._env.reset()
    self._done = False
    return self._observe(timestep)

  def step(self, action) -> base.Step:
    if self._done:
      raise checks.episode_over_error(self.spec.name)
    if self.spec.action.kind == 'discrete':
      action = np.asarray(checks.discrete_action(action, self.spec.action.num_actions),
                          self._action_dtype)
    else:
      action = checks.continuous_action(action, self.spec.action).astype(self._action_dtype)
    reward = 0.0
    for _ in range(self._action_repeat):
      timestep = self._env.step(action)
      reward += timestep.reward or 0.0
      if timestep.last():
        break
    terminated = timestep.last() and timestep.discount == 0.0
    truncated = timestep.last() and not terminated
    self._done = timestep.last()
    return base.Step(observation=self._observe(timestep),
                     reward=float(reward),
                     terminated=bool(terminated),
                     truncated=bool(truncated))

  def close(self) -> None:
    self._env.close()
