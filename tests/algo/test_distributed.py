"""One distributed learner step (MirroredStrategy over 2 logical CPU devices)
equals the single-device step on the same batch: weights, metaparameters and
logged losses agree to rtol 1e-5 (float32 summation order differs), with
the trust region on and a replay batch's importance-ratio statistics."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

_SCRIPT = """
import contextlib, json, sys
sys.path[:0] = ['.', 'tests']
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices('CPU')[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from helpers import build_network, build_updater, random_unroll
from seed_stac.algo.update import UpdateConfig
from seed_stac.envs.base import ActionSpec

heads, lstm = int(sys.argv[1]), int(sys.argv[2])
spec = ActionSpec('discrete', num_actions=3)
unroll = random_unroll(np.random.default_rng(0), 6, 4, (5,), spec, lstm_size=lstm,
                       truncation_prob=0.1)
config = UpdateConfig(learning_rate=0.05, max_grad_norm=1.0, trust_region=0.2)
# A replay batch: each replica's slice has one fresh and one replayed column.
replayed = tf.constant([False, True, False, True])

def run(strategy):
  with strategy.scope() if strategy else contextlib.nullcontext():
    network = build_network(unroll, spec, heads, lstm_size=lstm)
    for i, v in enumerate(network.trainable_variables):
      v.assign(np.random.default_rng(i).normal(size=v.shape).astype(np.float32) * 0.3)
    updater = build_updater(network, config=config, strategy=strategy)
  stats = [updater.step(unroll, replayed) for _ in range(2)]
  return dict(weights=[v.numpy().tolist() for v in network.trainable_variables],
              logits=[float(v.numpy()) for v in updater.metaparams.logit_variables],
              stats={k: float(v) for k, v in stats[-1].items()})

single = run(None)
mirrored = run(tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1']))
print(json.dumps([single, mirrored]))
"""

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
@pytest.mark.parametrize('heads,lstm', [(1, 0), (3, 4)])
def test_mirrored_step_equals_single_device_step(heads, lstm):
  out = subprocess.run([sys.executable, '-c', _SCRIPT,
                        str(heads), str(lstm)],
                       cwd=ROOT,
                       capture_output=True,
                       text=True,
                       timeout=600)
  assert out.returncode == 0, out.stderr[-3000:]
  single, mirrored = json.loads(out.stdout.strip().splitlines()[-1])
  for a, b in zip(single['weights'], mirrored['weights']):
    np.testing.assert_allclose(np.array(b), np.array(a), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(mirrored['logits'], single['logits'], rtol=1e-5)
  assert single['logits'] != [4.6] * len(single['logits'])  # eta did move
  for key in ('inner_loss', 'outer_loss', 'main/value_loss', 'grad_norm', 'meta_grad_norm',
              'is_ratio/fresh_mean', 'is_ratio/replayed_mean', 'main/trust_region_masked'):
    np.testing.assert_allclose(mirrored['stats'][key], single['stats'][key], rtol=1e-5)
