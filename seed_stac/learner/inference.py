"""The batched policy step served to actors (docs/architecture.md#batched-inference)."""

from typing import Callable, Dict

import numpy as np
import tensorflow as tf

from seed_stac.algo.acting import sample_actions
from seed_stac.nets.network import AgentInput, AgentNetwork


def make_inference_fn(network: AgentNetwork, seed: int, greedy: bool = False
                      ) -> Callable[[Dict[str, np.ndarray]], Dict[str, np.ndarray]]:
  """Returns infer(inputs) for fixed-size batches of N environments.

  inputs: observation [N, *stacked_obs], prev_action [N, ...], reward [N]
    float32, first [N] bool, core_0..core_k [N, lstm] float32.
  outputs: action [N, ...], log_prob [N] float32, core_0..core_k.
  The batcher pads to a fixed N, so this traces once. greedy: take the
  policy's mode (evaluation) instead of sampling.
  """
  generator = tf.random.Generator.from_seed(seed)
  num_core = len(network.initial_state(1))

  @tf.function
  def infer(observation, prev_action, reward, first, core_state):
    inputs = AgentInput(observation[None], prev_action[None], reward[None], first[None])
    seed_pair = generator.uniform_full_int([2], tf.int32)
    out, new_state = sample_actions(network, inputs, core_state, seed_pair, greedy)
    return out.action, out.log_prob, new_state

  def run(inputs: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    core_state = tuple(inputs[f'core_{i}'] for i in range(num_core))
    action, log_prob, new_state = infer(inputs['observation'], inputs['prev_action'],
                                        inputs['reward'], inputs['first'], core_state)
    outputs = dict(action=action.numpy(), log_prob=log_prob.numpy())
    outputs.update({f'core_{i}': s.numpy() for i, s in enumerate(new_state)})
    return outputs

  return run
