"""A batch of same-spec environments stepped together by one actor.

`EnvBatch.step` auto-resets: where an episode ends, the returned observation
is already the FIRST observation of that env's next episode, and the ended
episode's raw return and length are reported in the same `BatchStep`. (The
final observation of the ended episode is not returned: SEED-RL-style
learners do not bootstrap from it.)
"""

import dataclasses
from typing import Sequence

import numpy as np

from seed_stac.envs import base
from seed_stac.envs import checks


def _per_env(dtype, default=dataclasses.MISSING):
  """A [E] field of a step; its dtype is the one the wire and the learner use."""
  return dataclasses.field(default=default, metadata={'dtype': np.dtype(dtype)})


class _BatchStepMethods:
  """The methods of `BatchStep` (its fields are made from `base.Step`'s)."""

  def __post_init__(self):
    # A reported field with a default may be left out by a batch producer
    # that has no such value (e.g. the Atari vector env).
    num_envs = len(self.observation)
    for name, dtype, default in base.reported_fields():
      if getattr(self, name) is None:
        setattr(self, name, np.full(num_envs, default, dtype))

  @classmethod
  def first(cls, observation: np.ndarray):
    """The step that reports reset observations: reward 0, no episode ended."""
    num_envs = len(observation)
    per_env = {name: np.zeros(num_envs, dtype) for name, dtype in cls.per_env_fields()}
    per_env['episode_return'] = np.full(num_envs, np.nan, np.float32)
    return cls(observation=observation, **per_env)

  @classmethod
  def per_env_fields(cls):
    """((name, dtype), ...) of the [E] fields, in declaration order."""
    return tuple((f.name, f.metadata['dtype'])
                 for f in dataclasses.fields(BatchStep)
                 if 'dtype' in f.metadata)

  def fields(self) -> dict:
    """{name: array} of this step's own fields (no copies)."""
    return {f.name: getattr(self, f.name) for f in dataclasses.fields(BatchStep)}


def _reported_field(dtype, default):
  return _per_env(dtype, None if default is not dataclasses.MISSING else dataclasses.MISSING)


BatchStep = dataclasses.make_dataclass('BatchStep', [('observation', np.ndarray)]
                                       + [(name, np.ndarray, _reported_field(dtype, default))
                                          for name, dtype, default in base.reported_fields()]
                                       + [('episode_return', np.ndarray, _per_env(np.float32)),
                                          ('episode_length', np.ndarray, _per_env(np.int32))],
                                       bases=(_BatchStepMethods,),
                                       kw_only=True,
                                       namespace={'__module__': __name__})
BatchStep.__doc__ = """Outcome of one `EnvBatch.step`; E = batch size. Its
  fields are made from `base.Step`'s reported ones, so that a field declared
  there reaches the wire and the learner; the actor's request
  (`rpc.codec.StepMessage`) extends it with its address, and the codec and
  the server's size limit read the per-env fields and dtypes from
  `per_env_fields`. Keyword arguments only.

  observation: [E, *observation_shape] of the spec's dtype; the next
    episode's first observation where terminated | truncated.
  reward: [E] float32, raw.
  terminated, truncated: [E] bool.
  (and any other `base.Step` reported field: [E] of its dtype.)
  episode_return: [E] float32, raw return of the episode that ended at this
    step, NaN where none ended. A learning-only end (`Step.game_continues`,
    an Atari life loss) is not an episode end here: scores count whole games.
  episode_length: [E] int32, agent steps of the episode that ended at this
    step, 0 where none ended.
  """


class EnvBatch:
  """Steps E environments with identical `EnvSpec`s in lockstep."""

  def __init__(self, envs: Sequence[base.Environment]):
    envs = list(envs)
    if not envs:
      raise ValueError('EnvBatch needs at least one environment')
    spec = envs[0].spec
    for i, env in enumerate(envs[1:], start=1):
      if env.spec != spec:
        raise ValueError(f'EnvBatch environments must share one spec; env {i} has '
                         f'{env.spec}, env 0 has {spec}')
    self._envs = envs
    self._spec = spec
    size = len(envs)
    self._returns = np.zeros(size, np.float64)
    self._lengths = np.zeros(size, np.int64)
    self._started = False

  @property
  def spec(self) -> base.EnvSpec:
    return self._spec

  @property
  def envs(self) -> Sequence[base.Environment]:
    return tuple(self._envs)

  def __len__(self) -> int:
    return len(self._envs)

  def reset(self) -> np.ndarray:
    """Resets every env; returns observations [E, *observation_shape]."""
    self._returns[:] = 0.0
    self._lengths[:] = 0
    self._started = True
    return self._stack([env.reset() for env in self._envs])

  def step(self, actions) -> BatchStep:
    """actions: [E] integer (discrete) or [E, *action_shape] float
    (continuous)."""
    if not self._started:
      raise RuntimeError('EnvBatch.step() called before reset()')
    actions = checks.action_batch(actions, self._spec.action, len(self._envs), self._spec.name)
    size = len(self._envs)
    observations = []
    reported = {name: np.zeros(size, dtype) for name, dtype, _ in base.reported_fields()}
    episode_return = np.full(size, np.nan, np.float32)
    episode_length = np.zeros(size, np.int32)
    for i, env in enumerate(self._envs):
      step = env.step(actions[i])
      for name, values in reported.items():
        values[i] = getattr(step, name)
      self._returns[i] += step.reward
      self._lengths[i] += 1
      observation = step.observation
      if step.terminated or step.truncated:
        if not step.game_continues:
          episode_return[i] = self._returns[i]
          episode_length[i] = self._lengths[i]
          self._returns[i] = 0.0
          self._lengths[i] = 0
        observation = env.reset()
      observations.append(observation)
    return BatchStep(observation=self._stack(observations),
                     episode_return=episode_return,
                     episode_length=episode_length,
                     **reported)

  def close(self) -> None:
    for env in self._envs:
      env.close()

  def _stack(self, observations) -> np.ndarray:
    return np.stack(observations).astype(self._spec.observation_dtype, copy=False)
