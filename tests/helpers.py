"""Builders shared by tests: tiny networks and random unrolls."""

import numpy as np
import tensorflow as tf

from seed_stac.algo import optimizers
from seed_stac.algo.metaparams import MetaParameters, tunable_names
from seed_stac.algo.update import StacUpdater, UpdateConfig
from seed_stac.types import Unroll
from seed_stac.envs.base import ActionSpec
from seed_stac.nets import AgentInput, AgentNetwork, MLPTorso


def random_unroll(rng,
                  T,
                  B,
                  obs_shape,
                  action_spec: ActionSpec,
                  dtype=np.float32,
                  lstm_size=0,
                  terminal_prob=0.1,
                  truncation_prob=0.0) -> Unroll:
  """A random [T + 1, B] unroll with consistent first/terminated flags.

  `dtype` is that of the observations; float data uses float64 only when the
  observations do (float64 tests), float32 otherwise.
  """
  float_dtype = np.float64 if np.dtype(dtype) == np.float64 else np.float32
  if np.dtype(dtype) == np.uint8:
    observation = rng.integers(0, 256, [T + 1, B, *obs_shape]).astype(np.uint8)
  else:
    observation = rng.normal(size=[T + 1, B, *obs_shape]).astype(dtype)
  if action_spec.kind == 'discrete':
    action = rng.integers(0, action_spec.num_actions, [T + 1, B]).astype(np.int32)
    log_mu = np.log(rng.dirichlet(np.ones(action_spec.num_actions), [T + 1, B]))
    behaviour = np.take_along_axis(log_mu, action[..., None], -1)[..., 0]
  else:
    action = rng.normal(size=[T + 1, B, *action_spec.shape]).astype(np.float32)
    behaviour = rng.normal(-1.0, 0.3, size=[T + 1, B])
  terminated = rng.random([T + 1, B]) < terminal_prob
  truncated = (rng.random([T + 1, B]) < truncation_prob) & ~terminated
  first = terminated | truncated
  prev_action = np.concatenate([np.zeros_like(action[:1]), action[:-1]])
  prev_action[first] = 0
  core = tuple(tf.constant(rng.normal(size=[B, lstm_size]), float_dtype)
               for _ in range(2)) if lstm_size else ()
  return Unroll(observation=tf.constant(observation),
                prev_action=tf.constant(prev_action),
                reward=tf.constant(rng.normal(size=[T + 1, B]).astype(float_dtype)),
                first=tf.constant(first),
                terminated=tf.constant(terminated),
                truncated=tf.constant(truncated),
                action=tf.constant(action),
                behaviour_log_prob=tf.constant(behaviour.astype(float_dtype)),
                core_state=core)


def agent_input(unroll: Unroll, select=lambda x: x) -> AgentInput:
  """The network's input fields of `unroll`, each passed through `select`."""
  return AgentInput(*(select(getattr(unroll, name)) for name in AgentInput._fields))


def build_network(unroll: Unroll,
                  action_spec,
                  num_heads=1,
                  torso=None,
                  lstm_size=0,
                  **network_kwargs) -> AgentNetwork:
  network = AgentNetwork(torso or MLPTorso((16, 16)),
                         action_spec,
                         num_heads=num_heads,
                         lstm_size=lstm_size,
                         **network_kwargs)
  network(agent_input(unroll), unroll.core_state)
  return network


def build_updater(network,
                  tuned=None,
                  optimizer='rmsprop',
                  config=UpdateConfig(),
                  dtype=tf.float32,
                  optimizer_kwargs=None,
                  strategy=None,
                  **metaparam_kwargs):
  """IMPALA when tuned=(), STAC/STACX with every metaparameter by default."""
  if tuned is None:
    tuned = tunable_names(metaparam_kwargs.get('tie_alpha', True))
  metaparams = MetaParameters(network.num_heads, tuned=tuned, dtype=dtype, **metaparam_kwargs)
  theta_optimizer = optimizers.make_optimizer(optimizer, network.trainable_variables,
                                              **(optimizer_kwargs or {}))
  meta_optimizer = optimizers.Adam(metaparams.logit_variables) if tuned else None
  return StacUpdater(network, metaparams, theta_optimizer, meta_optimizer, config, strategy)
