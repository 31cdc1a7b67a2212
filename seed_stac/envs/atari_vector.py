"""Atari batches on ale_py's C++ `AtariVectorEnv`: one per actor.

`create_env_batch('atari', ...)` builds an `AtariVectorBatch` unless the
batch option `vector=False` asks for an `EnvBatch` of per-game `atari.Atari`
adapters. Both implement the protocol in atari.py's docstring and the
`EnvBatch` contract (batch.py): auto-reset, where an episode ends the
observation is the next episode's first; `episode_return`/`episode_length`
of whole games; `terminated` vs `truncated`.

How the vector env is configured for our protocol (ale-py 0.12.1):
  * `stack_num=1`, 84x84 grayscale, `frameskip=4`, `maxpool=True`: one
    frame per step, the max over the last two of four frames, resized with
    OpenCV INTER_AREA; the learner stacks frames.
  * `noop_max=noop_max + 1`: the C++ env draws U{0..noop_max-1} no-ops,
    ours is U{0..noop_max}.
  * `reward_clipping=False` (raw rewards), `use_fire_reset=False`,
    `episodic_life=False`, `life_loss_info=False`: life losses are read
    from `info['lives']` here, exactly as atari.py does.
  * `autoreset_mode=SAME_STEP`: an env whose game is over is reset within
    the same step, so the returned observation is already the reset one
    (EnvBatch's contract; NEXT_STEP would spend the next step, and its
    action, on the reset).
  * The frame cap is ours: the C++ env counts frames after the no-ops, our
    protocol counts them from `reset_game` (no-ops included). Its own cap is
    set out of reach; we count `episode_frames` (the no-ops are
    `info['episode_frame_number']` after a reset), report `truncated` when a
    step reaches `max_episode_frames`, and reset those envs with a partial
    `reset(options={'reset_mask': ...})`.
  * Seeds: the first `reset()` seeds env i with seed + i (ALE's
    `random_seed` and the no-op generator); later resets continue the same
    streams, as `Atari.reset()` does.
  * Threads: `num_threads` (0: one per env, at most the CPUs this process may
    run on; with several actor processes on one machine, a smaller value
    avoids oversubscription); the batch is stepped synchronously
    (`batch_size=num_envs`), and stepping releases the GIL.

Compared with an `EnvBatch` of `atari.Atari` on the same seed and actions
(tests/envs/test_atari_vector.py), observations, rewards, terminated,
truncated and episode returns/lengths are bit-identical: atari.py draws its
no-ops, seeds ALE and resizes exactly as the C++ env does. One difference
remains, at the frame cap only: the C++ env cannot stop inside a step, so the
step that reaches `max_episode_frames` plays all 4 frames (atari.py stops at
the cap, after 1 to 4). That step's reward can then include up to 3 more
frames (a game that ends within them is reported `terminated`, not
`truncated`), and with sticky actions the extra frames advance ALE's RNG, so
that env's later episodes are different (equally valid) samples. With the
default 108k-frame cap this concerns at most 3 frames per 108,000.

Cost: the emulator dominates both (about 420 us of CPU per 4-frame step, on
the machine where this was measured), so on ONE core the vector batch is about
as fast as the Python loop (random play, 16 envs, `taskset -c 0`: 1.06-1.18x
the atari.py batch); the gain is the worker threads. Start-up loads each ROM
twice (the C++ constructor, then the seeded first reset, the latter in the
threads): about 0.3 s per env on one core, against 0.15 s for atari.py.
"""

import os

import numpy as np
from ale_py import vector_env

from seed_stac.envs import atari
from seed_stac.envs import base
from seed_stac.envs import batch as batch_lib
from seed_stac.envs import checks

# The C++ env's own frame cap, out of reach: ours truncates first (a step
# plays at most 4 frames past it) and resets the env.
_VECTOR_FRAME_CAP = 2**30


def default_num_threads(batch_size: int) -> int:
  """One thread per env, at most the CPUs this process may run on."""
  try:
    cpus = len(os.sched_getaffinity(0))
  except AttributeError:  # Not on Linux.
    cpus = os.cpu_count() or 1
  return max(1, min(batch_size, cpus))


def check_batch_options(vector=True, num_threads=0) -> None:
  """ValueError for bad batch-only options (see `make_env_batch`)."""
  if not isinstance(vector, (bool, np.bool_)):
    raise ValueError(f'Atari option vector must be True or False, got {vector!r}')
  checks.check_int('Atari option num_threads (0: automatic)', num_threads, 0)


def make_env_batch(name: str,
                   seed: int,
                   batch_size: int,
                   *,
                   vector: bool = True,
                   num_threads: int = 0,
                   **options):
  """`batch_size` Atari games, env i seeded with seed + i.

  Batch options (create_environment accepts and ignores them):
    vector: True (default): one `AtariVectorBatch`; False: an `EnvBatch` of
      per-game `atari.Atari` adapters.
    num_threads: the vector env's worker threads; 0: `default_num_threads`.
  **options: `atari.Atari`'s keyword options.
  """
  check_batch_options(vector, num_threads)
  if not vector:
    return batch_lib.EnvBatch(
        [atari.Atari(name, seed=seed + i, **options) for i in range(batch_size)])
  return AtariVectorBatch(name, seed, batch_size, num_threads=num_threads, **options)


class AtariVectorBatch:
  """E Atari games in one `AtariVectorEnv`, with `EnvBatch`'s interface.

  `spec`, `len()`, `reset()`, `step(actions)` and `close()` behave as in
  `EnvBatch` of `atari.Atari(name, seed + i, **options)`, i in [0, E).
  """

  def __init__(self,
               name: str,
               seed: int = 0,
               batch_size: int = 1,
               *,
               num_threads: int = 0,
               noop_max: int = 30,
               max_episode_frames: int = 108_000,
               full_action_space: bool = False,
               repeat_action_probability: float = 0.0,
               terminal_on_life_loss: bool = False):
    game = atari.game_name(name)
    size = checks.check_int('batch_size', batch_size, 1)
    self._seed = atari.check_seeds(seed, size)
    noop_max, max_episode_frames, repeat_action_probability = (atari.check_protocol_options(
        noop_max, max_episode_frames, repeat_action_probability))
    num_threads = checks.check_int('num_threads (0: automatic)', num_threads, 0)
    # The C++ env also caps it at std::thread::hardware_concurrency().
    self.num_threads = min(num_threads or default_num_threads(size), os.cpu_count() or 1)
    self._env = vector_env.AtariVectorEnv(atari.rom_id(game),
                                          size,
                                          num_threads=self.num_threads,
                                          max_num_frames_per_episode=_VECTOR_FRAME_CAP,
                                          repeat_action_probability=repeat_action_probability,
                                          full_action_space=bool(full_action_space),
                                          autoreset_mode='SameStep',
                                          img_height=atari.OBSERVATION_SHAPE[0],
                                          img_width=atari.OBSERVATION_SHAPE[1],
                                          grayscale=True,
                                          stack_num=1,
                                          frameskip=atari.ACTION_REPEAT,
                                          maxpool=True,
                                          noop_max=noop_max + 1,
                                          episodic_life=False,
                                          life_loss_info=False,
                                          reward_clipping=False,
                                          use_fire_reset=False)
    self._size = size
    num_actions = int(self._env.single_action_space.n)
    self._max_episode_frames = max_episode_frames
    self._terminal_on_life_loss = bool(terminal_on_life_loss)
    self.spec = base.EnvSpec(name=game,
                             observation_shape=atari.OBSERVATION_SHAPE,
                             observation_dtype='uint8',
                             action=base.ActionSpec(kind='discrete', num_actions=num_actions),
                             frame_stack=atari.FRAME_STACK,
                             frames_per_step=atari.ACTION_REPEAT)
    self._seeded = False
    self._started = False
    self._frames = np.zeros(size, np.int64)  # emulator frames, no-ops included
    self._lives = np.zeros(size, np.int32)
    self._returns = np.zeros(size, np.float64)
    self._lengths = np.zeros(size, np.int64)

  def __len__(self) -> int:
    return self._size

  @property
  def episode_frames(self) -> np.ndarray:
    """[E] emulator frames played in each env's episode, no-ops included."""
    return self._frames.copy()

  def reset(self) -> np.ndarray:
    """Resets every env; returns observations [E, 84, 84, 1]."""
    self._check_open()
    if self._seeded:  # Later resets continue each env's RNG streams.
      observation, info = self._env.reset()
    else:
      observation, info = self._env.reset(seed=self._seed)
      self._seeded = True
    self._frames[:] = info['episode_frame_number']
    self._lives[:] = info['lives']
    self._returns[:] = 0.0
    self._lengths[:] = 0
    self._started = True
    return self._frames_last(observation)

  def step(self, actions) -> batch_lib.BatchStep:
    """actions: [E] integers in [0, num_actions)."""
    self._check_open()
    if not self._started:
      raise RuntimeError('EnvBatch.step() called before reset()')
    actions = checks.action_batch(actions, self.spec.action, self._size, self.spec.name)
    observation, reward, terminated, truncated, info = self._env.step(actions)
    if truncated.any():
      raise RuntimeError('AtariVectorEnv truncated an episode by its own cap')
    frames = np.where(terminated, info['episode_frame_number'], self._frames + atari.ACTION_REPEAT)
    lives = info['lives']
    truncated = ~terminated & (frames >= self._max_episode_frames)
    if truncated.any():
      reset_observation, reset_info = self._env.reset(options={'reset_mask': truncated})
      observation[truncated] = reset_observation[truncated]
      frames[truncated] = reset_info['episode_frame_number'][truncated]
      lives[truncated] = reset_info['lives'][truncated]
    ended = terminated | truncated
    life_lost = np.zeros_like(ended)
    if self._terminal_on_life_loss:
      life_lost = ~ended & (lives < self._lives)
    self._frames[:] = frames
    self._lives[:] = lives
    reward = reward.astype(np.float32)
    self._returns += reward
    self._lengths += 1
    episode_return = np.where(ended, self._returns, np.nan).astype(np.float32)
    episode_length = np.where(ended, self._lengths, 0).astype(np.int32)
    self._returns[ended] = 0.0
    self._lengths[ended] = 0
    return batch_lib.BatchStep(observation=self._frames_last(observation),
                               reward=reward,
                               terminated=terminated | life_lost,
                               truncated=truncated,
                               episode_return=episode_return,
                               episode_length=episode_length)

  def close(self) -> None:
    """Stops the worker threads (the C++ env is freed with its last reference)."""
    if self._env is not None:
      self._env.close()
      self._env = None

  def _check_open(self) -> None:
    if self._env is None:
      raise RuntimeError(f'{self.spec.name}: AtariVectorBatch used after close()')

  @staticmethod
  def _frames_last(observation: np.ndarray) -> np.ndarray:
    """[E, stack_num=1, 84, 84] -> [E, 84, 84, 1] (same memory order)."""
    return observation.reshape((observation.shape[0],) + atari.OBSERVATION_SHAPE)
