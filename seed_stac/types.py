"""The data crossing the learner's boundaries, declared once (TF-free).

`InferenceInput` and `InferenceOutput`: what the actor hub (or evaluation)
asks of the policy and gets back, through the inference batcher.
`Unroll`: what the actor hub hands the trainer.

The same `Unroll` type carries one environment's unroll (numpy arrays
`[T + 1, ...]`, made by `learner/env_state.py`), a stored or sampled batch
(numpy `[T + 1, B, ...]`, `learner/unroll_sources.py`) and the training batch
(tf.Tensor `[T + 1, B, ...]`, `algo/update.py`). Its field order is the
order everything that iterates over a step's fields uses (`STEP_FIELDS`).
"""

from typing import Any, NamedTuple, Tuple


class Unroll(NamedTuple):
  """Time-major unroll(s), SEED convention; arrays or tensors.

  Step t holds what the actor saw on arriving at x_t and what the agent did:
  observation: x_t, frames stacked; uint8 or float32.
  prev_action: a_{t-1} (zeros at episode start); int32, or float32 [..., A].
  reward: float32, reward of the transition INTO x_t.
  first: bool, x_t starts an episode.
  terminated, truncated: bool, how the transition into x_t ended an episode.
  action: a_t; int32, or float32 [..., A].
  behaviour_log_prob: float32, log mu(a_t|x_t) of the policy that acted.
  core_state: the recurrent state at t = 0, a tuple of [B, ...] (or [...] for
    one unroll) arrays; empty without an LSTM.
  Step T of one unroll is step 0 of the next.
  """
  observation: Any
  prev_action: Any
  reward: Any
  first: Any
  terminated: Any
  truncated: Any
  action: Any
  behaviour_log_prob: Any
  core_state: Tuple[Any, ...] = ()


# The per-step fields: everything but the recurrent state, in `Unroll` order.
STEP_FIELDS: Tuple[str, ...] = Unroll._fields[:-1]


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
