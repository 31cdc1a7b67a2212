"""Environment adapters and the factory actors use to build them.

  env = create_environment('atari', 'Pong', seed=0,
                           repeat_action_probability=0.25)
  batch = create_env_batch('dmc', 'cartpole-swingup', seed=0, batch_size=8,
                           mode='pixels')

Adapter modules are imported only when their kind is built, so importing this
package does not pull in ALE, dm_control or an OpenGL backend.
"""

import importlib
import inspect
from typing import Callable, Dict, NamedTuple, Optional, Tuple

from seed_stac.envs import checks
from seed_stac.envs.base import ActionSpec, EnvSpec, Environment, Step  # pylint: disable=g-multiple-import
from seed_stac.envs.batch import BatchStep, EnvBatch  # pylint: disable=g-multiple-import


class _Kind(NamedTuple):
  module: str
  factory: str
  # Kinds with one fixed environment take no `name` argument; the factory
  # only checks the name against these.
  fixed_names: Optional[Tuple[str, ...]] = None


_KINDS: Dict[str, _Kind] = {
    'atari': _Kind('seed_stac.envs.atari', 'Atari'),
    'dmc': _Kind('seed_stac.envs.dmc', 'make_dmc'),
    'rwrl': _Kind('seed_stac.envs.rwrl', 'make_rwrl'),
    'cartpole': _Kind('seed_stac.envs.cartpole', 'CartPole', ('CartPole-v1',)),
    'catch': _Kind('seed_stac.envs.catch', 'Catch', ('catch',)),
    'minatar': _Kind('seed_stac.envs.minatar', 'MinAtar'),
    'gym': _Kind('seed_stac.envs.gym', 'GymEnvironment'),
    'dm_env': _Kind('seed_stac.envs.dm_env_factory', 'make_dm_env'),
}
KINDS = tuple(_KINDS)


def _factory(kind: str) -> Callable[..., Environment]:
  checks.check_choice('environment kind', kind, KINDS)
  spec = _KINDS[kind]
  return getattr(importlib.import_module(spec.module), spec.factory)


def valid_options(kind: str) -> Tuple[str, ...]:
  """The keyword options `create_environment` accepts for `kind`."""
  parameters = inspect.signature(_factory(kind)).parameters
  return tuple(p for p in parameters if p not in ('name', 'seed'))


def create_environment(kind: str, name: str, seed: int,
                       **options) -> Environment:
  """Builds one environment.

  Args:
    kind: one of KINDS: 'atari', 'dmc', 'rwrl', 'cartpole', 'catch', 'minatar'.
    name: e.g. 'Pong' (atari), 'cartpole-swingup' (dmc),
      'walker-realworld_walk' (rwrl), 'CartPole-v1' (cartpole), 'catch',
      'Breakout' (minatar).
    seed: non-negative int; the same seed gives the same episodes (up to
      simulator nondeterminism, none for the built-in kinds).
    **options: kind-specific keyword options, see `valid_options(kind)`.

  Raises:
    ValueError: unknown kind, name or option (the message lists valid ones).
  """
  factory = _factory(kind)
  allowed = valid_options(kind)
  unknown = sorted(set(options) - set(allowed))
  if unknown:
    raise ValueError(
        f'unknown option(s) {unknown} for environment kind {kind!r}; valid '
        f'options: {sorted(allowed)}')
  fixed_names = _KINDS[kind].fixed_names
  if fixed_names is not None:
    checks.check_choice(f'{kind} environment name', name, fixed_names)
    return factory(seed=seed, **options)
  return factory(name=name, seed=seed, **options)


def create_env_batch(kind: str, name: str, seed: int, batch_size: int,
                     **options) -> EnvBatch:
  """`batch_size` environments of one kind; env i is seeded with seed + i."""
  batch_size = checks.check_int('batch_size', batch_size, 1)
  seed = checks.check_seed(seed)
  return EnvBatch([
      create_environment(kind, name, seed + i, **options)
      for i in range(batch_size)
  ])


__all__ = [
    'ActionSpec', 'BatchStep', 'EnvBatch', 'EnvSpec', 'Environment', 'KINDS',
    'Step', 'create_env_batch', 'create_environment', 'valid_options',
]
