"""Optimizers: the update equals lr * direction, against written-out formulas."""

import numpy as np
import pytest
import tensorflow as tf

from seed_stac.algo import optimizers


@pytest.mark.parametrize('name', ['sgd', 'rmsprop', 'adam'])
def test_apply_moves_by_lr_times_direction(name):
  rng = np.random.default_rng(0)
  variable = tf.Variable(rng.normal(size=[3, 2]))
  opt = optimizers.make_optimizer(name, [variable])
  for _ in range(3):
    grad = tf.constant(rng.normal(size=[3, 2]))
    start = variable.numpy()
    direction = opt.direction([grad])[0].numpy()
    opt.apply([grad], 0.1)
    np.testing.assert_allclose(variable.numpy(), start - 0.1 * direction, rtol=1e-6)


def test_rmsprop_formula():
  variable = tf.Variable([1.0, -2.0], dtype=tf.float64)
  opt = optimizers.RMSProp([variable], decay=0.9, epsilon=0.01)
  ms = np.ones(2)
  w = np.array([1.0, -2.0])
  for g in ([0.5, 1.0], [-1.0, 2.0]):
    ms = 0.9 * ms + 0.1 * np.square(g)
    w = w - 0.3 * np.array(g) / np.sqrt(ms + 0.01)
    opt.apply([tf.constant(g, tf.float64)], 0.3)
  np.testing.assert_allclose(variable.numpy(), w)


def test_adam_formula():
  variable = tf.Variable([1.0, -2.0], dtype=tf.float64)
  opt = optimizers.Adam([variable])
  m = v = np.zeros(2)
  w = np.array([1.0, -2.0])
  for t, g in enumerate(([0.5, 1.0], [-1.0, 2.0]), start=1):
    g = np.array(g)
    m = 0.9 * m + 0.1 * g
    v = 0.999 * v + 0.001 * g * g
    w = w - 0.01 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    opt.apply([tf.constant(g)], 0.01)
  np.testing.assert_allclose(variable.numpy(), w, rtol=1e-6)


def test_direction_is_differentiable_in_the_gradient_only():
  variable = tf.Variable([1.0, 2.0])
  opt = optimizers.RMSProp([variable])
  g = tf.Variable([0.3, -0.4])
  with tf.GradientTape() as tape:
    total = tf.reduce_sum(opt.direction([g * 1.0])[0])
  jac = tape.gradient(total, g).numpy()
  ms = 0.99 + 0.01 * g.numpy()**2
  np.testing.assert_allclose(jac, 1.0 / np.sqrt(ms + 0.01), rtol=1e-6)


def test_unknown_optimizer():
  with pytest.raises(ValueError, match="'lamb'.*adam"):
    optimizers.make_optimizer('lamb', [])
