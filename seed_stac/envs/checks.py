"""Input checks shared by the environment adapters.

Each returns the cleaned value or raises an error that names what is wrong, so
a bad action or seed fails at the adapter boundary instead of deep inside a
simulator (ALE silently wraps out-of-range actions, MuJoCo accepts NaNs).
"""

import numbers
from typing import Iterable, Tuple

import numpy as np

from seed_stac.envs import base


def check_seed(seed) -> int:
  """Returns `seed` as a Python int; it must be a non-negative integer."""
  if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
    raise ValueError(f'seed must be a non-negative integer, got {seed!r}')
  if seed < 0:
    raise ValueError(f'seed must be a non-negative integer, got {seed}')
  return int(seed)


def check_int(what: str, value, minimum: int) -> int:
  """Returns `value` as an int; ValueError unless an integer >= minimum."""
  if isinstance(value,
                (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < minimum:
    raise ValueError(f'{what} must be an integer >= {minimum}, got {value!r}')
  return int(value)


def discrete_action(action, num_actions: int) -> int:
  """Returns `action` as a Python int in [0, num_actions).

  Accepts Python/NumPy integers and 0-d integer arrays; floats are refused
  because a float action almost always means a policy-head bug.
  """
  value = np.asarray(action)
  if value.shape != () or not np.issubdtype(value.dtype, np.integer):
    raise ValueError(f'discrete action must be a scalar integer in [0, {num_actions}), '
                     f'got {action!r} (dtype {value.dtype}, shape {value.shape})')
  value = int(value)
  if not 0 <= value < num_actions:
    raise ValueError(f'discrete action must be in [0, {num_actions}), got {value}')
  return value


def continuous_action(action, spec: base.ActionSpec) -> np.ndarray:
  """Returns `action` as float32 of `spec.shape`, clipped to the bounds.

  Raises ValueError on a wrong shape or a non-finite value (NaN/inf would
  otherwise propagate silently through the physics).
  """
  value = np.asarray(action, dtype=np.float32)
  if value.shape != tuple(spec.shape):
    raise ValueError(f'continuous action must have shape {tuple(spec.shape)}, '
                     f'got shape {value.shape}')
  if not np.all(np.isfinite(value)):
    raise ValueError(f'continuous action must be finite, got {value}')
  low = np.asarray(spec.minimum, np.float32).reshape(spec.shape)
  high = np.asarray(spec.maximum, np.float32).reshape(spec.shape)
  return np.clip(value, low, high)


def action_batch(actions, spec: base.ActionSpec, size: int, name: str) -> np.ndarray:
  """Returns one batch step's actions, all checked before any env steps.

  Discrete: `size` integers in [0, num_actions), returned as int32.
  Continuous: [size, *spec.shape] finite numbers, returned as float32
  (clipping to the bounds is the adapter's job). Checking the whole batch
  first means a bad action at env i leaves envs 0..i-1 unstepped.
  """
  actions = np.asarray(actions)
  if spec.kind == 'discrete':
    expected, ok_dtype = (size,), np.issubdtype(actions.dtype, np.integer)
    dtype_name = 'integer'
  else:
    expected = (size,) + tuple(spec.shape)
    ok_dtype = np.issubdtype(actions.dtype, np.floating) or np.issubdtype(actions.dtype, np.integer)
    dtype_name = 'float'
  if actions.shape != expected or not ok_dtype:
    raise ValueError(f'{name}: EnvBatch.step expects {spec.kind} actions of shape {expected} '
                     f'and {dtype_name} dtype, got shape {actions.shape} and dtype {actions.dtype}')
  if spec.kind == 'continuous':
    actions = actions.astype(np.float32, copy=False)
    bad = ~np.isfinite(actions).reshape(size, -1).all(axis=1)
    if bad.any():
      i = int(np.argmax(bad))
      raise ValueError(f'{name}: continuous action must be finite, got {actions[i]} for env {i}')
    return actions
  bad = (actions < 0) | (actions >= spec.num_actions)
  if bad.any():
    i = int(np.argmax(bad))
    raise ValueError(f'{name}: discrete action must be in [0, {spec.num_actions}), '
                     f'got {actions[i]} for env {i}')
  return actions.astype(np.int32, copy=False)


def check_choice(what: str, value, choices) -> None:
  """Raises ValueError unless `value` is one of `choices`, listing them."""
  if value not in choices:
    raise ValueError(f'unknown {what} {value!r}; valid choices: {sorted(choices)}')


def episode_over_error(name: str) -> RuntimeError:
  """The error for step() before reset() or after the episode ended."""
  return RuntimeError(f'{name}: step() called before reset() or after the episode ended; '
                      'call reset() first (EnvBatch does this automatically)')


def split_task_name(name, tasks: Iterable[Tuple[str, str]], suite: str) -> Tuple[str, str]:
  """'cartpole-swingup' -> ('cartpole', 'swingup') if that (domain, task) pair
  is in `tasks`; else ValueError naming `suite` and listing the valid names."""
  tasks = tuple(tasks)
  if isinstance(name, str) and '-' in name:
    domain, task = name.split('-', 1)
    if (domain, task) in tasks:
      return domain, task
  raise ValueError(f'unknown {suite} task {name!r}; valid names: '
                   f'{", ".join(f"{domain}-{task}" for domain, task in tasks)}')
