"""Default configuration and its validation.

Files in `configs/` start from `default_config()` and change what their
setting needs. Binaries load them with absl/ml_collections
(`--config=configs/atari.py:Pong --config.learner.batch_size=16`), call
`validate(config)` at start, and pass plain values down; library code never
reads flags.
"""

import dataclasses
import math

import ml_collections

from seed_stac.algo import names

AGENTS = ('impala', 'stac', 'stacx')
STACX_HEADS = 3


def default_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.agent = 'stac'  # impala | stac | stacx
  c.seed = 0

  c.env = ml_collections.ConfigDict()
  c.env.kind = 'cartpole'  # a key of seed_stac/envs/__init__.py _KINDS
  c.env.name = 'CartPole-v1'
  c.env.options = ml_collections.ConfigDict()

  c.network = ml_collections.ConfigDict()
  c.network.torso = 'mlp'  # a key of nets/torsos.py TORSOS: mlp | resnet | conv | nature
  # Each torso's own settings (nature has none: its sizes are fixed).
  c.network.mlp = ml_collections.ConfigDict(dict(sizes=(256, 256), activation='relu'))
  # IMPALA deep: channels per section, residual blocks per section, FC size.
  c.network.resnet = ml_collections.ConfigDict(dict(channels=(16, 32, 32), blocks=2, fc_size=256))
  # (channels, kernel, stride) per layer, 'valid' padding, ReLU; then FC.
  c.network.conv = ml_collections.ConfigDict(dict(layers=((16, 3, 1),), fc_size=256))
  c.network.lstm_size = 0  # 0: feed-forward
  c.network.min_scale = 1e-3  # Gaussian head scale floor
  # Gaussian head: 'state' (an output of the policy layer) or 'global' (one
  # learned scale per action dimension, starting at initial_scale).
  c.network.gaussian_scale = 'state'
  c.network.initial_scale = 1.0
  # Gaussian head: squash the mean into the action bounds (tanh).
  c.network.bounded_mean = False
  # Continuous actions: gaussian (clipped by the environment) | tanh_gaussian
  # (squashed into the bounds, bounded entropy) | discretized (a categorical
  # over action_bins values per dimension); see nets/distributions.py.
  c.network.continuous_policy = 'gaussian'
  c.network.action_bins = 11
  # The policy layer starts orthogonal with this gain (0: Keras's default).
  c.network.policy_init_gain = 0.0
  # PopArt value normalization per head: its statistics' step size per
  # learner step (IMPALA on DMLab-30: 3e-4); 0: off (nets/normalization.py).
  c.network.value_normalization_step = 0.0
  # Feature observations: running mean/variance normalization, clipped to +-10.
  c.network.normalize_observations = False
  # A second torso of the same kind for the value head (feed-forward only).
  c.network.separate_value_torso = False

  c.algo = ml_collections.ConfigDict()
  # Fixed outer-loss hyperparameters (paper, Atari).
  c.algo.outer = ml_collections.ConfigDict(dataclasses.asdict(names.Hyperparameters(gamma=0.995)))
  c.algo.kl_coef = 1.0
  # Values of untuned hyperparameters (all of them for IMPALA).
  c.algo.fixed = ml_collections.ConfigDict(dataclasses.asdict(names.Hyperparameters()))
  c.algo.tuned = names.tunable(tie_alpha=True)  # every one (seed_stac/algo/names.py)
  c.algo.tie_alpha = True
  c.algo.init_logits = ml_collections.ConfigDict()  # e.g. {'aux1/gamma': 3.0}
  # A tuned loss coefficient ranges over (0, ceiling x its outer value). 1 is
  # the paper's: the coefficient starts 1% below its ceiling and cannot rise
  # above its outer value (docs/algorithm.md#metaparameters).
  c.algo.coefficient_ceiling = 1.0
  c.algo.clip_rho = 1.0
  c.algo.clip_c = 1.0
  c.algo.clip_pg_rho = 1.0
  # PPO's trust region on the policy-gradient term (0: off): a sample whose
  # ratio pi/mu has left [1 - e, 1 + e] in the direction its advantage pushes
  # it contributes no policy gradient (docs/algorithm.md#reuse-and-the-trust-region).
  c.algo.trust_region = 0.0
  # Standardise the policy-gradient advantages over each batch (PPO's habit):
  # the policy term's scale, and its balance with the entropy bonus, then does
  # not depend on the return's scale.
  c.algo.normalize_advantages = False
  c.algo.reward_clip = 0.0  # 0: no clipping; Atari: 1.0
  c.algo.lookahead = 'optimizer'  # optimizer | sgd
  c.algo.meta_update_interval = 1
  c.algo.meta_batch_size = 0  # 0: whole batch
  # How the meta-gradient's second-order term is computed (same result):
  # 'reverse', reverse mode through the recorded inner backward pass, or
  # 'forward', a Jacobian-vector product of the network outputs. Reverse is
  # 11-15% faster on this project's CPUs (README, learner-step table).
  c.algo.second_order = 'reverse'  # reverse | forward
  # Reduction of every loss over time and batch. 'sum' is IMPALA's convention,
  # the scale its RMSProp epsilon, initial mean-square and clip 40 are tuned
  # for; 'mean' suits scale-free optimizers (Adam configs).
  c.algo.loss_reduction = 'sum'  # sum | mean

  # Run logs (seed_stac/learner/logs.py): CSV, TensorBoard and the progress
  # line always; Weights & Biases when wandb_project is set
  # (pip install "seed_stac[wandb]"; offline mode needs no account).
  c.log = ml_collections.ConfigDict()
  c.log.wandb_project = ''
  c.log.wandb_entity = ''
  c.log.wandb_mode = 'online'  # online | offline

  c.optimizer = ml_collections.ConfigDict()
  c.optimizer.name = 'rmsprop'  # rmsprop | adam | sgd
  c.optimizer.learning_rate = 6e-4
  c.optimizer.decay = 0.99  # rmsprop
  c.optimizer.epsilon = 0.01  # rmsprop
  c.optimizer.max_grad_norm = 40.0  # 0: no clipping
  # The learning rate decays linearly to 0 over this many environment frames,
  # then stays 0; 0: constant. A property of the algorithm, not of the run's
  # budget: a shortened run trains with the same rates as a full one.
  c.optimizer.decay_frames = 0
  c.meta_optimizer = ml_collections.ConfigDict()
  c.meta_optimizer.learning_rate = 1e-3  # Adam on the eta logits
  c.meta_optimizer.beta1 = 0.9
  c.meta_optimizer.beta2 = 0.999
  c.meta_optimizer.epsilon = 1e-8
  c.meta_optimizer.max_grad_norm = 0.0  # 0: no clipping

  c.learner = ml_collections.ConfigDict()
  c.learner.total_frames = 1_000_000
  # Stop before the budget once a log row's mean episode return reaches this
  # (None: play the whole budget). A run that met it says so at its end.
  c.learner.stop_at_return = ml_collections.config_dict.placeholder(float)
  c.learner.batch_size = 32
  c.learner.unroll_length = 20
  c.learner.inference_batch_size = 64
  c.learner.batch_timeout_ms = 5.0
  c.learner.unroll_queue_capacity = 64
  # Sample reuse (docs/algorithm.md#reuse-and-the-trust-region): each batch
  # replays round(batch_size * replay_fraction) unrolls drawn uniformly from the
  # last replay_capacity fresh ones (0: every unroll trained on once, FIFO), and
  # the learner takes `passes` steps on each batch.
  c.learner.replay_fraction = 0.0
  c.learner.replay_capacity = 0  # unrolls; needed when replay_fraction > 0
  c.learner.passes = 1
  c.learner.jit_compile = False
  c.learner.strategy = 'none'  # tf.distribute: none | mirrored (all local GPUs) | tpu
  # auto | cpu | gpu | tpu: 'gpu'/'tpu' fail at start without such a device.
  c.learner.device = 'auto'
  # strategy=tpu: the TPU to connect to. 'local' is the TPU VM this
  # process runs on (also inside a container there); else a TPU name.
  c.learner.tpu_name = 'local'
  c.learner.log_interval_s = 10.0
  c.learner.checkpoint_interval_s = 600.0
  # No environment step for this long: checkpoint once and warn every minute
  # (at most every idle_warning_s) until steps arrive again.
  c.learner.idle_warning_s = 1800.0
  # No environment step for this long: checkpoint, name the actors that are
  # missing and exit non-zero (0: wait for ever). On a billed machine a
  # learner whose actors never came (a quota of 0, a stockout) must not idle;
  # the cloud entrypoint sets 3600 unless told otherwise.
  c.learner.idle_exit_s = 0.0

  c.actor = ml_collections.ConfigDict()
  c.actor.num_actors = 4  # local launcher only
  c.actor.env_batch_size = 16
  return c


def use_small_feature_agent(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The settings for small feature-observation tasks (the user-environment
  configs gym and dm_env): MLP 64-64, Adam 3e-3 on mean losses decaying to 0
  over 1M frames, batch 16 x T 20, 2 actors x 8 envs, 1M frames. Returns `c`,
  changed in place."""
  c.network.torso = 'mlp'
  c.network.mlp.sizes = (64, 64)
  c.optimizer.name = 'adam'
  c.algo.loss_reduction = 'mean'
  c.optimizer.learning_rate = 3e-3
  c.optimizer.decay_frames = 1_000_000
  c.learner.total_frames = 1_000_000
  c.learner.batch_size = 16
  c.learner.unroll_length = 20
  c.learner.inference_batch_size = 32
  c.actor.num_actors = 2
  c.actor.env_batch_size = 8
  return c


def use_control_agent(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The optimizer and budget of the continuous-control configs (dmc_features,
  dmc_pixels, rwrl): Adam 3e-4 on mean losses decaying to 0 over 30M frames,
  batch 32 x T 20, 30M frames.
  The torso and envs per actor are each config's own. Returns `c`, changed
  in place."""
  c.optimizer.name = 'adam'
  c.algo.loss_reduction = 'mean'  # Adam is scale-free; clip 40 never acts on means
  c.optimizer.learning_rate = 3e-4
  c.optimizer.decay_frames = 30_000_000
  c.learner.total_frames = 30_000_000
  c.learner.batch_size = 32
  c.learner.unroll_length = 20
  return c


def use_continuous_control_recipe(c: ml_collections.ConfigDict,
                                  features: bool = True) -> ml_collections.ConfigDict:
  """The continuous-control recipe of dmc_features, rwrl and dmc_pixels
  (docs/results.md measures each part): tanh-squashed Gaussian with a learned
  state-independent scale, policy layer initialised with gain 0.01, PopArt,
  standardised advantages, and each batch of 16 x T 32 replaying 12 unrolls
  from the last 512, two passes, under a trust region of 0.2. With `features`
  (float observations) also a tanh MLP 64-64 with a separate value torso and
  observation normalization. Returns `c`, changed in place."""
  net = c.network
  if features:
    net.torso = 'mlp'
    net.mlp.sizes, net.mlp.activation = (64, 64), 'tanh'
    net.separate_value_torso = True
    net.normalize_observations = True
  net.continuous_policy = 'tanh_gaussian'
  net.gaussian_scale, net.initial_scale = 'global', 1.0
  net.policy_init_gain = 0.01
  net.value_normalization_step = 1e-3
  c.algo.normalize_advantages = True
  c.algo.trust_region = 0.2
  c.learner.update(batch_size=16,
                   unroll_length=32,
                   replay_fraction=0.75,
                   replay_capacity=512,
                   passes=2)
  return c


_POSITIVE = ('learner.batch_size', 'learner.unroll_length', 'learner.total_frames',
             'learner.inference_batch_size', 'learner.unroll_queue_capacity',
             'actor.env_batch_size', 'actor.num_actors', 'optimizer.learning_rate',
             'algo.meta_update_interval', 'learner.idle_warning_s', 'algo.clip_rho', 'algo.clip_c',
             'algo.clip_pg_rho', 'learner.passes', 'network.action_bins')
# Optional limits: 0 turns each off (the one "off" value, here and in
# algo/update.py:UpdateConfig).
_NON_NEGATIVE = ('learner.batch_timeout_ms', 'optimizer.max_grad_norm',
                 'meta_optimizer.max_grad_norm', 'algo.reward_clip', 'algo.meta_batch_size',
                 'optimizer.decay_frames', 'algo.trust_region', 'learner.replay_capacity',
                 'network.policy_init_gain', 'network.value_normalization_step',
                 'learner.idle_exit_s')


def _choices() -> dict:
  """Every choice key and its valid values, as the module that owns each
  declares them (imported here, so that loading a config imports neither
  TensorFlow nor the environments)."""
  # pylint: disable=import-outside-toplevel
  from seed_stac import envs
  from seed_stac.algo import losses, optimizers, update
  from seed_stac.learner import devices, logs
  from seed_stac.nets import distributions, network, torsos
  return {
      'agent': AGENTS,
      'env.kind': envs.KINDS,
      'network.torso': tuple(torsos.TORSOS),
      'network.mlp.activation': torsos.MLP_ACTIVATIONS,
      'network.gaussian_scale': network.AgentNetwork.SCALES,
      'network.continuous_policy': distributions.CONTINUOUS_POLICIES,
      'optimizer.name': tuple(optimizers.OPTIMIZERS),
      'algo.lookahead': update.LOOKAHEADS,
      'algo.loss_reduction': losses.REDUCTIONS,
      'algo.second_order': update.SECOND_ORDER_MODES,
      'log.wandb_mode': logs.WANDB_MODES,
      'learner.strategy': devices.STRATEGIES,
      'learner.device': devices.DEVICES,
  }


def _get(config, key):
  value = config
  for part in key.split('.'):
    value = value[part]
  return value


class ConfigError(ValueError):
  """A configuration value is invalid; the message names the key."""


def validate(config) -> None:
  """Raises ConfigError naming the first bad key."""
  for key, choices in _choices().items():
    if _get(config, key) not in choices:
      raise ConfigError(f'config.{key}={_get(config, key)!r} is not one of {choices}')
  for key in _POSITIVE:
    if not _get(config, key) > 0:
      raise ConfigError(f'config.{key} must be > 0, got {_get(config, key)!r}')
  for key in _NON_NEGATIVE:
    if not _get(config, key) >= 0:
      raise ConfigError(f'config.{key} must be >= 0 (0: off), got {_get(config, key)!r}')
  _validate_reuse(config)
  if not config.algo.coefficient_ceiling >= 1:
    raise ConfigError(f'config.algo.coefficient_ceiling must be >= 1 (1: a tuned coefficient is at '
                      f'most its outer value), got {config.algo.coefficient_ceiling!r}')
  stop_at_return = config.learner.stop_at_return
  if stop_at_return is not None and not math.isfinite(stop_at_return):
    raise ConfigError(f'config.learner.stop_at_return must be a finite number or None, '
                      f'got {stop_at_return!r}')
  for key in ('outer', 'fixed'):
    for name, value in config.algo[key].items():
      upper = names.upper_bound(name)
      if not 0.0 <= value <= upper:
        raise ConfigError(f'config.algo.{key}.{name}={value} is outside [0, {upper}]')


def _validate_reuse(config) -> None:
  learner = config.learner
  if learner.unroll_queue_capacity < learner.batch_size:
    raise ConfigError(f'config.learner.unroll_queue_capacity ({learner.unroll_queue_capacity}) '
                      f'must be >= config.learner.batch_size ({learner.batch_size})')
  if not config.algo.trust_region < 1:
    raise ConfigError(f'config.algo.trust_region must be in [0, 1) (0: off), '
                      f'got {config.algo.trust_region!r}')
  fraction = learner.replay_fraction
  if not 0 <= fraction < 1:
    raise ConfigError(
        f'config.learner.replay_fraction must be in [0, 1) (0: off), got {fraction!r}')
  replayed = num_replayed(config)
  if fraction and not 0 < replayed < learner.batch_size:
    raise ConfigError(f'config.learner.replay_fraction={fraction} replays {replayed} of a batch '
                      f'of {learner.batch_size} unrolls; it must replay between 1 and '
                      f'{learner.batch_size - 1}')
  if fraction and learner.replay_capacity < replayed:
    raise ConfigError(f'config.learner.replay_capacity ({learner.replay_capacity} unrolls) must '
                      f'hold at least the {replayed} replayed per batch')


def num_replayed(config) -> int:
  """Replayed unrolls per batch."""
  from seed_stac.learner import unroll_sources  # pylint: disable=import-outside-toplevel
  return unroll_sources.replayed_per_batch(config.learner.batch_size,
                                           config.learner.replay_fraction)


# What a run's checkpoints and environment depend on: a run directory resumes
# only under a config that agrees on these (other keys, a learning rate or a
# frame budget, may change between sittings).
RESUME_KEYS = ('agent', 'env', 'network', 'optimizer.name', 'algo.tuned', 'algo.tie_alpha',
               'algo.coefficient_ceiling')


def _flatten(node, prefix=''):
  items = {}
  for key, value in node.items():
    name = f'{prefix}{key}'
    if isinstance(value, dict):
      items.update(_flatten(value, name + '.'))
    else:
      items[name] = value
  return items


def resume_differences(saved: dict, config) -> list:
  """'key: saved -> now' for each RESUME_KEYS entry (or key under it) where
  a run directory's saved config (its config.json, a dict) and `config` differ.
  Keys only one of them has (added or removed by a newer version of this
  code) are not compared."""
  import json  # pylint: disable=import-outside-toplevel
  now = _flatten(json.loads(config.to_json_best_effort(sort_keys=True)))
  before = _flatten(saved)
  keys = sorted(k for k in set(now) & set(before)
                if any(k == r or k.startswith(r + '.') for r in RESUME_KEYS))
  return [
      f'{k}: {before[k]!r} -> {now[k]!r}' for k in keys if _normal(before[k]) != _normal(now[k])
  ]


def _normal(value):
  """JSON turns tuples into lists; compare them alike."""
  return list(value) if isinstance(value, tuple) else value


def num_heads(config) -> int:
  return STACX_HEADS if config.agent == 'stacx' else 1


def tuned_metaparameters(config):
  return () if config.agent == 'impala' else tuple(config.algo.tuned)
