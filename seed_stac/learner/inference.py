"""The batched policy step served to actors (docs/architecture.md#batched-inference)."""

from typing import Callable

import tensorflow as tf

from seed_stac.algo.acting import sample_actions
from seed_stac.nets.network import AgentInput, AgentNetwork
from seed_stac.types import InferenceInput, InferenceOutput


def make_inference_fn(network: AgentNetwork,
                      seed: int,
                      greedy: bool = False) -> Callable[[InferenceInput], InferenceOutput]:
  """Returns infer(inputs) for fixed-size batches of N environments
  (`types.InferenceInput` -> `types.InferenceOutput`, numpy). The batcher
  pads to a fixed N, so this traces once. greedy: take the policy's mode
  (evaluation) instead of sampling.
  """
  generator = tf.random.Generator.from_seed(seed)

  @tf.function
  def infer(observation, prev_action, reward, first, core_state):
    inputs = AgentInput(observation[None], prev_action[None], reward[None], first[None])
    seed_pair = generator.uniform_full_int([2], tf.int32)
    out, new_state = sample_actions(network, inputs, core_state, seed_pair, greedy)
    return out.action, out.log_prob, new_state

  def run(inputs: InferenceInput) -> InferenceOutput:
    inputs = InferenceInput(*inputs)  # the batcher may hand back a plain tuple
    action, log_prob, new_state = infer(inputs.observation, inputs.prev_action, inputs.reward,
                                        inputs.first, tuple(inputs.core))
    return InferenceOutput(action.numpy(), log_prob.numpy(), tuple(s.numpy() for s in new_state))

  return run
