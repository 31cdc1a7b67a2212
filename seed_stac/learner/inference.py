"""The batched policy step served to actors (docs/architecture.md#batched-inference)."""

from typing import Callable

import tensorflow as tf

from seed_stac.algo.acting import sample_actions
from seed_stac.nets.network import AgentInput, AgentNetwork


def make_inference_fn(network: AgentNetwork,
                      seed: int,
                      greedy: bool = False) -> Callable[[dict], dict]:
  """Returns infer(inputs) for fixed-size batches of N environments.

  inputs: a dict: observation [N, *stacked_obs], prev_action [N, ...],
    reward [N] float32, first [N] bool, core: the recurrent state, a tuple of
    [N, lstm] float32 (() for a feed-forward network).
  outputs: a dict: action [N, ...], log_prob [N] float32, core (the new
    state, same structure).
  The batcher pads to a fixed N, so this traces once. greedy: take the
  policy's mode (evaluation) instead of sampling.
  """
  generator = tf.random.Generator.from_seed(seed)

  @tf.function
  def infer(observation, prev_action, reward, first, core_state):
    inputs = AgentInput(observation[None], prev_action[None], reward[None], first[None])
    seed_pair = generator.uniform_full_int([2], tf.int32)
    out, new_state = sample_actions(network, inputs, core_state, seed_pair, greedy)
    return out.action, out.log_prob, new_state

  def run(inputs: dict) -> dict:
    action, log_prob, new_state = infer(inputs['observation'], inputs['prev_action'],
                                        inputs['reward'], inputs['first'], tuple(inputs['core']))
    return dict(action=action.numpy(),
                log_prob=log_prob.numpy(),
                core=tuple(s.numpy() for s in new_state))

  return run
