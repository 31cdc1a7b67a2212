"""One learner step of IMPALA, STAC or STACX (docs/algorithm.md#one-learner-step).

1. Inner loss L(theta; eta) (sum over heads, each with its own eta) and its
   gradient g, computed inside an outer tape that watches only the eta logits.
2. Look-ahead theta' = theta - lr * u(clip(g)), u from the optimizer.
3. Outer loss at theta' through the same network (`stateless_call`), main head
   only, fixed outer hyperparameters, plus KL(pi_theta' || pi_theta).
4. d L_outer / d eta updates the eta logits with Adam; its second-order term
   is computed in reverse or forward mode (`meta_gradient.py`).
5. theta is updated with clip(g) by the real optimizer.

Tuning nothing gives IMPALA: the look-ahead and outer loss are skipped.
Non-finite gradients skip the whole step and are counted.
"""

import dataclasses
from typing import Dict, Optional, Tuple

import tensorflow as tf

from seed_stac.algo import losses
from seed_stac.algo import meta_gradient
from seed_stac.algo.metaparams import MetaParameters, head_name
from seed_stac.algo.vtrace import to_dtype
from seed_stac.nets.network import AgentInput, AgentNetwork
from seed_stac.types import REPORTED_FIELDS, Unroll

SECOND_ORDER_MODES = tuple(meta_gradient.MODES)
LOOKAHEADS = ('optimizer', 'sgd')


@dataclasses.dataclass(frozen=True)
class UpdateConfig:
  """Learner-step options. See README for each one's meaning and default.

  lookahead: 'optimizer' uses the real optimizer's direction with its
    statistics as constants; 'sgd' uses theta - lr * g.
  meta_update_interval: compute the meta-gradient every k-th step (1 = every).
  meta_batch_size: compute it on the first columns of the batch only
    (0 = whole batch, which shares the inner gradient with step 5).
  Off is 0 for every optional limit (max_grad_norm, meta_max_grad_norm,
  reward_clip, meta_batch_size, total_steps), as in the config.
  loss_reduction: 'sum' or 'mean' over time and batch, for the inner and the
    outer loss alike (see `losses`). With a strategy, 'sum' is over the whole
    batch, not a replica's slice.
  second_order: 'reverse' (reverse mode through the recorded inner backward
    pass) or 'forward' (a Jacobian-vector product of the network outputs):
    the same meta-gradient, computed two ways (`meta_gradient.py`).
  trust_region: PPO's clip e on the policy-gradient term of the inner and
    outer losses (`losses.trust_region_mask`; 0: off).
  normalize_advantages: standardise the policy-gradient advantages of each
    head's loss over the batch (`losses.standardise`).
  """
  learning_rate: float = 6e-4
  total_steps: int = 0  # 0: constant learning rate
  max_grad_norm: float = 40.0
  meta_learning_rate: float = 1e-3
  meta_max_grad_norm: float = 0.0
  kl_coef: float = 1.0
  reward_clip: float = 0.0
  clips: losses.VTraceClips = losses.VTraceClips()
  lookahead: str = 'optimizer'
  meta_update_interval: int = 1
  meta_batch_size: int = 0
  jit_compile: bool = False
  loss_reduction: str = 'mean'
  second_order: str = 'reverse'
  trust_region: float = 0.0
  normalize_advantages: bool = False

  def __post_init__(self):
    if self.lookahead not in LOOKAHEADS:
      raise ValueError(f'lookahead must be one of {LOOKAHEADS}, got {self.lookahead!r}')
    if self.meta_update_interval < 1:
      raise ValueError('meta_update_interval must be >= 1')
    for name in ('total_steps', 'max_grad_norm', 'meta_max_grad_norm', 'reward_clip',
                 'meta_batch_size', 'trust_region'):
      if getattr(self, name) < 0:
        raise ValueError(f'{name} must be >= 0 (0: off), got {getattr(self, name)!r}')
    if self.second_order not in SECOND_ORDER_MODES:
      raise ValueError(f'second_order must be one of {SECOND_ORDER_MODES}, '
                       f'got {self.second_order!r}')
    if self.loss_reduction not in losses.REDUCTIONS:
      raise ValueError(f'loss_reduction must be one of {losses.REDUCTIONS}, '
                       f'got {self.loss_reduction!r}')


def split_unroll(unroll: Unroll, reward_clip: float = 0.0) -> Tuple[AgentInput, losses.Transitions]:
  """Network inputs for steps 0..T and the T transitions between them
  (rewards clipped to +-reward_clip unless it is 0)."""
  inputs = AgentInput(unroll.observation, unroll.prev_action, unroll.reward, unroll.first)
  transitions = losses.Transitions(action=unroll.action[:-1],
                                   behaviour_log_prob=unroll.behaviour_log_prob[:-1],
                                   **{name: getattr(unroll, name)[1:] for name in REPORTED_FIELDS})
  if reward_clip:
    transitions = transitions._replace(
        reward=tf.clip_by_value(transitions.reward, -reward_clip, reward_clip))
  return inputs, transitions


def _batch_slice(unroll: Unroll, replayed: tf.Tensor, size: int, start=0):
  """Columns start..start + size of the batch and of its [B] replayed mask
  (None stays None)."""
  fields = [x[:, start:start + size] for x in unroll[:-1]]
  return (Unroll(*fields, core_state=tuple(s[start:start + size] for s in unroll.core_state)),
          None if replayed is None else replayed[start:start + size])


def _all_finite(tensors) -> tf.Tensor:
  return tf.reduce_all([tf.reduce_all(tf.math.is_finite(t)) for t in tensors])


class StacUpdater(tf.Module):
  """Owns the training step; the network, metaparameters and optimizers are
  built by the caller and shared with inference and checkpoints.

  With a `strategy` (MirroredStrategy for GPUs, TPUStrategy), everything must
  be built under `strategy.scope()`. Each replica then takes an equal slice of
  the batch; the inner gradient is averaged across replicas BEFORE the
  look-ahead, so theta' and the meta-gradient (averaged too, differentiating
  through that all-reduce) equal the single-device step on the whole batch.
  """

  def __init__(self,
               network: AgentNetwork,
               metaparams: MetaParameters,
               optimizer: tf.Module,
               meta_optimizer: Optional[tf.Module],
               config: UpdateConfig = UpdateConfig(),
               strategy: Optional[tf.distribute.Strategy] = None):
    super().__init__(name='stac_updater')
    self.network = network
    self.metaparams = metaparams
    self.optimizer = optimizer
    self.meta_optimizer = meta_optimizer
    self.config = config
    self.num_steps = tf.Variable(0, dtype=tf.int64, trainable=False)
    self.num_skipped_steps = tf.Variable(0, dtype=tf.int64, trainable=False)
    self.tunes = bool(metaparams.logit_variables)
    if self.tunes and meta_optimizer is None:
      raise ValueError('a meta_optimizer is needed when metaparameters are tuned')
    self.strategy = strategy
    compile_fn = lambda f: tf.function(f, jit_compile=config.jit_compile)
    if strategy is None:
      self._plain_step = compile_fn(lambda u, r: self._apply(*self._theta_gradients(u, r)))
      self._meta_step = compile_fn(lambda u, r: self._apply(*self._all_gradients(u, r)))
    else:
      self._plain_step = tf.function(
          lambda u, r: self._distributed_step(u, r, self._theta_gradients))
      self._meta_step = tf.function(lambda u, r: self._distributed_step(u, r, self._all_gradients))
    # Steps T of one unroll and 0 of the next are the same observation, so
    # callers pass steps 0..T-1. Without a normalizer there is nothing to do.
    self._update_statistics = (tf.function(network.update_observation_statistics)
                               if network.normalizer is not None else None)

  # ----- public -----

  def step(self, unroll: Unroll, replayed: Optional[tf.Tensor] = None) -> Dict[str, tf.Tensor]:
    """Runs one update on `unroll`; returns a flat dict of scalars to log.

    replayed: [B] bool, the columns drawn from a replay: the stats then
    include the importance ratios of fresh and replayed columns apart
    (None: no replay, no such stats). The observation statistics
    (if the network normalizes) take in this batch first, so the step trains
    on the statistics inference will use."""
    if self._update_statistics is not None:
      self._update_statistics(unroll.observation[:-1])
    every = self.config.meta_update_interval
    if self.tunes and int(self.num_steps.numpy()) % every == 0:
      return self._meta_step(unroll, replayed)
    return self._plain_step(unroll, replayed)

  def learning_rate(self) -> tf.Tensor:
    lr = tf.constant(self.config.learning_rate, tf.float32)
    if self.config.total_steps:
      progress = tf.cast(self.num_steps, tf.float32) / self.config.total_steps
      lr *= tf.maximum(0.0, 1.0 - progress)
    return lr

  def meta_gradients(self, unroll: Unroll, learning_rate=None, replayed=None):
    """(grads wrt theta, grads wrt eta logits, stats) without applying them."""
    lr = self.learning_rate() if learning_rate is None else learning_rate
    inputs, transitions = split_unroll(unroll, self.config.reward_clip)
    second_order = meta_gradient.MODES[self.config.second_order]
    return second_order(self, self.metaparams.logit_variables, inputs, unroll.core_state,
                        transitions, lr, replayed)

  def lookahead_outer_loss(self, unroll: Unroll, learning_rate=None, target_outputs=None):
    """(L_outer(theta'(eta)), theta' main-head outputs) at the current eta.

    `meta_gradients` is the gradient of this function with the outer V-trace
    targets held at `target_outputs` (the semi-gradient of Xu et al. 2018);
    finite-difference tests pass the nominal outputs there.
    """
    lr = self.learning_rate() if learning_rate is None else learning_rate
    inputs, transitions = split_unroll(unroll, self.config.reward_clip)
    grads, outputs, _ = self.inner_gradients(inputs, unroll.core_state, transitions)
    outer, _, lookahead_outputs = self.outer_loss(self.lookahead_theta(grads, lr), outputs, inputs,
                                                  unroll.core_state, transitions, target_outputs)
    return outer, lookahead_outputs

  # ----- the parts the meta-gradient differentiates (meta_gradient.StepLosses) -----

  def lookahead_theta(self, grads, lr):
    """theta' = theta - lr * u(clip(g)), u with this step's statistics as constants."""
    clipped, _ = self._clip(grads)
    if self.config.lookahead == 'optimizer':
      direction = self.optimizer.direction(clipped)
    else:
      direction = clipped
    theta = self.network.trainable_variables
    return [w - to_dtype(lr, w.dtype) * u for w, u in zip(theta, direction)]

  def _head_value_scale(self, head: int):
    scale = self.network.value_scale()
    return None if scale is None else scale[head]

  def inner_loss(self, outputs, transitions):
    total, stats = 0.0, {}
    for head in range(self.network.num_heads):
      loss, terms = losses.head_loss(outputs.policy_params[:, :, head],
                                     outputs.values[:, :, head],
                                     transitions,
                                     self.metaparams.head(head),
                                     self.network.distribution,
                                     self.config.clips,
                                     reduction=self.config.loss_reduction,
                                     trust_region=self.config.trust_region,
                                     normalize_advantages=self.config.normalize_advantages,
                                     value_scale=self._head_value_scale(head))
      total += loss
      stats.update({f'{head_name(head)}/{k}': v for k, v in terms.items()})
    stats['inner_loss'] = total
    return total * self._replica_loss_scale(), stats

  def _replica_loss_scale(self) -> float:
    """Replica gradients are averaged; a summed loss must be summed over the
    whole batch, so each replica's slice sum counts num_replicas times."""
    if self.strategy is None or self.config.loss_reduction != 'sum':
      return 1.0
    return float(self.strategy.num_replicas_in_sync)

  def inner_gradients(self, inputs, core_state, transitions, replayed=None):
    """(gradients wrt theta, outputs at theta, stats); with a [B] `replayed`
    mask the stats include the main head's importance ratios, fresh and
    replayed apart."""
    theta = self.network.trainable_variables
    with tf.GradientTape() as tape:
      outputs, _ = self.network(inputs, core_state)
      loss, stats = self.inner_loss(outputs, transitions)
    if replayed is not None:
      log_rhos = losses.log_importance_ratios(outputs.policy_params[:, :, 0], transitions,
                                              self.network.distribution)
      stats.update(losses.ratio_stats(log_rhos, replayed, self.config.clips.rho))
    return self.cross_replica_mean(tape.gradient(loss, theta)), outputs, stats

  def cross_replica_mean(self, values):
    """Mean over replicas inside a distributed step (differentiable); else
    the values themselves."""
    context = tf.distribute.get_replica_context()
    if self.strategy is None or context is None:
      return values
    return context.all_reduce(tf.distribute.ReduceOp.MEAN, values)

  def outer_loss(self, new_theta, outputs, inputs, core_state, transitions, target_outputs=None):
    """(L_outer at theta', its stats, theta' main-head outputs)."""
    (new_outputs, _), _ = self.network.stateless_call(new_theta,
                                                      self.network.non_trainable_variables, inputs,
                                                      core_state)
    main = (new_outputs.policy_params[:, :, 0], new_outputs.values[:, :, 0])
    outer, terms = losses.outer_loss(*main,
                                     outputs.policy_params[:, :, 0],
                                     transitions,
                                     self.metaparams.outer,
                                     self.config.kl_coef,
                                     self.network.distribution,
                                     self.config.clips,
                                     target_outputs,
                                     reduction=self.config.loss_reduction,
                                     trust_region=self.config.trust_region,
                                     normalize_advantages=self.config.normalize_advantages,
                                     value_scale=self._head_value_scale(0))
    stats = {f'outer/{k}': v for k, v in terms.items()}
    stats['outer_loss'] = outer
    return outer * self._replica_loss_scale(), stats, main

  # ----- the step itself -----

  def _distributed_step(self, unroll: Unroll, replayed, grads_fn):
    """Replicas compute averaged gradients on their slices; one update."""
    replicas = self.strategy.num_replicas_in_sync
    batch_size = unroll.observation.shape[1]
    if batch_size % replicas:
      raise ValueError(f'batch size {batch_size} must be divisible by the {replicas} replicas')
    per_replica = batch_size // replicas

    def replica_fn(full, full_replayed):
      start = tf.distribute.get_replica_context().replica_id_in_sync_group * per_replica
      grads, meta_grads, stats = grads_fn(*_batch_slice(full, full_replayed, per_replica, start))
      return grads, meta_grads, self.cross_replica_mean(stats)

    results = self.strategy.run(replica_fn, args=(unroll, replayed))
    first = lambda x: self.strategy.experimental_local_results(x)[0]
    return self._apply(*tf.nest.map_structure(first, results))

  def _clip(self, grads):
    if not self.config.max_grad_norm:
      return grads, tf.linalg.global_norm(grads)
    return tf.clip_by_global_norm(grads, self.config.max_grad_norm)

  def _apply(self, grads, meta_grads, stats):
    """Applies both updates unless a gradient is non-finite; logs."""
    lr = self.learning_rate()
    clipped, grad_norm = self._clip(grads)
    finite = _all_finite(grads + meta_grads)
    if meta_grads and self.config.meta_max_grad_norm:
      meta_grads, _ = tf.clip_by_global_norm(meta_grads, self.config.meta_max_grad_norm)

    def apply_updates():
      self.optimizer.apply(clipped, lr)
      if meta_grads:
        self.meta_optimizer.apply(meta_grads, self.config.meta_learning_rate)
      if self.network.popart is not None:
        heads = [head_name(h) for h in range(self.network.num_heads)]
        self.network.update_value_statistics(
            tf.stack([stats[f'{h}/target_mean'] for h in heads]),
            tf.stack([stats[f'{h}/target_square_mean'] for h in heads]))
      return tf.constant(0, tf.int64)

    skipped = tf.cond(finite, apply_updates, lambda: tf.constant(1, tf.int64))
    self.num_skipped_steps.assign_add(skipped)
    self.num_steps.assign_add(1)
    stats = dict(stats,
                 grad_norm=grad_norm,
                 learning_rate=lr,
                 skipped_steps=self.num_skipped_steps,
                 learner_steps=self.num_steps)
    if meta_grads:
      stats['meta_grad_norm'] = tf.linalg.global_norm(meta_grads)
    if self.network.popart is not None:
      for head in range(self.network.num_heads):
        stats[f'{head_name(head)}/value_sigma'] = self.network.value_scale()[head]
    stats.update(self.metaparams.as_dict())
    return {k: tf.cast(v, tf.float32) for k, v in stats.items()}

  def _theta_gradients(self, unroll: Unroll, replayed=None):
    inputs, transitions = split_unroll(unroll, self.config.reward_clip)
    grads, _, stats = self.inner_gradients(inputs, unroll.core_state, transitions, replayed)
    return grads, [], stats

  def _all_gradients(self, unroll: Unroll, replayed=None):
    """(grads, meta_grads, stats). With a strategy, `meta_batch_size` is per replica."""
    size = self.config.meta_batch_size
    if not size or size >= unroll.observation.shape[1]:
      return self.meta_gradients(unroll, replayed=replayed)
    # A sub-batch meta-gradient: the full-batch gradient is computed apart.
    sub_batch, _ = _batch_slice(unroll, None, size)
    _, meta_grads, meta_stats = self.meta_gradients(sub_batch)
    grads, _, stats = self._theta_gradients(unroll, replayed)
    outer_stats = {k: v for k, v in meta_stats.items() if k.startswith('outer')}
    return grads, meta_grads, dict(stats, **outer_stats)
