"""Metaparameters: initial values, counts, names, fixed values, errors (8.5)."""

import math

import pytest
import tensorflow as tf

from seed_stac.algo.metaparams import (Hyperparameters, MetaParameters, logit, tunable_names)

OUTER = Hyperparameters(gamma=0.995, lambda_=1.0, g_v=0.25, g_p=1.0, g_e=0.01)


def test_initial_tuned_values_are_099_of_outer():
  mp = MetaParameters(3, outer=OUTER, tuned=tunable_names(True))
  values = {k: float(v) for k, v in mp.as_dict().items()}
  s = 1.0 / (1.0 + math.exp(-4.6))
  assert abs(s - 0.99) < 1e-4
  for head in ('main', 'aux1', 'aux2'):
    assert values[f'{head}/gamma'] == pytest.approx(s)
    assert values[f'{head}/lambda'] == pytest.approx(s)
    assert values[f'{head}/alpha_rho'] == values[f'{head}/alpha_c'] == pytest.approx(s)
    assert values[f'{head}/g_v'] == pytest.approx(0.25 * s)
    assert values[f'{head}/g_p'] == pytest.approx(1.0 * s)
    assert values[f'{head}/g_e'] == pytest.approx(0.01 * s)


def test_coefficient_ceiling_starts_at_099_of_outer_and_can_rise_above_it():
  mp = MetaParameters(1, outer=OUTER, tuned=('gamma', 'g_e'), coefficient_ceiling=10.0)
  values = mp.as_dict()
  assert float(values['main/g_e']) == pytest.approx(0.99 * 0.01)
  assert float(values['main/gamma']) == pytest.approx(0.99, abs=1e-4)
  with tf.GradientTape() as tape:
    g_e = mp.head(0).g_e
  slope = float(tape.gradient(g_e, mp.logit_variables[1]))
  # d g / d l = c * outer * s * (1 - s) with s = 0.099, against 0.01 * 0.0099 at c = 1.
  assert slope == pytest.approx(10 * 0.01 * 0.099 * 0.901, rel=1e-4)
  mp.logit_variables[1].assign(20.0)
  assert float(mp.head(0).g_e) == pytest.approx(0.1)


@pytest.mark.parametrize('heads,tie,count', [(1, True, 6), (1, False, 7), (3, True, 18),
                                             (3, False, 21)])
def test_metaparameter_counts(heads, tie, count):
  mp = MetaParameters(heads, tuned=tunable_names(tie), tie_alpha=tie)
  assert len(mp.logit_variables) == count
  assert len(set(mp.logit_names)) == count


def test_untuned_values_are_fixed_and_tied_alpha_shares_a_logit():
  fixed = Hyperparameters(gamma=0.9,
                          lambda_=0.8,
                          g_v=0.5,
                          g_p=1.0,
                          g_e=0.02,
                          alpha_rho=0.7,
                          alpha_c=0.6)
  mp = MetaParameters(1, outer=OUTER, fixed=fixed, tuned=('gamma', 'alpha'))
  head = mp.head(0)
  assert head.lambda_ == 0.8 and head.g_v == 0.5 and head.g_e == 0.02
  mp.logit_variables[1].assign(0.0)
  assert float(mp.head(0).alpha_rho) == float(mp.head(0).alpha_c) == 0.5
  assert mp.logit_names == ['main/gamma', 'main/alpha']


def test_gradient_flows_from_values_to_logits():
  mp = MetaParameters(1, outer=OUTER, tuned=('g_v',))
  with tf.GradientTape() as tape:
    value = mp.head(0).g_v
  grad = tape.gradient(value, mp.logit_variables[0])
  s = 1 / (1 + math.exp(-4.6))
  assert float(grad) == pytest.approx(0.25 * s * (1 - s), rel=1e-5)


def test_per_head_initial_logits():
  mp = MetaParameters(3, tuned=('gamma',), init_logits={'gamma': 2.0, 'aux2/gamma': logit(0.9)})
  values = mp.as_dict()
  assert float(values['main/gamma']) == pytest.approx(1 / (1 + math.exp(-2.0)))
  assert float(values['aux2/gamma']) == pytest.approx(0.9)


def test_errors_name_the_problem():
  with pytest.raises(ValueError, match="'discount'"):
    MetaParameters(1, tuned=('discount',))
  with pytest.raises(ValueError, match='alpha_rho'):
    MetaParameters(1, tuned=('alpha_rho',), tie_alpha=True)
  with pytest.raises(ValueError, match='init_logits'):
    MetaParameters(1, tuned=('gamma',), init_logits={'aux5/gamma': 1.0})
  with pytest.raises(ValueError, match='coefficient_ceiling must be >= 1'):
    MetaParameters(1, tuned=('g_e',), coefficient_ceiling=0.5)
  with pytest.raises(ValueError, match=r'\(0, 1\)'):
    logit(1.0)
