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


def _per_env(dtype):
  """A [E] field of a step; its dtype is the one the wire and the learner use."""
  return dataclasses.field(metadata={'dtype': np.dtype(dtype)})


@dataclasses.dataclass
class BatchStep:
  """Outcome of one `EnvBatch.step`; E = batch size. The one declaration of
  a step's fields: the actor's request (`rpc.codec.StepMessage`) extends it
  with its address, and the codec and the server's size limit read the
  per-env fields and dtypes from `per_env_fields`.

  observation: [E, *observation_shape] of the spec's dtype; the next
    episode's first observation where terminated | truncated.
  reward: [E] float32, raw.
  terminated, truncated: [E] bool.
  episode_return: [E] float32, raw return of the episode that ended at this
    step, NaN where none ended. A learning-only end (`Step.game_continues`,
    an Atari life loss) is not an episode end here: scores count whole games.
  episode_length: [E] int32, agent steps of the episode that ended at this
    step, 0 where none ended.
  """
  observation: np.ndarray
  reward: np.ndarray = _per_env(np.float32)
  terminated: np.ndarray = _per_env(np.bool_)
  truncated: np.ndarray = _per_env(np.bool_)
  episode_return: np.ndarray = _per_env(np.float32)
  episode_length: np.ndarray = _per_env(np.int32)

  @classmethod
  def first(cls, observation: np.ndarray) -> 'BatchStep':
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
    reward = np.zeros(size, np.float32)
    terminated = np.zeros(size, bool)
    truncated = np.zeros(size, bool)
    episode_return = np.full(size, np.nan, np.float32)
    episode_length = np.zeros(size, np.int32)
    for i, env in enumerate(self._envs):
      step = env.step(actions[i])
      reward[i] = step.reward
      terminated[i] = step.terminated
      truncated[i] = step.truncated
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
                     reward=reward,
                     terminated=terminated,
                     truncated=truncated,
                     episode_return=episode_return,
                     episode_length=episode_length)

  def close(self) -> None:
    for env in self._envs:
      env.close()

  def _stack(self, observations) -> np.ndarray:
    return np.stack(observations).astype(self._spec.observation_dtype, copy=False)
