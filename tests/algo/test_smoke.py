"""IMPALA, STAC and STACX each run 20 steps on random Atari-shaped data
(IMPALA deep network, 84x84x4 uint8) without NaN, and change the
metaparameters only when tuned."""

import numpy as np
import pytest

from helpers import build_network, build_updater, random_unroll
from seed_stac.envs.base import ActionSpec
from seed_stac.nets import ResNetTorso

SPEC = ActionSpec('discrete', num_actions=6)


@pytest.mark.slow
@pytest.mark.parametrize('mode,heads,tuned', [('impala', 1, ()), ('stac', 1, None),
                                              ('stacx', 3, None)])
def test_twenty_steps_on_atari_shaped_data(mode, heads, tuned):
  rng = np.random.default_rng(0)
  unrolls = [random_unroll(rng, 20, 2, (84, 84, 4), SPEC, np.uint8) for _ in range(2)]
  network = build_network(unrolls[0], SPEC, heads, ResNetTorso())
  updater = build_updater(network, tuned=tuned)
  # Logits, not sigmoid values: at 0.99 the sigmoid's slope is 0.0099, so a
  # small net move (alternating batches can nearly cancel Adam's steps)
  # vanishes in float32 after it.
  logits = updater.metaparams.logit_variables
  start = [float(v) for v in logits]
  values_start = {k: float(v) for k, v in updater.metaparams.as_dict().items()}
  for step in range(20):
    stats = updater.step(unrolls[step % 2])
    assert all(np.isfinite(float(v)) for v in stats.values()), stats
  assert stats['skipped_steps'] == 0 and stats['learner_steps'] == 20
  if mode == 'impala':
    assert not logits
    assert {k: float(v) for k, v in updater.metaparams.as_dict().items()} == values_start
  else:
    assert len(logits) == 6 * heads
    unchanged = [
        n for n, v, s in zip(updater.metaparams.logit_names, logits, start) if float(v) == s
    ]
    assert not unchanged, unchanged
