"""Only the main head acts (docs/algorithm.md#properties-the-tests-check, item 9)."""

import numpy as np
import tensorflow as tf

from helpers import agent_input, build_network, random_unroll
from seed_stac.algo.acting import sample_actions
from seed_stac.envs.base import ActionSpec

SPEC = ActionSpec('discrete', num_actions=4)


def _step_inputs(unroll):
  return agent_input(unroll, lambda x: x[:1])


def test_auxiliary_heads_do_not_change_actions():
  unroll = random_unroll(np.random.default_rng(0), 1, 64, (5,), SPEC)
  network = build_network(unroll, SPEC, num_heads=3)
  seed = tf.constant([1, 2])
  before, _ = sample_actions(network, _step_inputs(unroll), (), seed)
  kernel = network.policy_layer.kernel
  perturbed = kernel.numpy()
  perturbed[:, SPEC.num_actions:] += 5.0  # heads 1 and 2 only
  kernel.assign(perturbed)
  after, _ = sample_actions(network, _step_inputs(unroll), (), seed)
  np.testing.assert_array_equal(before.action, after.action)
  np.testing.assert_allclose(before.log_prob, after.log_prob)
  perturbed[:, :SPEC.num_actions] += np.random.default_rng(1).normal(
      size=perturbed[:, :SPEC.num_actions].shape) * 5.0
  kernel.assign(perturbed)
  changed, _ = sample_actions(network, _step_inputs(unroll), (), seed)
  assert not np.allclose(before.log_prob, changed.log_prob)


def test_log_prob_is_of_the_returned_action_and_greedy_is_mode():
  unroll = random_unroll(np.random.default_rng(2), 1, 8, (5,), SPEC)
  network = build_network(unroll, SPEC)
  out, _ = sample_actions(network, _step_inputs(unroll), (), tf.constant([3, 4]))
  outputs, _ = network(_step_inputs(unroll))
  log_probs = tf.nn.log_softmax(outputs.policy_params[0, :, 0]).numpy()
  expected = log_probs[np.arange(8), out.action.numpy()]
  np.testing.assert_allclose(out.log_prob.numpy(), expected, rtol=1e-5)
  greedy, _ = sample_actions(network, _step_inputs(unroll), (), tf.constant([3, 4]), greedy=True)
  np.testing.assert_array_equal(greedy.action.numpy(), log_probs.argmax(-1))
