"""The meta-gradient of one STAC step, d L_outer(theta'(eta)) / d eta
(docs/algorithm.md#the-meta-gradient), computed one of two ways with the
same result:

- `reverse_mode`: an outer tape that watches only the eta logits records
  the inner BACKWARD pass (which depends on eta through the loss weights and
  the V-trace targets) and differentiates it in reverse mode.
- `forward_mode`: with q = dL_outer/dtheta' and v = (d theta'/d g)^T q (the
  optimizer's direction and the norm clip, held at this step's statistics),
  dL_outer/deta = d/deta [v . g(theta; eta)]
                = d/deta [sum_t dl_t/df_t . (J_t v)]:
  one Jacobian-vector product of the network outputs f at theta in the
  direction v, then a gradient with respect to eta through the loss head and
  V-trace only. Slower than reverse mode in every measurement so far
  (docs/results.md#learner-step-time); it stays because its parts can be
  timed apart (`benchmarks/step_parts.py`) and because the two modes agreeing
  with each other and with finite differences (`tests/algo/test_update.py`)
  is the strongest check of either.

Both take the learner step's losses as a `StepLosses` (`update.StacUpdater`).
"""

from typing import Dict, List, Protocol, Sequence, Tuple

import tensorflow as tf

from seed_stac.algo import losses
from seed_stac.nets.network import AgentInput, AgentNetwork, AgentOutput

Tensors = List[tf.Tensor]


class StepLosses(Protocol):
  """The parts of a learner step the meta-gradient differentiates."""

  network: AgentNetwork

  def inner_gradients(self,
                      inputs: AgentInput,
                      core_state,
                      transitions: losses.Transitions,
                      replayed=None) -> Tuple[Tensors, AgentOutput, Dict[str, tf.Tensor]]:
    """(g = dL_inner/dtheta averaged over replicas, outputs at theta, stats)."""

  def inner_loss(self, outputs: AgentOutput,
                 transitions: losses.Transitions) -> Tuple[tf.Tensor, Dict[str, tf.Tensor]]:
    """(L_inner of `outputs`, stats), every head with its own eta."""

  def lookahead_theta(self, grads: Sequence[tf.Tensor], lr) -> Tensors:
    """theta' = theta - lr * u(clip(g))."""

  def outer_loss(self, new_theta, outputs, inputs, core_state, transitions, target_outputs=None):
    """(L_outer at theta', its stats, theta' main-head outputs)."""

  def cross_replica_mean(self, values):
    """Mean over replicas inside a distributed step; else `values`."""


def reverse_mode(step: StepLosses,
                 eta: Sequence[tf.Variable],
                 inputs: AgentInput,
                 core_state,
                 transitions: losses.Transitions,
                 lr,
                 replayed=None):
  """(g, dL_outer/deta, stats) by differentiating the recorded inner backward pass."""
  with tf.GradientTape(watch_accessed_variables=False) as meta_tape:
    meta_tape.watch(eta)
    grads, outputs, stats = step.inner_gradients(inputs, core_state, transitions, replayed)
    outer, outer_stats, _ = step.outer_loss(step.lookahead_theta(grads, lr), outputs, inputs,
                                            core_state, transitions)
  meta_grads = meta_tape.gradient(outer, eta, unconnected_gradients=tf.UnconnectedGradients.ZERO)
  return grads, step.cross_replica_mean(meta_grads), dict(stats, **outer_stats)


def outer_direction(step: StepLosses, grads: Tensors, lr, outputs: AgentOutput, inputs, core_state,
                    transitions):
  """(v = (d theta'/d g)^T dL_outer/dtheta', the outer loss's stats)."""
  with tf.GradientTape(watch_accessed_variables=False) as lookahead_tape:
    lookahead_tape.watch(grads)
    new_theta = step.lookahead_theta(grads, lr)
  with tf.GradientTape(watch_accessed_variables=False) as outer_tape:
    outer_tape.watch(new_theta)
    outer, outer_stats, _ = step.outer_loss(new_theta, outputs, inputs, core_state, transitions)
  q = step.cross_replica_mean(outer_tape.gradient(outer, new_theta))
  # theta' depends on eta through g alone: the clip and the optimizer's
  # direction (its statistics held constant) carry q back to g.
  v = lookahead_tape.gradient(new_theta,
                              grads,
                              output_gradients=q,
                              unconnected_gradients=tf.UnconnectedGradients.ZERO)
  return v, outer_stats


def output_tangents(network: AgentNetwork, inputs: AgentInput, core_state,
                    v: Sequence[tf.Tensor]) -> Tuple[tf.Tensor, tf.Tensor]:
  """J v: the change of the policy parameters and values [T+1, B, heads, ...]
  at theta in the direction v (one forward-mode pass)."""
  theta = [tf.identity(w) for w in network.trainable_variables]
  with tf.autodiff.ForwardAccumulator(theta, v) as accumulator:
    (primal, _), _ = network.stateless_call(theta, network.non_trainable_variables, inputs,
                                            core_state)
  return accumulator.jvp(primal.policy_params), accumulator.jvp(primal.values)


def eta_gradient(step: StepLosses, eta: Sequence[tf.Variable], outputs: AgentOutput,
                 transitions: losses.Transitions, tangents) -> Tensors:
  """d/deta of sum_t dl_t/df_t . (J_t v), the outputs and tangents held fixed."""
  with tf.GradientTape(watch_accessed_variables=False) as meta_tape:
    meta_tape.watch(eta)
    heads = (tf.stop_gradient(outputs.policy_params), tf.stop_gradient(outputs.values))
    with tf.GradientTape(watch_accessed_variables=False) as head_tape:
      head_tape.watch(heads)
      loss, _ = step.inner_loss(AgentOutput(*heads), transitions)
    d_loss = head_tape.gradient(loss, heads)
    directional = sum(tf.reduce_sum(d * tf.stop_gradient(j)) for d, j in zip(d_loss, tangents))
  return meta_tape.gradient(directional, eta, unconnected_gradients=tf.UnconnectedGradients.ZERO)


def forward_mode(step: StepLosses,
                 eta: Sequence[tf.Variable],
                 inputs: AgentInput,
                 core_state,
                 transitions: losses.Transitions,
                 lr,
                 replayed=None):
  """(g, dL_outer/deta, stats) through a Jacobian-vector product."""
  grads, outputs, stats = step.inner_gradients(inputs, core_state, transitions, replayed)
  v, outer_stats = outer_direction(step, grads, lr, outputs, inputs, core_state, transitions)
  tangents = output_tangents(step.network, inputs, core_state, v)
  meta_grads = eta_gradient(step, eta, outputs, transitions, tangents)
  return grads, step.cross_replica_mean(meta_grads), dict(stats, **outer_stats)


MODES = {'reverse': reverse_mode, 'forward': forward_mode}
