"""Gymnasium CartPole-v1 as a `base.Environment`.

Observation: float32 (4,) [cart position, cart velocity, pole angle, pole
angular velocity]. Actions: 2 (0 = push left, 1 = push right). Reward +1 per
step. The 500-step time limit is reported as `truncated`; a fallen pole or a
cart off the track as `terminated`.
"""

import gymnasium as gym
import numpy as np

from seed_stac.envs import base
from seed_stac.envs import checks

GYM_ID = 'CartPole-v1'


class CartPole(base.Environment):
  """CartPole-v1; `seed` seeds the first reset, later resets continue it."""

  def __init__(self, seed: int = 0):
    self._seed = checks.check_seed(seed)
    # The passive env checker only warns and costs time on every step.
    self._env = gym.make(GYM_ID, disable_env_checker=True)
    self._done = True
    self.spec = base.EnvSpec(name=GYM_ID,
                             observation_shape=(4,),
                             observation_dtype='float32',
                             action=base.ActionSpec(kind='discrete',
                                                    num_actions=int(self._env.action_space.n)))

  def reset(self) -> np.ndarray:
    # Seed only once: re-seeding every reset would replay the same episode.
    seed, self._seed = self._seed, None
    observation, _ = self._env.reset(seed=seed)
    self._done = False
    return np.asarray(observation, np.float32)

  def step(self, action) -> base.Step:
    if self._done:
      raise checks.episode_over_error(self.spec.name)
    action = checks.discrete_action(action, self.spec.action.num_actions)
    observation, reward, terminated, truncated, _ = self._env.step(action)
    terminated = bool(terminated)
    # gymnasium sets both flags when the pole falls on the last allowed step;
    # that is a real termination, so it must not be bootstrapped.
    truncated = bool(truncated) and not terminated
    self._done = terminated or truncated
    return base.Step(observation=np.asarray(observation, np.float32),
                     reward=float(reward),
                     terminated=terminated,
                     truncated=truncated)

  def close(self) -> None:
    self._env.close()
