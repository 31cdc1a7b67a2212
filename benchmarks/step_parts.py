"""Where a learner step's time goes: each part of `StacUpdater`'s step timed
on its own, in graph mode, on the same batch (library for
`benchmarks.learner_step --parts`; no flags here).

Parts of the exact meta step with the second-order term in forward mode
(`meta_gradient.forward_mode`; pass an updater built with
second_order='forward', as the reverse mode's second-order term is not a
separate computation), each the library's own function: the inner gradient
at theta (IMPALA's forward and backward), the look-ahead forward at theta',
the outer backward with v (`meta_gradient.outer_direction`), the
Jacobian-vector product at theta (`output_tangents`), the eta gradient
through the loss head (`eta_gradient`), and the updates. 'other' is the
whole step minus the parts.
"""

import statistics
import time
from typing import Dict

import tensorflow as tf

from seed_stac.algo import meta_gradient
from seed_stac.algo.update import split_unroll


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
  # pylint: disable-next=protected-access
  compiled_step = updater._meta_step if updater.tunes else updater._plain_step
  return _time_ms(lambda: compiled_step(unroll, None), steps)


def time_parts(updater, unroll, steps: int = 5) -> Dict[str, float]:
  """{part: median ms} for the updater's exact step (IMPALA: two parts)."""
  network = updater.network
  inputs, transitions = split_unroll(unroll, updater.config.reward_clip)
  lr = updater.learning_rate()
  inner = tf.function(lambda: updater.inner_gradients(inputs, unroll.core_state, transitions))
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
  core_state = unroll.core_state
  eta = updater.metaparams.logit_variables

  @tf.function
  def lookahead_forward():
    new_theta = updater.lookahead_theta(grads, lr)
    return updater.outer_loss(new_theta, outputs, inputs, core_state, transitions)[0]

  outer_backward_and_v = tf.function(lambda: meta_gradient.outer_direction(
      updater, grads, lr, outputs, inputs, core_state, transitions)[0])
  v = outer_backward_and_v()
  jvp = tf.function(lambda: meta_gradient.output_tangents(network, inputs, core_state, v))
  tangents = jvp()
  eta_gradient = tf.function(
      lambda: meta_gradient.eta_gradient(updater, eta, outputs, transitions, tangents))
  forward = _time_ms(lookahead_forward, steps)
  return {
      'look-ahead forward at theta\'': forward,
      'outer backward and v': _time_ms(outer_backward_and_v, steps) - forward,
      'Jacobian-vector product at theta': _time_ms(jvp, steps),
      'eta gradient through the loss head': _time_ms(eta_gradient, steps),
  }
