"""The agent builder: the Atari optimizer and the loss reduction agree.

IMPALA's RMSProp (epsilon 0.01 inside the square root, mean-square started at
ones, global-norm clip 40) was tuned for losses SUMMED over time and batch.
Measured on real Pong frames at initialisation (batch 32, T = 20), summed
losses give a global gradient norm of about 900, so the clip acts; averaged
ones give about 1.4 and the clip never acts.

What this checks, with real Pong frames (random play) and the real step:
  * RMSProp is adaptive, not epsilon-dominated: once its mean-square matches
    the (clipped) gradient, the per-parameter step is lr * |g| / sqrt(g^2 + eps)
    in [0, 1) x lr. Its median over parameters with a nonzero gradient must be
    at least 0.1 (measured: 0.18 with sums, 0.006 with means, where
    RMSProp degenerates into SGD with a tiny step).
  * The first real step (mean-square still near its initial ones, so roughly
    lr * g) moves the median parameter by at least 0.005 lr (measured: 0.018
    with sums and clip 40, 0.0006 with means). Parameters whose gradient is
    exactly zero (behind ReLUs that are off for every frame) are left out of
    both medians: they are over half the fully connected layer.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from configs import atari
from seed_stac.builder import build_agent
from seed_stac.types import Unroll
from seed_stac.envs.base import ActionSpec, EnvSpec
from seed_stac.envs.subprocess_env import SubprocessEnvironment

T, B = 20, 32


@pytest.fixture(scope='module')
def pong_unroll():
  """A [T + 1, B] unroll of real Pong frames from uniform random play."""
  env = SubprocessEnvironment('atari', 'Pong', seed=0)
  rng = np.random.default_rng(0)
  try:
    env.reset()
    num_actions = env.spec.action.num_actions
    actions = rng.integers(num_actions, size=(B, T + 1)).astype(np.int32)
    steps = [env.step(int(a)) for a in actions.ravel()]
  finally:
    env.close()
  frames = np.stack([s.observation for s in steps]).reshape((B, T + 1) + env.spec.observation_shape)
  stacks = np.repeat(frames.swapaxes(0, 1)[:, :, None], env.spec.frame_stack, axis=2)
  rewards = np.array([s.reward for s in steps], np.float32).reshape(B, T + 1).T
  no = tf.zeros((T + 1, B), tf.bool)
  unroll = Unroll(observation=tf.constant(stacks),
                  prev_action=tf.constant(actions.T),
                  reward=tf.constant(rewards),
                  first=no,
                  terminated=no,
                  truncated=no,
                  action=tf.constant(actions.T),
                  behaviour_log_prob=tf.fill((T + 1, B), float(np.log(1 / num_actions))))
  return env.spec, unroll


def rmsprop_step_ratios(loss_reduction, spec, unroll):
  """(steady-state median |g|/sqrt(g^2+eps), first-step median |dtheta|/lr)."""
  config = atari.get_config('Pong,stac')
  config.algo.loss_reduction = loss_reduction
  keras.utils.set_random_seed(0)
  agent = build_agent(config, spec)
  grads, _, _ = agent.updater.meta_gradients(unroll)
  clipped, _ = tf.clip_by_global_norm(grads, config.optimizer.max_grad_norm)
  g = np.concatenate([c.numpy().ravel() for c in clipped])
  nonzero = g != 0
  steady = np.abs(g[nonzero]) / np.sqrt(g[nonzero]**2 + config.optimizer.epsilon)
  before = np.concatenate([v.numpy().ravel() for v in agent.network.trainable_variables])
  agent.updater.step(unroll)
  after = np.concatenate([v.numpy().ravel() for v in agent.network.trainable_variables])
  first = np.abs(after - before)[nonzero] / config.optimizer.learning_rate
  return float(np.median(steady)), float(np.median(first))


@pytest.mark.slow
def test_atari_rmsprop_steps_are_of_the_order_of_the_learning_rate(pong_unroll):
  steady, first = rmsprop_step_ratios(atari.get_config().algo.loss_reduction, *pong_unroll)
  assert steady >= 0.1, f'steady-state median step {steady:.4f} x lr: epsilon dominates'
  assert first >= 0.005, f'first-step median {first:.5f} x lr'


@pytest.mark.slow
def test_mean_reduction_would_make_the_atari_rmsprop_step_tiny(pong_unroll):
  """The check above can fail: averaged losses give epsilon-dominated steps."""
  steady, first = rmsprop_step_ratios('mean', *pong_unroll)
  assert steady < 0.05 and first < 0.002, (steady, first)


def test_meta_optimizer_settings_come_from_the_config():
  config = atari.get_config('Pong,stac')
  config.meta_optimizer.update(beta1=0.5, beta2=0.9, epsilon=1e-4)
  tiny = EnvSpec('tiny', (4,), 'float32', ActionSpec('discrete', num_actions=2))
  config.network.torso = 'mlp'
  meta = build_agent(config, tiny).updater.meta_optimizer
  assert (meta.beta1, meta.beta2, meta.epsilon) == (0.5, 0.9, 1e-4)


def test_network_options_from_the_config():
  config = atari.get_config('Pong,impala')
  box = EnvSpec('box', (4,), 'float32',
                ActionSpec('continuous', shape=(2,), minimum=(-1.0, -1.0), maximum=(1.0, 1.0)))
  config.network.update(torso='mlp',
                        mlp=dict(sizes=(8,)),
                        normalize_observations=True,
                        separate_value_torso=True,
                        gaussian_scale='global',
                        initial_scale=0.7)
  network = build_agent(config, box).network
  assert network.normalizer is not None and network.value_torso is not None
  np.testing.assert_allclose(tf.nn.softplus(network.raw_scale) + network.distribution.min_scale,
                             0.7,
                             rtol=1e-5)
  pixels = EnvSpec('pixels', (84, 84, 1), 'uint8', ActionSpec('discrete', num_actions=4))
  config.network.torso = 'nature'
  with pytest.raises(ValueError, match='normalize_observations needs float32.*uint8'):
    build_agent(config, pixels)


@pytest.mark.parametrize('replay_fraction, passes, steps', [(0.0, 1, 100), (0.5, 1, 200),
                                                            (0.0, 3, 300), (0.75, 2, 800)])
def test_the_decay_horizon_is_in_frames_whatever_the_budget_and_reuse(replay_fraction, passes,
                                                                      steps):
  """Atari's 200M-frame schedule: a 2M-frame trial decays at the paper's rate.
  Each learner step consumes B - R fresh unrolls of T steps of 4 frames."""
  config = atari.get_config('Pong,impala')
  config.network.torso = 'mlp'
  config.learner.update(total_frames=2_000_000,
                        batch_size=32,
                        replay_fraction=replay_fraction,
                        replay_capacity=64,
                        passes=passes)
  config.optimizer.decay_frames = 32 * 20 * 4 * 100  # 100 steps without reuse
  tiny = EnvSpec('tiny', (4,), 'float32', ActionSpec('discrete', num_actions=2), frames_per_step=4)
  assert build_agent(config, tiny).updater.config.total_steps == steps
  config.optimizer.decay_frames = 0
  assert build_agent(config, tiny).updater.config.total_steps == 0  # constant
