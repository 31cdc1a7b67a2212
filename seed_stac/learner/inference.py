"""The batched policy step served to actors (docs/architecture.md#batched-inference)."""

from typing import Optional

import numpy as np
import tensorflow as tf

from seed_stac.algo.acting import sample_actions
from seed_stac.envs.base import EnvSpec
from seed_stac.nets.network import AgentInput, AgentNetwork
from seed_stac.types import InferenceInput, InferenceOutput


class BatchedPolicy:
  """policy(InferenceInput) -> InferenceOutput for batches of N environments
  (numpy in and out). The batcher pads to a fixed N, so it traces once.

  device: where the policy runs (None: TensorFlow's default placement, the
  first GPU when there is one). On a TPU, pass the strategy's first replica
  device with jit_compile, so the step is one XLA program on the TPU rather
  than host ops reading the TPU's weights. greedy: the policy's mode
  (evaluation) instead of a sample.
  """

  def __init__(self,
               network: AgentNetwork,
               seed: int,
               greedy: bool = False,
               device: Optional[str] = None,
               jit_compile: bool = False):
    self._network, self._greedy, self._device = network, greedy, device
    self._generator = tf.random.Generator.from_seed(seed)
    self._infer = tf.function(self._step, jit_compile=jit_compile)

  def _step(self, observation, prev_action, reward, first, core_state):
    with tf.device(self._device):
      inputs = AgentInput(observation[None], prev_action[None], reward[None], first[None])
      seed_pair = self._generator.uniform_full_int([2], tf.int32)
      out, new_state = sample_actions(self._network, inputs, core_state, seed_pair, self._greedy)
      return out.action, out.log_prob, new_state

  def _call(self, inputs: InferenceInput):
    inputs = InferenceInput(*inputs)  # the batcher may hand back a plain tuple
    return self._infer(inputs.observation, inputs.prev_action, inputs.reward, inputs.first,
                       tuple(inputs.core))

  def __call__(self, inputs: InferenceInput) -> InferenceOutput:
    action, log_prob, new_state = self._call(inputs)
    return InferenceOutput(action.numpy(), log_prob.numpy(), tuple(s.numpy() for s in new_state))

  def ran_on(self, inputs: InferenceInput) -> str:
    """Runs one batch and returns the device its actions were computed on."""
    action, _, _ = self._call(inputs)
    return action.device


def make_inference_fn(network: AgentNetwork, seed: int, greedy: bool = False) -> BatchedPolicy:
  """The policy on TensorFlow's default device (evaluation, benchmarks)."""
  return BatchedPolicy(network, seed, greedy)


def zero_inputs(spec: EnvSpec, network: AgentNetwork, rows: int) -> InferenceInput:
  """A batch of `rows` zero observations and initial recurrent states."""
  action = spec.action
  return InferenceInput(observation=np.zeros((rows,) + tuple(spec.stacked_observation_shape),
                                             spec.observation_dtype),
                        prev_action=np.zeros((rows,) + tuple(action.shape),
                                             np.int32 if action.kind == 'discrete' else np.float32),
                        reward=np.zeros(rows, np.float32),
                        first=np.ones(rows, bool),
                        core=tuple(s.numpy() for s in network.initial_state(rows)))
