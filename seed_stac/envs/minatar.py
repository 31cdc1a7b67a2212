"""MinAtar games (Young & Tian 2019) from the `minatar` package on PyPI.

MinAtar re-implements five Atari games on a 10x10 grid with numpy alone, so a
laptop can compare agents in minutes instead of days. As in the MinAtar paper:
  * sticky actions with probability 0.1 (the previous action repeats);
  * difficulty ramping on;
  * the game's minimal action set (indices into MinAtar's 6 actions);
  * one frame per step, no frame stacking, no action repeat.

Observation: bool (10, 10, C), one channel per object kind (C = 4 for
Breakout, 6 for SpaceInvaders, ...). Bool rather than uint8 because the
channels are 0/1 indicators, not intensities: torsos scale uint8 by 1/255
but read bool as 0/1.

Episodes end only at game over (`terminated`); `max_episode_steps` (0 = no
cap) adds a time limit reported as `truncated`.
"""

import logging
from typing import Dict

import numpy as np

from seed_stac.envs import base
from seed_stac.envs import checks

# Our names -> the package's module names.
GAMES: Dict[str, str] = {
    'Asterix': 'asterix',
    'Breakout': 'breakout',
    'Freeway': 'freeway',
    'Seaquest': 'seaquest',
    'SpaceInvaders': 'space_invaders',
}


def _environment_class():
  # minatar warns on import when seaborn (rendering only) is missing; we
  # never render, so the warning would only confuse.
  root = logging.getLogger()
  level = root.level
  root.setLevel(logging.ERROR)
  try:
    from minatar import Environment  # pylint: disable=g-import-not-at-top
  finally:
    root.setLevel(level)
  return Environment


def game_name(name: str) -> str:
  """Maps 'SpaceInvaders' or the package's 'space_invaders' to 'SpaceInvaders'."""
  if name in GAMES:
    return name
  for game, module in GAMES.items():
    if name == module:
      return game
  raise ValueError(f'unknown MinAtar game {name!r}; valid names: {", ".join(GAMES)}')


class MinAtar(base.Environment):
  """One MinAtar game; `seed` seeds the game and its sticky actions."""

  def __init__(self,
               name: str,
               seed: int = 0,
               sticky_action_prob: float = 0.1,
               difficulty_ramping: bool = True,
               max_episode_steps: int = 0):
    game = game_name(name)
    seed = checks.check_seed(seed)
    if not 0.0 <= float(sticky_action_prob) < 1.0:
      raise ValueError(f'sticky_action_prob must be in [0, 1), got {sticky_action_prob!r}')
    self._max_episode_steps = checks.check_int('max_episode_steps (0 = no limit)',
                                               max_episode_steps, 0)
    self._env = _environment_class()(GAMES[game],
                                     sticky_action_prob=float(sticky_action_prob),
                                     difficulty_ramping=bool(difficulty_ramping))
    self._env.seed(seed)
    self._actions = [int(a) for a in self._env.minimal_action_set()]
    self._steps = 0
    self._done = True
    self.spec = base.EnvSpec(name=game,
                             observation_shape=tuple(int(n) for n in self._env.state_shape()),
                             observation_dtype='bool',
                             action=base.ActionSpec(kind='discrete',
                                                    num_actions=len(self._actions)))

  def reset(self) -> np.ndarray:
    self._env.reset()
    self._steps = 0
    self._done = False
    return self._observation()

  def step(self, action) -> base.Step:
    if self._done:
      raise checks.episode_over_error(self.spec.name)
    index = checks.discrete_action(action, len(self._actions))
    reward, terminated = self._env.act(self._actions[index])
    self._steps += 1
    terminated = bool(terminated)
    truncated = (not terminated and self._max_episode_steps > 0
                 and self._steps >= self._max_episode_steps)
    self._done = terminated or truncated
    return base.Step(observation=self._observation(),
                     reward=float(reward),
                     terminated=terminated,
                     truncated=truncated)

  def _observation(self) -> np.ndarray:
    return np.asarray(self._env.state(), dtype=bool)
