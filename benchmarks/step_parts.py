"""Where a learner step's time goes: each part of `StacUpdater`'s step timed
on its own, in graph mode, on the same batch (library for
`benchmarks.learner_step --parts`; no flags here).

Parts of the exact meta step with the second-order term in forward mode
(`update.py:_forward_meta_gradients`; pass an updater built with
second_order='forward', as the reverse mode's second-order term is not a
separate computation): the inner gradient at theta (IMPALA's
forward and backward), the look-ahead forward at theta', the outer backward
with v, the Jacobian-vector product at theta, the eta gradient through the
loss head, and the updates. 'other' is the whole step minus the parts.
"""

import statistics
import time
from typing import Dict

import tensorflow as tf

from seed_stac.algo.update import split_unroll
from seed_stac.nets.network import AgentOutput


def _time_ms(fn, steps: int) -> float:
  for _ in range(2):
    tf.nest.map_structure(lambda x: x.numpy(), fn())
  times = []
  for _ in range(steps):
    start = time.perf_counter()
    tf.nest.map_structure(lambda x: x.numpy(), fn())
    times.append(time.perf_counter() - start)
  return statistics.median(times) * 1000


def time_step(updater, unroll, steps: int = 5) -> float:
  """Median ms of the updater's exact step (the meta step when it tunes)."""
  # pylint: disable=protected-access
  grads_fn = updater._meta_grads if updater.tunes else updater._plain_grads
  return _time_ms(tf.function(lambda: updater._apply(*grads_fn(unroll))), steps)


def time_parts(updater, unroll, steps: int = 5) -> Dict[str, float]:
  """{part: median ms} for the updater's exact step (IMPALA: two parts)."""
  network = updater.network
  inputs, transitions = split_unroll(unroll, updater.config.reward_clip)
  lr = updater.learning_rate()
  inner = tf.function(lambda: updater._inner_gradients(  # pylint: disable=protected-access
      inputs, unroll.core_state, transitions))
  parts = {'inner gradient (forward + backward at theta)': _time_ms(inner, steps)}
  grads, outputs, _ = inner()
  if updater.tunes:
    parts.update(
        _meta_parts(updater, network, unroll, inputs, transitions, lr, grads, outputs, steps))
  parts['whole step'] = time_step(updater, unroll, steps)
  parts['other (updates, clip, stats)'] = parts['whole step'] - sum(
      v for k, v in parts.items() if k != 'whole step')
  return parts


def _meta_parts(updater, network, unroll, inputs, transitions, lr, grads, outputs, steps):
  # pylint: disable=protected-access
  @tf.function
  def lookahead_forward():
    new_theta = updater._lookahead_theta(grads, lr)
    return updater._outer_loss(new_theta, outputs, inputs, unroll.core_state, transitions)[0]

  @tf.function
  def outer_backward_and_v():
    with tf.GradientTape(watch_accessed_variables=False) as lookahead_tape:
      lookahead_tape.watch(grads)
      new_theta = updater._lookahead_theta(grads, lr)
    with tf.GradientTape(watch_accessed_variables=False) as outer_tape:
      outer_tape.watch(new_theta)
      outer = updater._outer_loss(new_theta, outputs, inputs, unroll.core_state, transitions)[0]
    q = outer_tape.gradient(outer, new_theta)
    return lookahead_tape.gradient(new_theta, grads, output_gradients=q)

  v = outer_backward_and_v()

  @tf.function
  def jvp():
    theta = [tf.identity(w) for w in network.trainable_variables]
    with tf.autodiff.ForwardAccumulator(theta, v) as accumulator:
      (primal, _), _ = network.stateless_call(theta, network.non_trainable_variables, inputs,
                                              unroll.core_state)
    return accumulator.jvp(primal.policy_params), accumulator.jvp(primal.values)

  tangent = jvp()

  @tf.function
  def eta_gradient():
    eta = updater.metaparams.logit_variables
    with tf.GradientTape(watch_accessed_variables=False) as meta_tape:
      meta_tape.watch(eta)
      heads = (outputs.policy_params, outputs.values)
      with tf.GradientTape(watch_accessed_variables=False) as head_tape:
        head_tape.watch(heads)
        loss, _ = updater._inner_loss(AgentOutput(*heads), transitions)
      d_loss = head_tape.gradient(loss, heads)
      directional = sum(tf.reduce_sum(d * j) for d, j in zip(d_loss, tangent))
    return meta_tape.gradient(directional, eta)

  forward = _time_ms(lookahead_forward, steps)
  return {
      'look-ahead forward at theta\'': forward,
      'outer backward and v': _time_ms(outer_backward_and_v, steps) - forward,
      'Jacobian-vector product at theta': _time_ms(jvp, steps),
      'eta gradient through the loss head': _time_ms(eta_gradient, steps),
  }
