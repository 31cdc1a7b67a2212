"""Atari 2600 games (ALE, ale-py) with the standard protocol, one game per object.

The protocol, the same for this per-game adapter and for the vector batch
(`atari_vector.AtariVectorBatch`, ale_py's C++ `AtariVectorEnv`):
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
    (`repeat_action_probability`, applied by ALE per emulator frame); no
    automatic FIRE at reset;
  * rewards are raw (unclipped).

This adapter drives the emulator directly (`ale_py.ALEInterface`, one frame
per `act`) and is written to give, for the same seed and actions, exactly the
observations, rewards and flags of the vector batch (tests/envs/
test_atari_vector.py checks it bit for bit): ALE is seeded with `seed` itself
(`random_seed`, then `loadROM`, as `AtariVectorEnv.reset(seed=...)` does);
no-op counts come from the same generator (`NoopSampler`: std::mt19937 seeded
with `seed`, libstdc++'s uniform_int_distribution); the resize is OpenCV's
INTER_AREA to the bit (`OpenCvAreaResize`). The one difference: on the step
that reaches `max_episode_frames`, this adapter stops at the cap, while the
vector env always plays the whole 4-frame step (see atari_vector.py).

Where this per-game adapter is still used, rather than the vector batch:
  * everything that builds ONE environment (`create_environment`): the
    learner's spec probe (`SubprocessEnvironment`), `seed_stac.evaluate`
    (returns and `--video` frames, one episode at a time), tests;
  * actor batches with the batch option `vector=False`
    (`create_env_batch('atari', ..., vector=False)`), e.g. to rule out the
    vector env when debugging, or for an exact frame cap. The vector env
    supports every option of this adapter, so nothing else requires it.
"""

import functools
import math
import numbers
from typing import Tuple

import ale_py
from ale_py import roms
import gymnasium as gym
import numpy as np

from seed_stac.envs import base
from seed_stac.envs import checks

ACTION_REPEAT = 4
FRAME_STACK = 4
OBSERVATION_SHAPE = (84, 84, 1)
# ALE's `random_seed` and AtariVectorEnv's per-env seeds are C ints.
MAX_SEED = 2**31 - 1
_SCREEN_SHAPE = (210, 160)  # Every ALE game renders 210x160.

gym.register_envs(ale_py)


@functools.lru_cache(maxsize=None)
def valid_games() -> Tuple[str, ...]:
  """Sorted game names, e.g. ('Adventure', ..., 'Pong', ...)."""
  return tuple(
      sorted(env_id[len('ALE/'):-len('-v5')]
             for env_id in gym.registry
             if env_id.startswith('ALE/') and env_id.endswith('-v5')))


def game_name(name: str) -> str:
  """Maps 'Pong' or 'ALE/Pong-v5' to 'Pong'; ValueError for unknown games."""
  game = name
  if isinstance(name, str) and name.startswith('ALE/') and name.endswith('-v5'):
    game = name[len('ALE/'):-len('-v5')]
  if game not in valid_games():
    raise ValueError(f'unknown Atari game {name!r}; valid names (also accepted as '
                     f"'ALE/<name>-v5'): {', '.join(valid_games())}")
  return game


def rom_id(game: str) -> str:
  """ALE's ROM id of a `game_name`, e.g. 'MsPacman' -> 'ms_pacman'."""
  return gym.registry[f'ALE/{game}-v5'].kwargs['game']


def check_seeds(seed, count: int = 1) -> int:
  """Returns `seed`; ValueError unless seed..seed+count-1 are valid ALE seeds."""
  seed = checks.check_seed(seed)
  if seed + count - 1 > MAX_SEED:
    what = 'seed' if count == 1 else f'seed + batch_size - 1 (batch_size={count})'
    raise ValueError(f'Atari: {what} must be <= 2**31 - 1 (ALE seeds are 32-bit signed '
                     f'integers), got seed={seed}')
  return seed


def check_protocol_options(noop_max, max_episode_frames,
                           repeat_action_probability) -> Tuple[int, int, float]:
  """The checked (noop_max, max_episode_frames, repeat_action_probability)."""
  noop_max = checks.check_int('noop_max', noop_max, 0)
  # The cap must leave room for at least one agent step after the no-ops.
  max_episode_frames = checks.check_int(f'max_episode_frames (must exceed noop_max={noop_max})',
                                        max_episode_frames, noop_max + 1)
  if isinstance(repeat_action_probability,
                (bool, np.bool_)) or not (isinstance(repeat_action_probability, numbers.Real)
                                          and 0.0 <= repeat_action_probability < 1.0):
    raise ValueError('repeat_action_probability must be in [0, 1), got '
                     f'{repeat_action_probability!r}')
  return noop_max, max_episode_frames, float(repeat_action_probability)


class NoopSampler:
  """No-op counts U{0..noop_max}, drawn as ale_py's AtariVectorEnv draws them.

  The vector env (ale-py 0.12, C++) uses `std::mt19937 rng(seed)` and
  `std::uniform_int_distribution<>(0, n)`, whose libstdc++ implementation
  (GCC >= 11) is Lemire's multiply-shift with rejection. NumPy's legacy
  `RandomState(seed)` seeds MT19937 exactly as `std::mt19937(seed)` does
  (init_genrand), and `random_raw` gives its 32-bit outputs.
  """

  def __init__(self, seed: int, noop_max: int):
    key = np.random.RandomState(seed).get_state()[1]
    self._bits = np.random.MT19937()
    self._bits.state = {'bit_generator': 'MT19937', 'state': {'key': key, 'pos': 624}}
    self._range = noop_max + 1

  def __call__(self) -> int:
    n = self._range
    product = int(self._bits.random_raw()) * n
    if product % 2**32 < n:
      threshold = 2**32 % n
      while product % 2**32 < threshold:
        product = int(self._bits.random_raw()) * n
    return product >> 32


def _opencv_area_table(n_in: int, n_out: int):
  """OpenCV's computeResizeAreaTab for one axis: for each output index, its
  source indices and float32 weights in OpenCV's order, zero-padded at the end
  to a common width (index 0, weight 0: adding +0.0 changes no sum)."""
  scale = 1.0 / (n_out / n_in)  # as cv::resize computes it from the sizes
  table = []
  for d in range(n_out):
    low = d * scale
    high = low + scale
    cell = min(scale, n_in - low)
    first, last = math.ceil(low), math.floor(high)
    last = min(last, n_in - 1)
    first = min(first, last)
    row = []
    if first - low > 1e-3:
      row.append((first - 1, (first - low) / cell))
    row.extend((s, 1.0 / cell) for s in range(first, last))
    if high - last > 1e-3:
      row.append((last, min(min(high - last, 1.0), cell) / cell))
    table.append(row)
  width = max(len(row) for row in table)
  index = np.zeros((n_out, width), np.intp)
  weight = np.zeros((n_out, width), np.float32)
  for d, row in enumerate(table):
    for k, (s, w) in enumerate(row):
      index[d, k], weight[d, k] = s, w
  return index, weight


class OpenCvAreaResize:
  """uint8 (H, W) -> uint8 `out_shape`, bit-identical to OpenCV's
  `cv2.resize(..., interpolation=cv2.INTER_AREA)` for non-integer scales
  (OpenCV 4.10 `ResizeArea_Invoker<uchar, float>`, what AtariVectorEnv uses).

  Same area weights as `resize.AreaResizer`, but summed in float32 in
  OpenCV's order (rows: sum_k S[x_k] * a_k left to right; then
  sum_k b_k * row[y_k] top to bottom) and rounded half to even, so no
  output differs in the last bit. About 100 us per Atari frame.
  """

  def __init__(self, in_shape: Tuple[int, int], out_shape: Tuple[int, int]):
    self._in_shape = tuple(in_shape)
    y_index, y_weight = _opencv_area_table(in_shape[0], out_shape[0])
    x_index, x_weight = _opencv_area_table(in_shape[1], out_shape[1])
    self._x_index, self._x_weight = x_index.T.copy(), x_weight.T.copy()
    self._y = [(y_index[:, k].copy(), y_weight[:, k, None].copy()) for k in range(y_index.shape[1])]

  def __call__(self, image: np.ndarray) -> np.ndarray:
    if image.shape != self._in_shape:
      raise ValueError(f'expected an image of shape {self._in_shape}, got {image.shape}')
    # [H, K, out_w]: float32(pixel) * weight, one slice per table column.
    terms = np.multiply(image[:, self._x_index], self._x_weight, dtype=np.float32)
    rows = terms[:, 0]
    for k in range(1, terms.shape[1]):
      rows = rows + terms[:, k]
    (index, weight), *rest = self._y
    out = rows[index] * weight
    for index, weight in rest:
      out += rows[index] * weight
    np.rint(out, out=out)
    return np.clip(out, 0, 255, out=out).astype(np.uint8)


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
    seed = check_seeds(seed)
    noop_max, max_episode_frames, repeat_action_probability = (check_protocol_options(
        noop_max, max_episode_frames, repeat_action_probability))
    # Configured as AtariVectorEnv configures each of its games
    # (ale/vector/preprocessed_env.cpp): same settings, seed, then ROM.
    ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)
    self._ale = ale = ale_py.ALEInterface()
    ale.setFloat('repeat_action_probability', repeat_action_probability)
    ale.setInt('random_seed', seed)  # ALE's RNG: sticky actions.
    ale.loadROM(roms.get_rom_path(rom_id(game)))
    self._action_set = list(
        ale.getLegalActionSet() if full_action_space else ale.getMinimalActionSet())
    self._noops = NoopSampler(seed, noop_max)
    self._terminal_on_life_loss = bool(terminal_on_life_loss)
    self._lives = 0
    self._life_lost = False
    self._last_observation = None
    self._max_episode_frames = max_episode_frames
    self._episode_frames = 0
    self._done = True
    self._screens = np.zeros((2,) + _SCREEN_SHAPE, np.uint8)
    self._pooled = np.zeros(_SCREEN_SHAPE, np.uint8)
    self._resize = OpenCvAreaResize(_SCREEN_SHAPE, OBSERVATION_SHAPE[:2])
    self.spec = base.EnvSpec(name=game,
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
    for _ in range(self._noops()):
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
    ale_action = self._action_set[checks.discrete_action(action, len(self._action_set))]
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
      truncated = (not terminated and self._episode_frames >= self._max_episode_frames)
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
    return base.Step(observation=observation,
                     reward=float(reward),
                     terminated=terminated or self._life_lost,
                     truncated=truncated,
                     game_continues=self._life_lost)

  def _observation(self, frame: np.ndarray) -> np.ndarray:
    """uint8 (210, 160) screen -> uint8 (84, 84, 1) observation."""
    return self._resize(frame)[:, :, None]

  def close(self) -> None:
    self._ale = None
