"""A user's `dm_env.Environment` from a factory: `env.kind='dm_env'`,
`env.name='module:function'`.

  --config=configs/dm_env.py:mypkg.envs:make_env[,agent]

The factory is called as `function(**make_kwargs)`, plus `seed=seed` when it
takes a `seed` argument, and must return a `dm_env.Environment`. Specs:
  * actions: `DiscreteArray` -> discrete; a float `BoundedArray` ->
    continuous, clipped to its bounds;
  * observations: one uint8 array of rank 3 stays a uint8 image frame (stacked
    `frame_stack` deep, default 4); anything else (an array or a dict of
    arrays) is flattened to float32 features.
A LAST step with discount 0 is `terminated`, any other LAST step `truncated`.
"""

import importlib
import inspect
from typing import Optional

import dm_env
from dm_env import specs
import numpy as np

from seed_stac.envs import base
from seed_stac.envs import checks
from seed_stac.envs import dm_env_adapter

SUPPORTED = ('actions: DiscreteArray or a float BoundedArray; observations: arrays '
             '(a dict of them is flattened)')


def load_factory(name: str):
  """'module:function' -> the function; ValueError/ImportError naming it."""
  module_name, sep, function_name = name.partition(':')
  if not sep or not module_name or not function_name:
    raise ValueError(f"dm_env environment name must be 'module:function', got {name!r}")
  module = importlib.import_module(module_name)
  factory = getattr(module, function_name, None)
  if not callable(factory):
    raise ValueError(f'{name!r}: {module_name} has no function {function_name!r}')
  return factory


def _action_spec(spec) -> base.ActionSpec:
  if isinstance(spec, specs.DiscreteArray):
    return base.ActionSpec(kind='discrete', num_actions=int(spec.num_values))
  if isinstance(spec, specs.BoundedArray) and np.issubdtype(spec.dtype, np.floating):
    return dm_env_adapter.continuous_action_spec(spec)
  raise ValueError(f'unsupported action spec {spec!r}; supported: {SUPPORTED}')


def make_dm_env(name: str,
                seed: int = 0,
                make_kwargs: Optional[dict] = None,
                action_repeat: int = 1,
                frame_stack: Optional[int] = None) -> dm_env_adapter.DmEnvAdapter:
  """Builds the factory's environment behind our adapter."""
  seed = checks.check_seed(seed)
  factory = load_factory(name)
  kwargs = dict(make_kwargs or {})
  if 'seed' in inspect.signature(factory).parameters:
    kwargs['seed'] = seed
  env = factory(**kwargs)
  if not isinstance(env, dm_env.Environment):
    raise ValueError(f'{name!r} returned {type(env).__name__}, not a dm_env.Environment')
  action = _action_spec(env.action_spec())
  observation_spec = env.observation_spec()
  image = (isinstance(observation_spec, specs.Array) and observation_spec.dtype == np.uint8
           and len(observation_spec.shape) == 3)
  if image:
    shape, dtype = tuple(observation_spec.shape), 'uint8'
    observe = lambda timestep: np.asarray(timestep.observation, np.uint8)
  else:
    parts = (observation_spec.values()
             if isinstance(observation_spec, dict) else [observation_spec])
    if not all(isinstance(p, specs.Array) for p in parts):
      raise ValueError(f'unsupported observation spec {observation_spec!r}; supported: {SUPPORTED}')
    shape, dtype = (sum(int(np.prod(p.shape)) for p in parts),), 'float32'
    observe = lambda timestep: dm_env_adapter.flatten_observation(timestep.observation)
  if frame_stack is None:
    frame_stack = 4 if image else 1
  spec = base.EnvSpec(name=name,
                      observation_shape=shape,
                      observation_dtype=dtype,
                      action=action,
                      frame_stack=checks.check_int('frame_stack', frame_stack, 1),
                      frames_per_step=checks.check_int('action_repeat', action_repeat, 1))
  return dm_env_adapter.DmEnvAdapter(env, spec, observe, action_repeat=action_repeat)
