"""The metaparameter names and their defaults, declared once (no TensorFlow:
the config, plotting and the report import them too).

`METAPARAMETERS` are the names as logged (`main/gamma`, `aux1/lambda`, ...)
and accepted in `algo.tuned` and `algo.init_logits`. The loss's
hyperparameter fields and the config's `algo.fixed`/`algo.outer` keys use
the same names, except that lambda, a Python keyword, is spelled `lambda_`
there (`field`).
"""

import dataclasses
from typing import Tuple

METAPARAMETERS = ('gamma', 'lambda', 'g_v', 'g_p', 'g_e', 'alpha_rho', 'alpha_c')
LOSS_COEFFICIENTS = ('g_v', 'g_p', 'g_e')
ALPHAS = ('alpha_rho', 'alpha_c')  # leaky V-trace's mixing weights
# STAC ties the two leaky V-trace mixing weights to one logit by default.
TIED_ALPHA = 'alpha'


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
  """One head's loss hyperparameters, fields named by `field`; floats or
  scalar tensors. The defaults are IMPALA's (the config's `algo.fixed`)."""
  gamma: float = 0.99
  lambda_: float = 1.0
  g_v: float = 0.25
  g_p: float = 1.0
  g_e: float = 0.01
  alpha_rho: float = 1.0
  alpha_c: float = 1.0


def upper_bound(name: str) -> float:
  """A hyperparameter's largest valid value: loss coefficients are any
  non-negative number, the others (discounts, mixing weights) at most 1."""
  return float('inf') if name in LOSS_COEFFICIENTS else 1.0


def field(name: str) -> str:
  """The Hyperparameters field / config key of a metaparameter name."""
  return 'lambda_' if name == 'lambda' else name


FIELDS = tuple(field(n) for n in METAPARAMETERS)


def tunable(tie_alpha: bool) -> Tuple[str, ...]:
  """Names accepted in `algo.tuned`, per head (the logits one head owns)."""
  others = tuple(n for n in METAPARAMETERS if n not in ALPHAS)
  return others + ((TIED_ALPHA,) if tie_alpha else ALPHAS)
