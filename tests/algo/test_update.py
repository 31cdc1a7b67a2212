"""The learner step: meta-gradient vs finite differences, IMPALA equivalence,
KL at lr = 0, skipping non-finite steps, options
(docs/algorithm.md#properties-the-tests-check, items 6-8)."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import build_network, build_updater, random_unroll
from seed_stac.algo import losses
from seed_stac.algo.metaparams import Hyperparameters
from seed_stac.algo.update import UpdateConfig, split_unroll
from seed_stac.envs.base import ActionSpec
from seed_stac.nets import ResNetTorso

DISCRETE = ActionSpec('discrete', num_actions=3)


@pytest.fixture
def float64():
  # The dtype policy, not just floatx: Keras caches the policy once used.
  keras.config.set_floatx('float64')
  keras.config.set_dtype_policy('float64')
  yield
  keras.config.set_floatx('float32')
  keras.config.set_dtype_policy('float32')


def finite_difference_meta_gradient(updater, unroll, lr, eps=1e-5):
  """Central differences of L_outer(theta'(eta)) with the outer V-trace
  targets held at their values for the unperturbed eta (they are constants
  of the semi-gradient, as in Xu et al. 2018)."""
  _, nominal = updater.lookahead_outer_loss(unroll, lr)
  grads = []
  for variable in updater.metaparams.logit_variables:
    start = variable.numpy()
    values = []
    for delta in (eps, -eps):
      variable.assign(start + delta)
      values.append(updater.lookahead_outer_loss(unroll, lr, nominal)[0].numpy())
    variable.assign(start)
    grads.append((values[0] - values[1]) / (2 * eps))
  return np.array(grads)


def assert_meta_gradient_matches(updater, unroll, lr=0.5, eps=1e-5):
  _, meta_grads, _ = updater.meta_gradients(unroll, lr)
  analytic = np.array([g.numpy() for g in meta_grads])
  numeric = finite_difference_meta_gradient(updater, unroll, lr, eps)
  scale = np.max(np.abs(numeric))
  assert scale > 1e-6, 'meta-gradient is (numerically) zero: nothing tested'
  relative = np.abs(analytic - numeric) / np.maximum(np.abs(numeric), 1e-3 * scale)
  assert relative.max() < 1e-4, (updater.metaparams.logit_names, analytic, numeric)


def sgd_look_ahead_updater(network, init_logits, second_order, **config):
  """A float64 updater with the plain SGD look-ahead and no clip: the
  meta-gradient's finite-difference check is exact for it."""
  return build_updater(network,
                       optimizer='sgd',
                       dtype=tf.float64,
                       init_logits=init_logits,
                       config=UpdateConfig(lookahead='sgd',
                                           max_grad_norm=0,
                                           second_order=second_order,
                                           **config))


SECOND_ORDER = pytest.mark.parametrize('second_order', ['forward', 'reverse'])


@SECOND_ORDER
@pytest.mark.parametrize('num_heads,lstm_size', [(1, 0), (3, 0), (3, 4)])
def test_meta_gradient_matches_finite_difference(float64, num_heads, lstm_size, second_order):
  rng = np.random.default_rng(num_heads + lstm_size)
  unroll = random_unroll(rng, 5, 4, (3,), DISCRETE, np.float64, lstm_size=lstm_size)
  network = build_network(unroll, DISCRETE, num_heads=num_heads, lstm_size=lstm_size)
  # Logits away from saturation make every metaparameter's gradient visible.
  updater = build_updater(network,
                          optimizer='sgd',
                          dtype=tf.float64,
                          init_logits={
                              'gamma': 1.0,
                              'lambda': 0.5,
                              'alpha': 0.2,
                              'g_v': 0.3,
                              'g_p': 0.4,
                              'g_e': 0.1
                          },
                          config=UpdateConfig(lookahead='sgd',
                                              max_grad_norm=0,
                                              second_order=second_order))
  assert len(updater.metaparams.logit_variables) == 6 * num_heads
  assert_meta_gradient_matches(updater, unroll)


@SECOND_ORDER
@pytest.mark.parametrize('num_heads,lstm_size', [(1, 0), (3, 4)])
def test_meta_gradient_through_clip_and_rmsprop_direction(float64, second_order, num_heads,
                                                          lstm_size):
  """With decay = 1 RMSProp's statistics are exactly constant, so the
  preconditioned look-ahead and the active norm clip are checked exactly."""
  rng = np.random.default_rng(11)
  unroll = random_unroll(rng, 5, 4, (3,), DISCRETE, np.float64, lstm_size=lstm_size)
  network = build_network(unroll, DISCRETE, num_heads=num_heads, lstm_size=lstm_size)
  updater = build_updater(network,
                          optimizer='rmsprop',
                          optimizer_kwargs={'decay': 1.0},
                          dtype=tf.float64,
                          tie_alpha=False,
                          init_logits={
                              'gamma': 1.0,
                              'alpha_rho': 0.5,
                              'alpha_c': -0.5
                          },
                          config=UpdateConfig(lookahead='optimizer',
                                              max_grad_norm=0.05,
                                              second_order=second_order))
  grads, _, _ = updater.meta_gradients(unroll, 0.1)
  assert tf.linalg.global_norm(grads) > 0.05  # the clip is active
  # Here the meta-gradients are ~1e-5 and the differences roundoff-bound
  # below eps = 1e-3: for network seeds 0-2 the worst relative error is
  # 2-6e-7 at eps 1e-3, up to 8e-6 at 1e-4 and up to 1.6e-4 at 1e-5.
  assert_meta_gradient_matches(updater, unroll, lr=0.1, eps=1e-3)


@SECOND_ORDER
def test_meta_gradient_with_a_coefficient_ceiling(float64, second_order):
  unroll = random_unroll(np.random.default_rng(3), 5, 4, (3,), DISCRETE, np.float64)
  network = build_network(unroll, DISCRETE)
  updater = build_updater(network,
                          optimizer='sgd',
                          dtype=tf.float64,
                          coefficient_ceiling=10.0,
                          config=UpdateConfig(lookahead='sgd',
                                              max_grad_norm=0,
                                              second_order=second_order))
  assert_meta_gradient_matches(updater, unroll)


@SECOND_ORDER
def test_continuous_actions_meta_gradient(float64, second_order):
  spec = ActionSpec('continuous', shape=(2,), minimum=(-1., -1.), maximum=(1., 1.))
  unroll = random_unroll(np.random.default_rng(5), 4, 3, (3,), spec, np.float64)
  network = build_network(unroll, spec)
  updater = sgd_look_ahead_updater(network, {'gamma': 1.0, 'alpha': 0.0}, second_order)
  assert_meta_gradient_matches(updater, unroll)


@SECOND_ORDER
@pytest.mark.parametrize('policy', ['tanh_gaussian', 'discretized'])
def test_bounded_continuous_policies_meta_gradient(float64, second_order, policy):
  spec = ActionSpec('continuous', shape=(2,), minimum=(-1., -1.), maximum=(1., 1.))
  unroll = random_unroll(np.random.default_rng(6), 4, 3, (3,), spec, np.float64)
  unroll = unroll._replace(action=tf.tanh(unroll.action))  # inside the bounds
  network = build_network(unroll, spec, continuous_policy=policy, action_bins=5)
  updater = sgd_look_ahead_updater(network, {'gamma': 1.0, 'alpha': 0.0, 'g_e': 0.5}, second_order)
  assert_meta_gradient_matches(updater, unroll)


@SECOND_ORDER
def test_meta_gradient_with_the_trust_region(float64, second_order):
  """Off-policy data (random behaviour probabilities) with the PPO trust
  region masking part of the policy-gradient term, inner and outer, the
  advantages standardised and PopArt's sigma away from 1."""
  rng = np.random.default_rng(12)
  unroll = random_unroll(rng, 5, 4, (3,), DISCRETE, np.float64)
  network = build_network(unroll, DISCRETE, value_normalization_step=0.1)
  network.popart.mu.assign([2.0])
  network.popart.nu.assign([13.0])  # sigma 3
  updater = sgd_look_ahead_updater(network, {
      'gamma': 1.0,
      'lambda': 0.5,
      'alpha': 0.2
  },
                                   second_order,
                                   trust_region=0.2,
                                   normalize_advantages=True)
  _, _, stats = updater.meta_gradients(unroll, 0.5)
  assert 0.0 < float(stats['main/trust_region_masked']) < 1.0
  assert 0.0 < float(stats['outer/trust_region_masked']) < 1.0
  assert_meta_gradient_matches(updater, unroll)


def test_zero_learning_rate_gives_zero_kl_and_meta_gradient():
  unroll = random_unroll(np.random.default_rng(1), 5, 4, (3,), DISCRETE)
  updater = build_updater(build_network(unroll, DISCRETE))
  _, meta_grads, stats = updater.meta_gradients(unroll, 0.0)
  assert stats['outer/kl'].numpy() == 0.0
  assert all(np.all(g.numpy() == 0.0) for g in meta_grads)
  _, meta_grads, stats = updater.meta_gradients(unroll, 0.5)
  assert stats['outer/kl'].numpy() > 0.0
  assert any(np.any(g.numpy() != 0.0) for g in meta_grads)


def test_nothing_tuned_is_a_plain_impala_update():
  rng = np.random.default_rng(2)
  unroll = random_unroll(rng, 6, 4, (3,), DISCRETE, truncation_prob=0.1)
  network = build_network(unroll, DISCRETE)
  config = UpdateConfig(learning_rate=0.01, max_grad_norm=1.0, reward_clip=1.0)
  fixed = Hyperparameters(gamma=0.97, lambda_=0.9, g_v=0.5, g_e=0.02)
  updater = build_updater(network, tuned=(), config=config, fixed=fixed)
  before = [v.numpy() for v in network.trainable_variables]

  # The IMPALA update written out directly: one loss, clip, TF1 RMSProp.
  inputs, transitions = split_unroll(unroll, reward_clip=1.0)
  with tf.GradientTape() as tape:
    outputs, _ = network(inputs)
    loss, _ = losses.head_loss(outputs.policy_params[:, :, 0], outputs.values[:, :, 0], transitions,
                               fixed, network.distribution)
  grads, _ = tf.clip_by_global_norm(tape.gradient(loss, network.trainable_variables), 1.0)
  expected = []
  for w, g in zip(before, grads):
    ms = 0.99 * 1.0 + 0.01 * g.numpy()**2
    expected.append(w - 0.01 * g.numpy() / np.sqrt(ms + 0.01))

  stats = updater.step(unroll)
  for w, e in zip(network.trainable_variables, expected):
    np.testing.assert_allclose(w.numpy(), e, rtol=1e-5, atol=1e-6)
  assert 'outer_loss' not in stats and updater.metaparams.logit_variables == []


def test_non_finite_gradients_skip_the_step():
  unroll = random_unroll(np.random.default_rng(3), 5, 4, (3,), DISCRETE)
  reward = unroll.reward.numpy()
  reward[2, 1] = np.nan
  bad = unroll._replace(reward=tf.constant(reward))
  updater = build_updater(build_network(unroll, DISCRETE))
  weights = [v.numpy() for v in updater.network.trainable_variables]
  logits = [v.numpy() for v in updater.metaparams.logit_variables]
  stats = updater.step(bad)
  assert stats['skipped_steps'] == 1 and updater.num_steps.numpy() == 1
  for v, w in zip(updater.network.trainable_variables, weights):
    np.testing.assert_array_equal(v.numpy(), w)
  for v, w in zip(updater.metaparams.logit_variables, logits):
    np.testing.assert_array_equal(v.numpy(), w)
  stats = updater.step(unroll)
  assert stats['skipped_steps'] == 1
  assert not np.array_equal(updater.network.trainable_variables[0].numpy(), weights[0])


def test_meta_update_interval_and_sub_batch():
  unroll = random_unroll(np.random.default_rng(4), 5, 4, (3,), DISCRETE)
  updater = build_updater(build_network(unroll, DISCRETE),
                          config=UpdateConfig(meta_update_interval=2, meta_batch_size=2))
  history = []
  for _ in range(4):
    updater.step(unroll)
    history.append(updater.metaparams.logit_variables[0].numpy())
  # Steps 0 and 2 update eta; steps 1 and 3 leave it alone.
  assert history[0] != 4.6 and history[1] == history[0]
  assert history[2] != history[1] and history[3] == history[2]


def test_linear_learning_rate_decay():
  unroll = random_unroll(np.random.default_rng(5), 3, 2, (3,), DISCRETE)
  updater = build_updater(build_network(unroll, DISCRETE),
                          tuned=(),
                          config=UpdateConfig(learning_rate=1.0, total_steps=4))
  rates = [float(updater.step(unroll)['learning_rate']) for _ in range(5)]
  np.testing.assert_allclose(rates, [1.0, 0.75, 0.5, 0.25, 0.0])


_JIT_SCRIPT = """
import json, sys
import keras, numpy as np
sys.path[:0] = ['.', 'tests']
from helpers import build_network, build_updater, random_unroll
from seed_stac.algo.update import UpdateConfig
from seed_stac.envs.base import ActionSpec
spec = ActionSpec('discrete', num_actions=3)
unroll = random_unroll(np.random.default_rng(6), 5, 4, (3,), spec)
results = []
for jit in (False, True):
  keras.utils.set_random_seed(0)
  updater = build_updater(build_network(unroll, spec), config=UpdateConfig(jit_compile=jit))
  stats = updater.step(unroll)
  results.append(dict({k: float(stats[k]) for k in ('inner_loss', 'outer_loss', 'main/gamma')},
                      logits=[float(v.numpy()) for v in updater.metaparams.logit_variables]))
print(json.dumps(results))
"""


def test_jit_compile_matches_graph_mode():
  # XLA runs in a clean process: MuJoCo's EGL (Mesa) loaded into the test
  # process by other test modules brings its own LLVM, which clashes with
  # XLA's (a segfault), something a training process never combines.
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  out = subprocess.run([sys.executable, '-c', _JIT_SCRIPT],
                       cwd=root,
                       check=True,
                       capture_output=True,
                       text=True,
                       timeout=600)
  graph, xla = json.loads(out.stdout.strip().splitlines()[-1])
  for key in ('inner_loss', 'outer_loss', 'main/gamma'):
    np.testing.assert_allclose(graph[key], xla[key], rtol=1e-4)
  np.testing.assert_allclose(graph['logits'], xla['logits'], rtol=1e-5)


def test_bad_config_is_named():
  with pytest.raises(ValueError, match='lookahead'):
    UpdateConfig(lookahead='adam')
  with pytest.raises(ValueError, match='meta_update_interval'):
    UpdateConfig(meta_update_interval=0)
  for name in ('max_grad_norm', 'meta_max_grad_norm', 'reward_clip', 'meta_batch_size'):
    with pytest.raises(ValueError, match=f'{name} must be >= 0 \\(0: off\\)'):
      UpdateConfig(**{name: -1})


def test_zero_means_off():
  """0 turns the clip, the reward clip and the sub-batch off, as in the config."""
  unroll = random_unroll(np.random.default_rng(4), 5, 4, (3,), DISCRETE)
  unroll = unroll._replace(reward=unroll.reward * 10.0)
  _, transitions = split_unroll(unroll, reward_clip=0.0)
  np.testing.assert_array_equal(transitions.reward, unroll.reward[1:])
  _, transitions = split_unroll(unroll, reward_clip=1.0)
  assert np.abs(transitions.reward).max() == 1.0
  updater = build_updater(build_network(unroll, DISCRETE),
                          config=UpdateConfig(max_grad_norm=0, meta_batch_size=0))
  grads, _, _ = updater.meta_gradients(unroll)
  clipped, norm = updater._clip(grads)  # pylint: disable=protected-access
  assert norm.numpy() == pytest.approx(tf.linalg.global_norm(grads).numpy())
  for g, c in zip(grads, clipped):
    np.testing.assert_array_equal(g, c)


def test_graph_meta_gradient_equals_eager_on_a_conv_net():
  spec = ActionSpec('discrete', num_actions=6)
  unroll = random_unroll(np.random.default_rng(9), 6, 2, (84, 84, 4), spec, np.uint8)
  network = build_network(unroll, spec, 3, ResNetTorso(channels=(8, 8), fc_size=32))
  updater = build_updater(network)
  eager = updater.meta_gradients(unroll, 6e-4)[1]
  graph = tf.function(lambda u: updater.meta_gradients(u, 6e-4)[1])(unroll)
  assert np.any(np.array(eager) != 0)
  np.testing.assert_allclose(np.array(graph), np.array(eager), rtol=1e-3, atol=1e-7)
