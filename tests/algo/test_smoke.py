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
  start = {k: float(v) for k, v in updater.metaparams.as_dict().items()}
  for step in range(20):
    stats = updater.step(unrolls[step % 2])
    assert all(np.isfinite(float(v)) for v in stats.values()), stats
  assert stats['skipped_steps'] == 0 and stats['learner_steps'] == 20
  end = {k: float(v) for k, v in updater.metaparams.as_dict().items()}
  changed = {k for k in start if start[k] != end[k]}
  if mode == 'impala':
    assert not changed
  else:
    assert changed == set(start), set(start) - changed
