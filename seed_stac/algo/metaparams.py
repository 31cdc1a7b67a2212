"""Self-tuned hyperparameters (metaparameters) eta of STAC / STACX.

Every tuned value is a sigmoid of an unconstrained logit, so it stays bounded:

    gamma = sigmoid(l_gamma), lambda = sigmoid(l_lambda), alpha = sigmoid(l_alpha)
    g_v = c * g_v_outer * sigmoid(l_v)   (likewise g_p, g_e)

c, the coefficient ceiling, is 1 in the paper: a tuned coefficient is at most
its outer value. Every value starts at 0.99 (a coefficient at 0.99 times its
outer value, logit log(0.99 / (c - 0.99))), so the inner loss starts almost
equal to the outer loss. With c = 1 that start sits on the sigmoid's flat
shoulder (slope 0.0099) one percent below the ceiling: a coefficient whose
meta-gradient asks for more cannot follow (docs/algorithm.md#metaparameters).

Each head has its own set; STAC ties alpha_rho and alpha_c to one logit by
default. An untuned value is held at its fixed value, so tuning nothing
gives IMPALA.
"""

import math
from typing import Dict, Iterable, List, Mapping, Optional

import tensorflow as tf

from seed_stac.algo import names
from seed_stac.algo.names import Hyperparameters

DEFAULT_INIT_LOGIT = 4.6  # sigmoid(4.6) = 0.99
INITIAL_FRACTION = 0.99  # of 1, or of a coefficient's outer value


def head_name(index: int) -> str:
  """'main' for head 0, 'aux1', 'aux2', ... for the auxiliary heads."""
  return 'main' if index == 0 else f'aux{index}'


def _public_name(field: str) -> str:
  return names.METAPARAMETERS[names.FIELDS.index(field)]


def tunable_names(tie_alpha: bool) -> List[str]:
  """Names accepted in `tuned`, per head (the logits one head owns)."""
  return list(names.tunable(tie_alpha))


def initial_logit(name: str, coefficient_ceiling: float = 1.0) -> float:
  """The default initial logit of metaparameter `name` (value 0.99, or 0.99
  times the outer value for a loss coefficient)."""
  if name in names.LOSS_COEFFICIENTS and coefficient_ceiling != 1.0:
    return logit(INITIAL_FRACTION / coefficient_ceiling)
  return DEFAULT_INIT_LOGIT


def logit(probability: float) -> float:
  """Inverse sigmoid, to initialise a logit from a value in (0, 1)."""
  if not 0.0 < probability < 1.0:
    raise ValueError(f'initial sigmoid value must be in (0, 1), got {probability}')
  return math.log(probability / (1.0 - probability))


class MetaParameters(tf.Module):
  """Per-head metaparameter logits and the hyperparameters they imply.

  Args:
    num_heads: 1 for STAC, 3 for STACX.
    outer: the fixed outer-loss hyperparameters; tuned loss coefficients are
      scaled by these.
    fixed: values of hyperparameters that are NOT tuned.
    tuned: names from `tunable_names(tie_alpha)`, applied to every head.
    tie_alpha: one logit for alpha_rho and alpha_c (STAC's default).
    init_logits: overrides of the initial logit, keyed 'gamma' (all heads)
      or 'aux1/gamma' (one head); default `initial_logit(name, ceiling)`.
    coefficient_ceiling: c >= 1; a tuned loss coefficient ranges over
      (0, c * outer).
  """

  def __init__(self,
               num_heads: int = 1,
               outer: Hyperparameters = Hyperparameters(gamma=0.995),
               fixed: Hyperparameters = Hyperparameters(),
               tuned: Iterable[str] = (),
               tie_alpha: bool = True,
               init_logits: Optional[Mapping[str, float]] = None,
               coefficient_ceiling: float = 1.0,
               dtype=tf.float32,
               name='metaparameters'):
    super().__init__(name=name)
    tuned = tuple(tuned)
    if not coefficient_ceiling >= 1.0:
      raise ValueError(f'coefficient_ceiling must be >= 1 (1: the paper\'s, a coefficient '
                       f'at most its outer value), got {coefficient_ceiling!r}')
    valid = tunable_names(tie_alpha)
    for item in tuned:
      if item not in valid:
        raise ValueError(f'unknown tuned metaparameter {item!r}; valid with '
                         f'tie_alpha={tie_alpha}: {valid}')
    self.num_heads = num_heads
    self.outer = outer
    self.fixed = fixed
    self.tie_alpha = tie_alpha
    self.tuned = tuned
    self.coefficient_ceiling = coefficient_ceiling
    init_logits = dict(init_logits or {})
    self._logits: Dict[str, tf.Variable] = {}
    for head in range(num_heads):
      for item in tuned:
        key = f'{head_name(head)}/{item}'
        default = initial_logit(item, coefficient_ceiling)
        init = init_logits.pop(key, init_logits.get(item, default))
        self._logits[key] = tf.Variable(tf.constant(init, dtype), name=key.replace('/', '_'))
    unused = [k for k in init_logits if '/' in k or k not in valid]
    if unused:
      raise ValueError(f'init_logits keys match no tuned metaparameter: {unused}')

  @property
  def logit_variables(self) -> List[tf.Variable]:
    """The eta the meta-optimizer updates, in a fixed order."""
    return list(self._logits.values())

  @property
  def logit_names(self) -> List[str]:
    return list(self._logits.keys())

  def _value(self, head: int, name: str):
    logit_key = 'alpha' if self.tie_alpha and name.startswith('alpha') else _public_name(name)
    variable = self._logits.get(f'{head_name(head)}/{logit_key}')
    if variable is None:
      return getattr(self.fixed, name)
    value = tf.sigmoid(variable)
    if name in names.LOSS_COEFFICIENTS:
      value = self.coefficient_ceiling * getattr(self.outer, name) * value
    return value

  def head(self, head: int) -> Hyperparameters:
    """Hyperparameters of head `head` as differentiable functions of eta."""
    return Hyperparameters(**{name: self._value(head, name) for name in names.FIELDS})

  def as_dict(self) -> Dict[str, tf.Tensor]:
    """Every head's current values by name, e.g. 'main/gamma', 'aux1/lambda'."""
    values = {}
    for head in range(self.num_heads):
      hyperparameters = self.head(head)
      for name in names.FIELDS:
        key = f'{head_name(head)}/{_public_name(name)}'
        values[key] = tf.convert_to_tensor(getattr(hyperparameters, name))
    return values
