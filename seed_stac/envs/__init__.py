"""Environment adapters and the factory actors use to build them.

  env = create_environment('atari', 'Pong', seed=0,
                           repeat_action_probability=0.25)
  batch = create_env_batch('dmc', 'cartpole-swingup', seed=0, batch_size=8,
                           mode='pixels')

Adapter modules are imported only when their kind is built, so importing this
package does not pull in ALE, dm_control or an OpenGL backend.

Atari batches run on ale_py's C++ AtariVectorEnv (`envs/atari_vector.py`);
the batch option `vector=False` builds per-game adapters instead.
"""

import importlib
import inspect
from typing import Callable, Dict, NamedTuple, Optional, Tuple

from seed_stac.envs import checks
from seed_stac.envs.base import (  # pylint: disable=g-multiple-import
    ActionSpec, EnvSpec, Environment, Step)
from seed_stac.envs.batch import BatchStep, EnvBatch  # pylint: disable=g-multiple-import


class _Kind(NamedTuple):
  module: str
  factory: str
  # Kinds with one fixed environment take no `name` argument; the factory
  # only checks the name against these.
  fixed_names: Optional[Tuple[str, ...]] = None
  # Kinds with their own batch builder: a module with
  # `make_env_batch(name, seed, batch_size, *, <batch options>, **options)`
  # and `check_batch_options(**batch_options)`. Its keyword-only parameters
  # are options for batches only; `create_environment` checks and ignores them.
  batch_module: Optional[str] = None


_KINDS: Dict[str, _Kind] = {
    'atari': _Kind('seed_stac.envs.atari', 'Atari', batch_module='seed_stac.envs.atari_vector'),
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
  """The environment adapter's keyword options for `kind`.

  `create_environment` and `create_env_batch` also accept
  `batch_options(kind)`.
  """
  parameters = inspect.signature(_factory(kind)).parameters
  return tuple(p for p in parameters if p not in ('name', 'seed'))


def _batch_module(kind: str):
  checks.check_choice('environment kind', kind, KINDS)
  module = _KINDS[kind].batch_module
  return None if module is None else importlib.import_module(module)


def batch_options(kind: str) -> Tuple[str, ...]:
  """Options that only batches use, e.g. ('vector', 'num_threads') for atari.

  `create_environment` accepts them too (the learner and `evaluate` build
  single environments from the same options), checks and ignores them.
  """
  module = _batch_module(kind)
  if module is None:
    return ()
  parameters = inspect.signature(module.make_env_batch).parameters.values()
  return tuple(p.name for p in parameters if p.kind == p.KEYWORD_ONLY)


def _split_options(kind: str, options: dict) -> Tuple[dict, dict]:
  """(adapter options, batch options); ValueError naming unknown ones."""
  allowed, batch_only = valid_options(kind), batch_options(kind)
  unknown = sorted(set(options) - set(allowed) - set(batch_only))
  if unknown:
    raise ValueError(f'unknown option(s) {unknown} for environment kind {kind!r}; valid '
                     f'options: {sorted(allowed + batch_only)}')
  batch = {k: v for k, v in options.items() if k in batch_only}
  return {k: v for k, v in options.items() if k not in batch_only}, batch


def create_environment(kind: str, name: str, seed: int, **options) -> Environment:
  """Builds one environment.

  Args:
    kind: one of KINDS: 'atari', 'dmc', 'rwrl', 'cartpole', 'catch', 'minatar'.
    name: e.g. 'Pong' (atari), 'cartpole-swingup' (dmc),
      'walker-realworld_walk' (rwrl), 'CartPole-v1' (cartpole), 'catch',
      'Breakout' (minatar).
    seed: non-negative int; the same seed gives the same episodes (up to
      simulator nondeterminism, none for the built-in kinds).
    **options: kind-specific keyword options, see `valid_options(kind)`;
      `batch_options(kind)` are accepted, checked and ignored.

  Raises:
    ValueError: unknown kind, name or option (the message lists valid ones).
  """
  factory = _factory(kind)
  options, batch = _split_options(kind, options)
  if batch:
    _batch_module(kind).check_batch_options(**batch)
  fixed_names = _KINDS[kind].fixed_names
  if fixed_names is not None:
    checks.check_choice(f'{kind} environment name', name, fixed_names)
    return factory(seed=seed, **options)
  return factory(name=name, seed=seed, **options)


def create_env_batch(kind: str, name: str, seed: int, batch_size: int, **options) -> EnvBatch:
  """`batch_size` environments of one kind; env i is seeded with seed + i.

  Returns an `EnvBatch`, or for kind 'atari' (unless `vector=False`) an
  `atari_vector.AtariVectorBatch`, which has the same interface and results.
  `options` may include `batch_options(kind)`.
  """
  batch_size = checks.check_int('batch_size', batch_size, 1)
  seed = checks.check_seed(seed)
  module = _batch_module(kind)
  if module is not None:
    adapter_options, batch = _split_options(kind, options)
    return module.make_env_batch(name, seed, batch_size, **batch, **adapter_options)
  return EnvBatch([create_environment(kind, name, seed + i, **options) for i in range(batch_size)])


__all__ = [
    'ActionSpec',
    'BatchStep',
    'EnvBatch',
    'EnvSpec',
    'Environment',
    'KINDS',
    'Step',
    'batch_options',
    'create_env_batch',
    'create_environment',
    'valid_options',
]
