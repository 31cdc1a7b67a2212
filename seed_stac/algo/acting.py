"""Choosing actions: only the main head (head 0) acts (STACX, section 5)."""

from typing import NamedTuple, Tuple

import tensorflow as tf

from seed_stac.nets.network import AgentInput, AgentNetwork


class ActorOutput(NamedTuple):
  """action: [B] int32 or [B, A] float32 (unclipped); log_prob: [B] log mu."""
  action: tf.Tensor
  log_prob: tf.Tensor


def sample_actions(network: AgentNetwork,
                   inputs: AgentInput,
                   core_state,
                   seed: tf.Tensor,
                   greedy: bool = False) -> Tuple[ActorOutput, Tuple[tf.Tensor, ...]]:
  """One inference step for a batch of environments.

  Args:
    inputs: AgentInput with T = 1, i.e. [1, B, ...] tensors.
    core_state: recurrent state, tuple of [B, ...].
    seed: [2] int32 stateless seed (a fresh one per call).
    greedy: take the mode instead of sampling (evaluation).

  Returns:
    (ActorOutput with [B] leading dims, new core state).
  """
  outputs, core_state = network(inputs, core_state)
  dist = network.distribution(outputs.policy_params[0, :, 0])
  action = dist.mode() if greedy else dist.sample(seed=seed)
  return ActorOutput(action, dist.log_prob(action)), core_state
