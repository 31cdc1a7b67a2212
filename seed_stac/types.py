"""The data crossing the learner's boundaries, declared once (TF-free).

`InferenceInput` and `InferenceOutput`: what the actor hub (or evaluation)
asks of the policy and gets back, through the inference batcher.
`Unroll`: what the actor hub hands the trainer; `Transitions`: what the
loss reads of it. Both are made from `envs.base.Step`'s reported fields, so
that a per-step field declared there reaches the loss with no other change.

The same `Unroll` type carries one environment's unroll (numpy arrays
`[T + 1, ...]`, made by `learner/env_state.py`), a stored or sampled batch
(numpy `[T + 1, B, ...]`, `learner/unroll_sources.py`) and the training batch
(tf.Tensor `[T + 1, B, ...]`, `algo/update.py`). Everything that iterates
over a step's fields uses `STEP_FIELDS`, its field order.
"""

import collections
from typing import Any, NamedTuple, Tuple

from seed_stac.envs.base import reported_fields

# What an environment reports every step (envs.base.Step's reported fields:
# reward, terminated, truncated, and any other declared there).
REPORTED_FIELDS: Tuple[str, ...] = tuple(name for name, _, _ in reported_fields())

# The per-step fields of an unroll: everything but the recurrent state.
STEP_FIELDS: Tuple[str, ...] = (('observation', 'prev_action', 'first') + REPORTED_FIELDS +
                                ('action', 'behaviour_log_prob'))

Unroll = collections.namedtuple('Unroll', STEP_FIELDS + ('core_state',), defaults=((),))
Unroll.__doc__ = """Time-major unroll(s), SEED convention; arrays or tensors.

  Step t holds what the actor saw on arriving at x_t and what the agent did:
  observation: x_t, frames stacked; uint8 or float32.
  prev_action: a_{t-1} (zeros at episode start); int32, or float32 [..., A].
  first: bool, x_t starts an episode.
  reward: float32, reward of the transition INTO x_t.
  terminated, truncated: bool, how the transition into x_t ended an episode.
  (then any other reported field of `envs.base.Step`, of its dtype, about
  the transition into x_t.)
  action: a_t; int32, or float32 [..., A].
  behaviour_log_prob: float32, log mu(a_t|x_t) of the policy that acted.
  core_state: the recurrent state at t = 0, a tuple of [B, ...] (or [...] for
    one unroll) arrays; empty without an LSTM.
  Step T of one unroll is step 0 of the next.
  """

Transitions = collections.namedtuple('Transitions',
                                     ('action', 'behaviour_log_prob') + REPORTED_FIELDS)
Transitions.__doc__ = """Time-major data of T transitions x_t --a_t--> x_{t+1}
  (`algo.update.split_unroll` makes them from an `Unroll`).

  action: [T, B] int32 or [T, B, A] float32.
  behaviour_log_prob: [T, B] log mu(a_t|x_t).
  reward: [T, B] float32 (already clipped if clipping is on).
  terminated: [T, B] bool, x_{t+1} is terminal.
  truncated: [T, B] bool, a time limit ended the episode at this transition.
  (then any other reported field of `envs.base.Step`: [T, B], about the
  transition into x_{t+1}.)
  """


class InferenceInput(NamedTuple):
  """One inference request for N environments, numpy with leading dim [N].

  observation: [N, *stacked_obs], the frame stacks.
  prev_action: [N] int32 or [N, A] float32 (zeros at an episode start).
  reward: [N] float32.  first: [N] bool, the step starts an episode.
  core: the recurrent state, a tuple of [N, ...] arrays (() without an LSTM).
  """
  observation: Any
  prev_action: Any
  reward: Any
  first: Any
  core: Tuple[Any, ...] = ()


class InferenceOutput(NamedTuple):
  """The policy's answer: action [N] int32 or [N, A] float32, log_prob [N]
  float32 (log mu of that action), core the new recurrent state."""
  action: Any
  log_prob: Any
  core: Tuple[Any, ...] = ()
