"""The one small interface every environment adapter implements.

Actors own environments, the learner owns the model. What crosses between them
is described by an `EnvSpec`: the shape and dtype of ONE observation frame (the
learner keeps the last `frame_stack` of them, frame-major), and the action space.

Conventions shared by all adapters:
  * `reset()` returns the first observation of a new episode.
  * `step(action)` returns a `Step`. `terminated` means the MDP ended (no
    bootstrap); `truncated` means a time limit cut the episode (bootstrap).
    The environment does NOT reset itself; `EnvBatch` does that.
  * Rewards are raw (unclipped); clipping is a learner option.
  * Discrete actions are integers in [0, num_actions); continuous actions are
    float32 arrays of `ActionSpec.shape`, clipped to the bounds by the adapter.
"""

import abc
import dataclasses
import functools
from typing import Any, Optional, Tuple

import numpy as np


@dataclasses.dataclass(frozen=True)
class ActionSpec:
  """Action space. `kind` is 'discrete' or 'continuous'."""
  kind: str
  num_actions: int = 0  # discrete only
  shape: Tuple[int, ...] = ()  # continuous only
  minimum: Optional[Tuple[float, ...]] = None  # continuous only, flat
  maximum: Optional[Tuple[float, ...]] = None  # continuous only, flat

  def __post_init__(self):
    if self.kind not in ('discrete', 'continuous'):
      raise ValueError(f"ActionSpec.kind must be 'discrete' or 'continuous', got {self.kind!r}")
    if self.kind == 'discrete' and self.num_actions < 1:
      raise ValueError('ActionSpec.num_actions must be >= 1 for discrete actions')
    if self.kind == 'continuous' and not self.shape:
      raise ValueError('ActionSpec.shape must be non-empty for continuous actions')

  @property
  def dtype(self) -> np.dtype:
    return np.dtype(np.int32 if self.kind == 'discrete' else np.float32)

  @property
  def size(self) -> int:
    """Number of policy outputs needed per action dimension set."""
    if self.kind == 'discrete':
      return self.num_actions
    return int(np.prod(self.shape))

  def to_dict(self) -> dict:
    return dataclasses.asdict(self)

  @classmethod
  def from_dict(cls, d: dict) -> 'ActionSpec':
    d = dict(d)
    d['shape'] = tuple(d.get('shape') or ())
    for key in ('minimum', 'maximum'):
      if d.get(key) is not None:
        d[key] = tuple(d[key])
    return cls(**d)


@dataclasses.dataclass(frozen=True)
class EnvSpec:
  """What the learner must know about an environment.

  observation_shape/dtype: one frame as the actor sends it, e.g. (84, 84, 1)
    uint8 for Atari, (5,) float32 for CartPole features.
  frame_stack: how many recent frames the learner stacks for the network.
  frames_per_step: emulator frames (or physics steps) per agent step, for
    frame counting (Atari action repeat: 4).
  """
  name: str
  observation_shape: Tuple[int, ...]
  observation_dtype: str
  action: ActionSpec
  frame_stack: int = 1
  frames_per_step: int = 1

  def to_dict(self) -> dict:
    d = dataclasses.asdict(self)
    d['action'] = self.action.to_dict()
    return d

  @classmethod
  def from_dict(cls, d: dict) -> 'EnvSpec':
    d = dict(d)
    d['observation_shape'] = tuple(d['observation_shape'])
    d['action'] = ActionSpec.from_dict(d['action'])
    return cls(**d)

  @property
  def stacked_observation_shape(self) -> Tuple[int, ...]:
    """Shape the network sees: (frame_stack, *observation_shape), oldest first.

    Frame-major, so the learner shifts a stack by copying whole frames; image
    torsos merge the stack into channels inside the network.
    """
    return (self.frame_stack,) + tuple(self.observation_shape)


def reported(dtype, default=dataclasses.MISSING):
  """A `Step` field that actors report for every env at every step: it
  crosses the wire in `dtype`, is kept in every unroll, and reaches the loss
  as a field of the transitions (`reported_fields`). A `default` lets
  environments that do not produce it leave it out."""
  return dataclasses.field(default=default, metadata={'dtype': np.dtype(dtype)})


@dataclasses.dataclass
class Step:
  """One transition. `game_continues`: this `terminated` step ends an
  episode for learning only (an Atari life lost with `terminal_on_life_loss`):
  `reset()` then continues the same game and the scored episode goes on.

  The `reported` fields are the one declaration of what a step carries from
  the environment to the loss: `envs.batch.BatchStep`, the wire message,
  `types.Unroll` and `types.Transitions` derive their fields from them, so a
  new per-step field is declared here, set by the environments that have it,
  and read where it is used.
  """
  observation: np.ndarray
  reward: float = reported(np.float32)
  terminated: bool = reported(np.bool_)
  truncated: bool = reported(np.bool_)
  game_continues: bool = False


@functools.cache  # read on every step by actors and the learner
def reported_fields() -> Tuple[Tuple[str, np.dtype, Any], ...]:
  """((name, dtype, default), ...) of `Step`'s reported fields, in
  declaration order; default is `dataclasses.MISSING` where there is none."""
  return tuple((f.name, f.metadata['dtype'], f.default)
               for f in dataclasses.fields(Step)
               if 'dtype' in f.metadata)


class Environment(abc.ABC):
  """A single environment. Subclasses set `self.spec` in `__init__`."""

  spec: EnvSpec

  @abc.abstractmethod
  def reset(self) -> np.ndarray:
    """Starts a new episode and returns its first observation."""

  @abc.abstractmethod
  def step(self, action) -> Step:
    """Applies `action` and returns the outcome."""

  def close(self) -> None:
    pass
