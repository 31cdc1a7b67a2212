"""Any Gymnasium environment by id: `env.kind='gym'`, `env.name=ID`.

  --config=configs/gym.py:Acrobot-v1
  --config.env.name=mypkg/MyEnv-v0 --config.env.options.import_module=mypkg

Spaces we map (anything else fails at start, naming the space):
  * actions: `Discrete(n, start)` -> n discrete actions (index + start is sent
    to the env); `Box` -> continuous actions of its shape, clipped to its
    bounds as every continuous adapter does.
  * observations: `Box`; uint8 boxes (images, e.g. (H, W, C)) stay uint8
    frames for the conv torsos, every other dtype becomes float32.

`terminated` and `truncated` are Gymnasium's own (a registered
`max_episode_steps` is a truncation). `import_module` names modules to import
first (comma-separated) so that a user's package registers its environments
in every actor process too; `make_kwargs` are passed to `gymnasium.make`;
`frame_stack` is how many frames the learner stacks (default 4 for images, 1
otherwise).
"""

import importlib
from typing import Optional

import gymnasium
from gymnasium import spaces
import numpy as np

from seed_stac.envs import base
from seed_stac.envs import checks

SUPPORTED = ('actions: Discrete, Box; observations: Box')

# Id prefixes whose environments a package registers on import.
_REGISTERING_PACKAGES = {'ALE/': 'ale_py'}


def import_modules(import_module: str, name: str = '') -> None:
  """Imports each comma-separated module (a user's package registering its
  environments), and the package registering `name`'s prefix (ALE/ ->
  ale_py); a clear ImportError naming the option otherwise."""
  modules = [m.strip() for m in import_module.split(',')]
  modules += [
      package for prefix, package in _REGISTERING_PACKAGES.items() if name.startswith(prefix)
  ]
  for module in filter(None, modules):
    try:
      importlib.import_module(module)
    except ImportError as e:
      raise ImportError(f"env.options.import_module: cannot import {module!r}: {e}") from e


def _action_spec(space) -> base.ActionSpec:
  if isinstance(space, spaces.Discrete):
    return base.ActionSpec(kind='discrete', num_actions=int(space.n))
  if isinstance(space, spaces.Box):
    low = np.broadcast_to(space.low, space.shape).astype(np.float32).reshape(-1)
    high = np.broadcast_to(space.high, space.shape).astype(np.float32).reshape(-1)
    return base.ActionSpec(kind='continuous',
                           shape=tuple(int(d) for d in space.shape),
                           minimum=tuple(float(v) for v in low),
                           maximum=tuple(float(v) for v in high))
  raise ValueError(f'unsupported action space {space!r}; supported: {SUPPORTED}')


def _observation_dtype(space) -> str:
  if not isinstance(space, spaces.Box):
    raise ValueError(f'unsupported observation space {space!r}; supported: {SUPPORTED}')
  return 'uint8' if space.dtype == np.uint8 else 'float32'


class GymEnvironment(base.Environment):
  """One `gymnasium.make(name, **make_kwargs)` environment; `seed` seeds its
  first reset (later resets continue its random stream)."""

  def __init__(self,
               name: str,
               seed: int = 0,
               import_module: str = '',
               make_kwargs: Optional[dict] = None,
               frame_stack: Optional[int] = None):
    seed = checks.check_seed(seed)
    import_modules(import_module, name)
    try:
      self._env = gymnasium.make(name, **dict(make_kwargs or {}))
    except gymnasium.error.Error as e:
      hint = ('' if import_module else
              ' (a custom environment? name its package in env.options.import_module)')
      raise ValueError(f'gymnasium cannot make {name!r}: {e}{hint}') from e
    try:
      action = _action_spec(self._env.action_space)
      dtype = _observation_dtype(self._env.observation_space)
    except ValueError:
      self._env.close()
      raise
    self._start = int(getattr(self._env.action_space, 'start', 0))
    self._seed: Optional[int] = seed
    self._done = True
    shape = tuple(int(d) for d in self._env.observation_space.shape)
    if frame_stack is None:  # images: the last 4 frames, as Atari; vectors: 1
      frame_stack = 4 if dtype == 'uint8' and len(shape) == 3 else 1
    self.spec = base.EnvSpec(name=name,
                             observation_shape=shape,
                             observation_dtype=dtype,
                             action=action,
                             frame_stack=checks.check_int('frame_stack', frame_stack, 1))

  def reset(self) -> np.ndarray:
    observation, _ = self._env.reset(seed=self._seed)
    self._seed = None
    self._done = False
    return self._observe(observation)

  def step(self, action) -> base.Step:
    if self._done:
      raise checks.episode_over_error(self.spec.name)
    if self.spec.action.kind == 'discrete':
      action = checks.discrete_action(action, self.spec.action.num_actions) + self._start
    else:
      action = checks.continuous_action(action, self.spec.action)
    observation, reward, terminated, truncated, _ = self._env.step(action)
    self._done = bool(terminated or truncated)
    return base.Step(observation=self._observe(observation),
                     reward=float(reward),
                     terminated=bool(terminated),
                     truncated=bool(truncated))

  def close(self) -> None:
    self._env.close()

  def _observe(self, observation) -> np.ndarray:
    return np.asarray(observation,
                      dtype=self.spec.observation_dtype).reshape(self.spec.observation_shape)
