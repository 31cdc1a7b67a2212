"""Atari 2600 games (ALE via gymnasium + ale-py) with the standard protocol.

The protocol is implemented here on a `frameskip=1` ALE env, driving the
emulator directly (`env.unwrapped.ale`) because gymnasium wrappers cost more
per frame than the emulator itself:
  * action repeat 4; the observation is the max over the last two frames
    (removes sprite flicker);
  * grayscale, area-resized to 84x84: uint8 (84, 84, 1). One frame per step;
    the LEARNER stacks 4 (EnvSpec.frame_stack);
  * reset plays U{0..noop_max} single-frame no-ops (random starts);
  * episodes are cut at `max_episode_frames` emulator frames (no-ops
    included) and reported as `truncated`;
  * losing a life is NOT terminal unless `terminal_on_life_loss` (a learning
    signal only: the step is `terminated` with `game_continues`, `reset()`
    then continues the same game, and EnvBatch still scores whole games);
  * minimal action set unless `full_action_space`; optional sticky actions
    (`repeat_action_probability`, applied by ALE per emulator frame);
  * rewards are raw (unclipped).
"""

import functools
import numbers
from typing import Tuple

import ale_py
import gymnasium as gym
import numpy as np

from seed_stac.envs import base
from seed_stac.envs import checks
from seed_stac.envs import resize

ACTION_REPEAT = 4
FRAME_STACK = 4
OBSERVATION_SHAPE = (84, 84, 1)
_SCREEN_SHAPE = (210, 160)  # Every ALE game renders 210x160.

gym.register_envs(ale_py)


@functools.lru_cache(maxsize=None)
def valid_games() -> Tuple[str, ...]:
  """Sorted game names, e.g. ('Adventure', ..., 'Pong', ...)."""
  return tuple(sorted(
      env_id[len('ALE/'):-len('-v5')] for env_id in gym.registry
      if env_id.startswith('ALE/') and env_id.endswith('-v5')))


def game_name(name: str) -> str:
  """Maps 'Pong' or 'ALE/Pong-v5' to 'Pong'; ValueError for unknown games."""
  game = name
  if isinstance(name, str) and name.startswith('ALE/') and name.endswith('-v5'):
    game = name[len('ALE/'):-len('-v5')]
  if game not in valid_games():
    raise ValueError(
        f'unknown Atari game {name!r}; valid names (also accepted as '
        f"'ALE/<name>-v5'): {', '.join(valid_games())}")
  return game


class Atari(base.Environment):
  """One ALE game. `seed` seeds the no-op starts and ALE's sticky actions."""

  def __init__(self,
               name: str,
               seed: int = 0,
               noop_max: int = 30,
               max_episode_frames: int = 108_000,
               full_action_space: bool = False,
               repeat_action_probability: float = 0.0,
               terminal_on_life_loss: bool = False):
    game = game_name(name)
    seed = checks.check_seed(seed)
    noop_max = checks.check_int('noop_max', noop_max, 0)
    # The cap must leave room for at least one agent step after the no-ops.
    max_episode_frames = checks.check_int(
        f'max_episode_frames (must exceed noop_max={noop_max})',
        max_episode_frames, noop_max + 1)
    if not (isinstance(repeat_action_probability, numbers.Real) and
            0.0 <= repeat_action_probability < 1.0):
      raise ValueError('repeat_action_probability must be in [0, 1), got '
                       f'{repeat_action_probability!r}')
    self._env = gym.make(
        f'ALE/{game}-v5',
        frameskip=1,
        repeat_action_probability=float(repeat_action_probability),
        full_action_space=bool(full_action_space),
        # 0 disables ALE's own cap; we count frames ourselves.
        max_num_frames_per_episode=0,
        disable_env_checker=True)
    # Seeds ALE's RNG (sticky actions) once; later resets use reset_game().
    self._env.reset(seed=seed)
    self._ale = self._env.unwrapped.ale
    # Same sets AtariEnv uses, read from the public ALE API.
    self._action_set = list(self._ale.getLegalActionSet() if full_action_space
                            else self._ale.getMinimalActionSet())
    self._rng = np.random.default_rng(seed)
    self._terminal_on_life_loss = bool(terminal_on_life_loss)
    self._lives = 0
    self._life_lost = False
    self._last_observation = None
    self._noop_max = noop_max
    self._max_episode_frames = max_episode_frames
    self._episode_frames = 0
    self._done = True
    self._screens = np.zeros((2,) + _SCREEN_SHAPE, np.uint8)
    self._pooled = np.zeros(_SCREEN_SHAPE, np.uint8)
    self._resize = resize.AreaResizer(_SCREEN_SHAPE, OBSERVATION_SHAPE[:2])
    self.spec = base.EnvSpec(
        name=game,
        observation_shape=OBSERVATION_SHAPE,
        observation_dtype='uint8',
        action=base.ActionSpec(kind='discrete',
                               num_actions=len(self._action_set)),
        frame_stack=FRAME_STACK,
        frames_per_step=ACTION_REPEAT)

  @property
  def episode_frames(self) -> int:
    """Emulator frames played in the current episode, no-ops included."""
    return self._episode_frames

  def reset(self) -> np.ndarray:
    if self._life_lost:  # The game goes on from where the life was lost.
      self._life_lost = self._done = False
      return self._last_observation
    ale = self._ale
    ale.reset_game()
    self._episode_frames = 0
    for _ in range(int(self._rng.integers(self._noop_max + 1))):
      ale.act(ale_py.Action.NOOP)
      self._episode_frames += 1
      if ale.game_over(with_truncation=False):  # Rare; start over.
        ale.reset_game()
        self._episode_frames = 0
    self._done = False
    self._lives = ale.lives()
    ale.getScreenGrayscale(self._screens[1])
    return self._observation(self._screens[1])

  def step(self, action) -> base.Step:
    if self._done:
      raise checks.episode_over_error(self.spec.name)
    ale_action = self._action_set[
        checks.discrete_action(action, len(self._action_set))]
    ale = self._ale
    screens = self._screens
    reward = 0.0
    terminated = truncated = False
    for i in range(ACTION_REPEAT):
      reward += ale.act(ale_action)
      self._episode_frames += 1
      if i >= ACTION_REPEAT - 2:
        ale.getScreenGrayscale(screens[i - (ACTION_REPEAT - 2)])
      terminated = ale.game_over(with_truncation=False)
      truncated = (not terminated and
                   self._episode_frames >= self._max_episode_frames)
      if terminated or truncated:
        break
    if i < ACTION_REPEAT - 1:
      # Ended early: the older pooling buffer is stale, use the last frame.
      ale.getScreenGrayscale(screens[1])
      frame = screens[1]
    else:
      frame = np.maximum(screens[0], screens[1], out=self._pooled)
    observation = self._observation(frame)
    lives, self._lives = self._lives, ale.lives()
    self._life_lost = (self._terminal_on_life_loss and not (terminated or truncated)
                       and self._lives < lives)
    if self._life_lost:
      self._last_observation = observation
    self._done = terminated or truncated or self._life_lost
    return base.Step(observation=observation, reward=float(reward),
                     terminated=terminated or self._life_lost, truncated=truncated,
                     game_continues=self._life_lost)

  def _observation(self, frame: np.ndarray) -> np.ndarray:
    """uint8 (210, 160) screen -> uint8 (84, 84, 1) observation."""
    return self._resize(frame)[:, :, None]

  def close(self) -> None:
    self._env.close()
