"""The metaparameter names, declared once (no TensorFlow: plotting and the
report import them too).

`METAPARAMETERS` are the names as logged (`main/gamma`, `aux1/lambda`, ...)
and accepted in `algo.tuned` and `algo.init_logits`. The loss's
hyperparameter fields and the config's `algo.fixed`/`algo.outer` keys use
the same names, except that lambda, a Python keyword, is spelled `lambda_`
there (`field`).
"""

from typing import Tuple

METAPARAMETERS = ('gamma', 'lambda', 'g_v', 'g_p', 'g_e', 'alpha_rho', 'alpha_c')
LOSS_COEFFICIENTS = ('g_v', 'g_p', 'g_e')
# STAC ties the two leaky V-trace mixing weights to one logit by default.
TIED_ALPHA = 'alpha'


def field(name: str) -> str:
  """The Hyperparameters field / config key of a metaparameter name."""
  return 'lambda_' if name == 'lambda' else name


FIELDS = tuple(field(n) for n in METAPARAMETERS)


def tunable(tie_alpha: bool) -> Tuple[str, ...]:
  """Names accepted in `algo.tuned`, per head (the logits one head owns)."""
  untied = METAPARAMETERS[:5]
  return untied + ((TIED_ALPHA,) if tie_alpha else ('alpha_rho', 'alpha_c'))
