"""One declaration of a step's fields: a field declared in `envs.base.Step`
travels from the environment to the loss's transitions with no other change
(through the env batch, the wire, the learner's per-actor state, the batch
stacking and `split_unroll`)."""

import os
import pathlib
import shutil
import subprocess
import sys

import seed_stac

_DECLARED = '  truncated: bool = reported(np.bool_)\n'
_NEW_FIELD = '  discount: float = reported(np.float32, 1.0)\n'

# Runs on a copy of the package whose envs/base.py alone declares the new
# field; the environment that reports it is defined here.
_SCRIPT = r'''
import numpy as np
import tensorflow as tf
from seed_stac.envs import base
from seed_stac.algo.update import split_unroll
from seed_stac.envs.batch import BatchStep, EnvBatch
from seed_stac.learner.env_state import ActorState
from seed_stac.learner.unroll_sources import stack_unrolls
from seed_stac.rpc import codec, server
from seed_stac.rpc import seed_stac_pb2 as pb

SPEC = base.EnvSpec('discounting', (2,), 'float32', base.ActionSpec('discrete', num_actions=2))


class Discounting(base.Environment):
  """Reports discount 0.5 + t / 10 at its t-th step, ending every 4 steps."""

  def __init__(self):
    self.spec, self.t = SPEC, 0

  def reset(self):
    return np.zeros(2, np.float32)

  def step(self, action):
    self.t += 1
    return base.Step(np.full(2, self.t, np.float32), reward=1.0, terminated=self.t % 4 == 0,
                truncated=False, discount=0.5 + self.t / 10)


envs = EnvBatch([Discounting(), Discounting()])
step = BatchStep.first(envs.reset())
assert step.discount.dtype == np.float32 and (step.discount == 0).all()
state = ActorState('r', SPEC, 2, (), unroll_length=3)
layout = codec.StepLayout.of(SPEC, 2)
limit = server.step_message_bytes(SPEC.observation_shape, SPEC.observation_dtype, 2)
unrolls = []
for t in range(4):
  message = codec.StepMessage.of(0, 'r', np.arange(2, dtype=np.int32), step)
  wire = message.to_proto().SerializeToString()
  assert len(wire) <= limit
  received = codec.StepMessage.from_proto(pb.StepRequest.FromString(wire), layout)
  np.testing.assert_array_equal(received.discount, step.discount)
  state.observe(received)
  unrolls += state.act(np.zeros(2, np.int32), np.zeros(2, np.float32), ()) or []
  step = envs.step(np.zeros(2, np.int32))
assert len(unrolls) == 2
batch = stack_unrolls(unrolls)
_, transitions = split_unroll(type(batch)(*(tf.constant(x) for x in batch[:-1]), core_state=()))
expected = [[0.5 + t / 10] * 2 for t in range(1, 4)]
np.testing.assert_allclose(transitions.discount.numpy(), expected, rtol=1e-6)
# A batch producer that has no such field leaves it at its default.
left_out = BatchStep(observation=np.zeros((2, 2), np.float32), reward=np.zeros(2, np.float32),
                     terminated=np.zeros(2, bool), truncated=np.zeros(2, bool),
                     episode_return=np.zeros(2, np.float32), episode_length=np.zeros(2, np.int32))
np.testing.assert_array_equal(left_out.discount, [1.0, 1.0])
print('reached the loss')
'''


def test_a_field_declared_on_the_step_reaches_the_transitions(tmp_path):
  package = pathlib.Path(seed_stac.__file__).parent
  shutil.copytree(package, tmp_path / 'seed_stac', ignore=shutil.ignore_patterns('__pycache__'))
  base = tmp_path / 'seed_stac' / 'envs' / 'base.py'
  source = base.read_text()
  assert source.count(_DECLARED) == 1
  base.write_text(source.replace(_DECLARED, _DECLARED + _NEW_FIELD))
  done = subprocess.run([sys.executable, '-c', _SCRIPT],
                        cwd=tmp_path,
                        env=dict(os.environ, PYTHONPATH=str(tmp_path)),
                        capture_output=True,
                        text=True,
                        timeout=300,
                        check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  assert done.stdout.strip().endswith('reached the loss')
