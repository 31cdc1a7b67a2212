"""benchmarks.step_parts: every part of the exact step runs and is reported
(no timing assertions)."""

import numpy as np
import tensorflow as tf

from benchmarks import step_parts
from helpers import build_network, build_updater, random_unroll
from seed_stac.algo.update import UpdateConfig
from seed_stac.envs.base import ActionSpec

DISCRETE = ActionSpec('discrete', num_actions=3)


def test_parts_of_the_impala_and_stac_steps():
  unroll = random_unroll(np.random.default_rng(0), 5, 4, (3,), DISCRETE, np.float32)
  network = build_network(unroll, DISCRETE)
  impala = step_parts.time_parts(build_updater(network, tuned=()), unroll, steps=1)
  assert list(impala) == [
      'inner gradient (forward + backward at theta)', 'whole step', 'other (updates, clip, stats)'
  ]
  stac = step_parts.time_parts(build_updater(network, config=UpdateConfig(second_order='forward')),
                               unroll,
                               steps=1)
  assert len(stac) == 7 and 'Jacobian-vector product at theta' in stac
  assert all(np.isfinite(v) for v in stac.values()) and stac['whole step'] > 0
  assert tf.executing_eagerly()


def test_whole_step_time_of_the_default_mode():
  unroll = random_unroll(np.random.default_rng(1), 5, 4, (3,), DISCRETE, np.float32)
  assert step_parts.time_step(build_updater(build_network(unroll, DISCRETE)), unroll, 1) > 0
