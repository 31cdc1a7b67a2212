"""Small optimizers with an explicit update direction for the look-ahead.

The meta-gradient needs theta' = theta - lr * u(g) as a differentiable
function of g. These optimizers expose `direction(grads)` = u(g), computed
with the statistics this step WOULD have, treated as constants
(docs/algorithm.md#the-look-ahead), and `apply(grads, lr)` which performs the real update.
Their slots are tf.Variables, so tf.train.Checkpoint saves them.
"""

from typing import List, Sequence

import tensorflow as tf

from seed_stac.algo.vtrace import to_dtype


class SGD(tf.Module):
  """u(g) = g."""

  def __init__(self, variables: Sequence[tf.Variable], name='sgd'):
    super().__init__(name=name)
    self.params = list(variables)

  def direction(self, grads: Sequence[tf.Tensor]) -> List[tf.Tensor]:
    return list(grads)

  def apply(self, grads: Sequence[tf.Tensor], learning_rate) -> None:
    for variable, grad in zip(self.params, grads):
      variable.assign_sub(to_dtype(learning_rate, variable.dtype) * grad)


class RMSProp(tf.Module):
  """RMSProp as in TF1's RMSPropOptimizer, which IMPALA used.

  ms <- decay * ms + (1 - decay) * g^2 ;  u(g) = g / sqrt(ms + epsilon),
  with ms initialised to ones (TF1's choice; gentler first steps than zeros).
  """

  def __init__(self,
               variables: Sequence[tf.Variable],
               decay: float = 0.99,
               epsilon: float = 0.01,
               name='rmsprop'):
    super().__init__(name=name)
    self.params = list(variables)
    self.decay = decay
    self.epsilon = epsilon
    self.mean_square = [
        tf.Variable(tf.ones_like(v), trainable=False, name='ms') for v in self.params
    ]

  def _next_mean_square(self, grads):
    return [
        self.decay * ms + (1.0 - self.decay) * tf.square(tf.stop_gradient(g))
        for ms, g in zip(self.mean_square, grads)
    ]

  def direction(self, grads: Sequence[tf.Tensor]) -> List[tf.Tensor]:
    return [g / tf.sqrt(ms + self.epsilon) for g, ms in zip(grads, self._next_mean_square(grads))]

  def apply(self, grads: Sequence[tf.Tensor], learning_rate) -> None:
    for variable, ms_var, ms, grad in zip(self.params, self.mean_square,
                                          self._next_mean_square(grads), grads):
      ms_var.assign(ms)
      variable.assign_sub(
          to_dtype(learning_rate, variable.dtype) * grad / tf.sqrt(ms + self.epsilon))


class Adam(tf.Module):
  """Adam (Kingma & Ba) with bias correction; u(g) keeps m linear in g."""

  def __init__(self,
               variables: Sequence[tf.Variable],
               beta1: float = 0.9,
               beta2: float = 0.999,
               epsilon: float = 1e-8,
               name='adam'):
    super().__init__(name=name)
    self.params = list(variables)
    self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
    self.m = [tf.Variable(tf.zeros_like(v), trainable=False, name='m') for v in self.params]
    self.v = [tf.Variable(tf.zeros_like(v), trainable=False, name='v') for v in self.params]
    self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name='iterations')

  def _moments(self, grads):
    t = tf.cast(self.iterations + 1, tf.float32)
    for m, v, g in zip(self.m, self.v, grads):
      m_next = self.beta1 * m + (1.0 - self.beta1) * g
      v_next = self.beta2 * v + (1.0 - self.beta2) * tf.square(tf.stop_gradient(g))
      m_hat = m_next / (1.0 - tf.cast(self.beta1**t, m.dtype))
      v_hat = v_next / (1.0 - tf.cast(self.beta2**t, v.dtype))
      yield m_next, v_next, m_hat / (tf.sqrt(v_hat) + self.epsilon)

  def direction(self, grads: Sequence[tf.Tensor]) -> List[tf.Tensor]:
    return [u for _, _, u in self._moments(grads)]

  def apply(self, grads: Sequence[tf.Tensor], learning_rate) -> None:
    for variable, m_var, v_var, (m, v, u) in zip(self.params, self.m, self.v, self._moments(grads)):
      m_var.assign(m)
      v_var.assign(v)
      variable.assign_sub(to_dtype(learning_rate, variable.dtype) * u)
    self.iterations.assign_add(1)


OPTIMIZERS = {'sgd': SGD, 'rmsprop': RMSProp, 'adam': Adam}


def make_optimizer(name: str, variables, **kwargs) -> tf.Module:
  """Builds an optimizer by name ('sgd', 'rmsprop', 'adam')."""
  if name not in OPTIMIZERS:
    raise ValueError(f'unknown optimizer {name!r}; valid: {sorted(OPTIMIZERS)}')
  return OPTIMIZERS[name](variables, **kwargs)
