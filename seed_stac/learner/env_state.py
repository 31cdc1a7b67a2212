"""Per-actor environment state kept on the learner
(docs/architecture.md#per-actor-state-and-frame-stacking).

Actors send one frame per step; the learner keeps, for each of an actor's E
environments, the frame stack, the previous action, the recurrent state and
the unroll being filled. A new run id (actor restart) starts afresh.
All arrays are numpy with the actor's E environments as the leading dim.
"""

from typing import Dict, List, Optional, Tuple

import numpy as np

from seed_stac.envs.base import EnvSpec, reported_fields
from seed_stac.envs.batch import BatchStep
from seed_stac.types import STEP_FIELDS, InferenceInput, Unroll


def push_frame(frames: Optional[np.ndarray], observation: np.ndarray, first: Optional[np.ndarray],
               frame_stack: int) -> np.ndarray:
  """The frame stacks after one step, oldest frame first.

  frames: [E, frame_stack, *obs_shape], or None before the first step (every
    stack then starts afresh). observation: [E, *obs_shape], the new frames.
  first: [E] bool, where a new episode starts: that stack is refilled with
    copies of its new frame (not read when `frames` is None).
  Returns a new [E, frame_stack, *obs_shape] array every call, never a view
  of `frames`: recorded steps keep their own.
  """
  frame = observation[:, None]
  if frames is None:
    return np.repeat(frame, frame_stack, axis=1)
  stacked = np.concatenate([frames[:, 1:], frame], axis=1)
  if first.any():
    stacked[first] = frame[first]
  return stacked


class ActorState:
  """State of one actor run: E environments stepping in lock-step."""

  def __init__(self,
               run_id: str,
               spec: EnvSpec,
               num_envs: int,
               initial_core_state: Tuple[np.ndarray, ...],
               unroll_length: int,
               record: bool = True):
    self.run_id = run_id
    self.record = record  # False: act without keeping unrolls (evaluation)
    self.spec = spec
    self.unroll_length = unroll_length
    self.frames: Optional[np.ndarray] = None  # [E, frame_stack, *obs_shape]
    self.prev_action = np.zeros((num_envs,) + spec.action.shape, spec.action.dtype)
    self.core_state = tuple(np.array(s) for s in initial_core_state)
    self._steps: List[Dict[str, np.ndarray]] = []
    self._pending: Dict[str, np.ndarray] = {}  # the observed step awaiting its action
    self._unroll_core_state = self.core_state

  def observe(self, step: BatchStep) -> InferenceInput:
    """Takes an actor step (any `BatchStep`) and returns the inference
    inputs for it (with this run's recurrent state).

    The first step of a run and every step after an episode end start a new
    episode: frame stack refilled with the new frame, previous action zeroed.
    Every reported field of the step is kept for the unroll.
    """
    first = np.asarray(step.terminated) | np.asarray(step.truncated)
    if self.frames is None:
      first = np.ones_like(first)
    self.frames = push_frame(self.frames, step.observation, first, self.spec.frame_stack)
    self.prev_action[first] = 0
    self._pending = dict(observation=self.frames, prev_action=self.prev_action.copy(), first=first)
    for name, dtype, _ in reported_fields():
      self._pending[name] = np.asarray(getattr(step, name), dtype)
    return InferenceInput(observation=self.frames,
                          prev_action=self._pending['prev_action'],
                          reward=self._pending['reward'],
                          first=first,
                          core=self.core_state)

  def act(self, action: np.ndarray, log_prob: np.ndarray,
          new_core_state: Tuple[np.ndarray, ...]) -> Optional[List[Unroll]]:
    """Records the agent's reply; returns the finished unrolls, if any.

    One `Unroll` per environment, fields [T + 1, ...] (core_state: [...]
    arrays at its step 0). The E unrolls are views into one [T + 1, E, ...]
    copy of the recorded steps, which nothing writes to afterwards. The last
    step of an unroll is kept as the first of the next, with the recurrent
    state from before it.
    """
    step = dict(self._pending, action=action, behaviour_log_prob=log_prob)
    finished = None
    if self.record:
      self._steps.append(step)
    if self.record and len(self._steps) == self.unroll_length + 1:
      finished = self._columns()
      self._steps = [step]
      self._unroll_core_state = self.core_state
    self.prev_action = np.array(action)
    self.core_state = tuple(np.array(s) for s in new_core_state)
    return finished

  @property
  def partial_steps(self) -> int:
    """Steps recorded into the unfinished unroll (lost if the actor leaves now)."""
    return len(self._steps)

  def _columns(self) -> List[Unroll]:
    fields = [np.stack([step[k] for step in self._steps]) for k in STEP_FIELDS]
    num_envs = fields[0].shape[1]
    return [
        Unroll(*(f[:, i]
                 for f in fields), core_state=tuple(s[i]
                                                    for s in self._unroll_core_state))
        for i in range(num_envs)
    ]
