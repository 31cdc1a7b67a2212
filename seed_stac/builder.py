"""Builds the learner's model objects from a config: network, metaparameters,
optimizers and the update step. Used by the learner, evaluation and
benchmarks, so they all build the same agent."""

import contextlib
import dataclasses

import tensorflow as tf

from seed_stac import config as config_lib
from seed_stac.algo import losses, optimizers
from seed_stac.algo.metaparams import Hyperparameters, MetaParameters
from seed_stac.algo.update import StacUpdater, UpdateConfig
from seed_stac.envs.base import EnvSpec
from seed_stac.nets import AgentInput, AgentNetwork, torsos


@dataclasses.dataclass
class Agent:
  network: AgentNetwork
  metaparams: MetaParameters
  updater: StacUpdater

  def checkpoint_objects(self) -> dict:
    """Everything a checkpoint must hold to resume training exactly."""
    objects = dict(network_weights=network_weights(self.network),
                   metaparams=self.metaparams,
                   optimizer=self.updater.optimizer,
                   updater=self.updater)
    if self.updater.meta_optimizer is not None:
      objects['meta_optimizer'] = self.updater.meta_optimizer
    return objects


def network_weights(network: AgentNetwork) -> list:
  """The network's variables, in construction order, for tf.train.Checkpoint.

  Keras 3 models do not put layers passed in from outside (the torso) into
  TensorFlow's checkpoint object graph, so the weights are saved as an
  explicit list; the same config builds them in the same order.
  """
  return list(network.variables)


def build_network(config, env_spec: EnvSpec) -> AgentNetwork:
  """Builds and initialises (by one dummy call) the agent network."""
  net = config.network
  if net.normalize_observations and env_spec.observation_dtype != 'float32':
    raise config_lib.ConfigError(
        f'config.network.normalize_observations needs float32 observations; '
        f'{env_spec.name} has {env_spec.observation_dtype}')
  network = AgentNetwork(torsos.make_torso(net),
                         env_spec.action,
                         num_heads=config_lib.num_heads(config),
                         lstm_size=net.lstm_size,
                         min_scale=net.min_scale,
                         reward_clip=config.algo.reward_clip,
                         gaussian_scale=net.gaussian_scale,
                         initial_scale=net.initial_scale,
                         normalize_observations=net.normalize_observations,
                         bounded_mean=net.bounded_mean,
                         continuous_policy=net.continuous_policy,
                         action_bins=net.action_bins,
                         policy_init_gain=net.policy_init_gain,
                         value_normalization_step=net.value_normalization_step,
                         value_torso=torsos.make_torso(net) if net.separate_value_torso else None)
  network(dummy_inputs(env_spec, 1), network.initial_state(1))
  return network


def dummy_inputs(env_spec: EnvSpec, batch_size: int, time_steps: int = 1) -> AgentInput:
  """Zero inputs of the right shapes/dtypes, [time_steps, batch_size, ...]."""
  lead = [time_steps, batch_size]
  action = env_spec.action
  return AgentInput(observation=tf.zeros(lead + list(env_spec.stacked_observation_shape),
                                         env_spec.observation_dtype),
                    prev_action=tf.zeros(lead + list(action.shape), action.dtype),
                    reward=tf.zeros(lead),
                    first=tf.ones(lead, tf.bool))


def learner_steps(config, env_spec: EnvSpec, frames: int) -> int:
  """Learner steps taken over `frames` environment frames: each batch brings
  B - R fresh unrolls of T agent steps (R replayed) and is trained on
  `learner.passes` times."""
  fresh_unrolls = config.learner.batch_size - config_lib.num_replayed(config)
  frames_per_batch = fresh_unrolls * config.learner.unroll_length * env_spec.frames_per_step
  return max(1, frames * config.learner.passes // frames_per_batch)


def make_strategy(strategy: str, tpu_name: str = 'local'):
  """None (one device), MirroredStrategy over the local GPUs, or TPUStrategy.

  tpu_name: 'local' for the TPU VM this process runs on (the only resolver
  that works inside a TPU VM container; '' asks for a TPU name and fails),
  else the name of a TPU to connect to.
  """
  if strategy == 'none':
    return None
  if strategy == 'mirrored':
    return tf.distribute.MirroredStrategy()
  resolver = tpu_resolver(tpu_name)
  tf.config.experimental_connect_to_cluster(resolver)
  tf.tpu.experimental.initialize_tpu_system(resolver)
  return tf.distribute.TPUStrategy(resolver)


def tpu_resolver(tpu_name: str):
  """The TPUClusterResolver for `tpu_name`; a clear error for an empty name."""
  if not tpu_name:
    raise ValueError("learner.tpu_name must be 'local' (the TPU VM this runs on) "
                     'or the name of a TPU, got an empty string')
  return tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu_name)


def build_agent(config, env_spec: EnvSpec) -> Agent:
  """Builds everything under the configured tf.distribute strategy's scope,
  from a config that `config.validate` has passed (the binaries check it
  once, at start)."""
  strategy = make_strategy(config.learner.strategy, config.learner.tpu_name)
  with strategy.scope() if strategy else contextlib.nullcontext():
    return _build_agent(config, env_spec, strategy)


def _build_agent(config, env_spec: EnvSpec, strategy) -> Agent:
  network = build_network(config, env_spec)
  algo = config.algo
  metaparams = MetaParameters(config_lib.num_heads(config),
                              outer=Hyperparameters(**algo.outer),
                              fixed=Hyperparameters(**algo.fixed),
                              tuned=config_lib.tuned_metaparameters(config),
                              tie_alpha=algo.tie_alpha,
                              init_logits=dict(algo.init_logits),
                              coefficient_ceiling=algo.coefficient_ceiling)
  opt = config.optimizer
  kwargs = dict(decay=opt.decay, epsilon=opt.epsilon) if opt.name == 'rmsprop' else {}
  optimizer = optimizers.make_optimizer(opt.name, network.trainable_variables, **kwargs)
  meta = config.meta_optimizer
  meta_optimizer = (optimizers.Adam(
      metaparams.logit_variables, beta1=meta.beta1, beta2=meta.beta2, epsilon=meta.epsilon)
                    if metaparams.logit_variables else None)
  update_config = UpdateConfig(
      learning_rate=opt.learning_rate,
      total_steps=learner_steps(config, env_spec, opt.decay_frames) if opt.decay_frames else 0,
      max_grad_norm=opt.max_grad_norm,
      meta_learning_rate=config.meta_optimizer.learning_rate,
      meta_max_grad_norm=config.meta_optimizer.max_grad_norm,
      kl_coef=algo.kl_coef,
      reward_clip=algo.reward_clip,
      clips=losses.VTraceClips(algo.clip_rho, algo.clip_c, algo.clip_pg_rho),
      trust_region=algo.trust_region,
      normalize_advantages=algo.normalize_advantages,
      lookahead=algo.lookahead,
      meta_update_interval=algo.meta_update_interval,
      meta_batch_size=algo.meta_batch_size,
      jit_compile=config.learner.jit_compile,
      loss_reduction=algo.loss_reduction,
      second_order=algo.second_order)
  updater = StacUpdater(network, metaparams, optimizer, meta_optimizer, update_config, strategy)
  return Agent(network, metaparams, updater)
