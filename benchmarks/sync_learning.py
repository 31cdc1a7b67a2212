"""Learning without the distributed runtime: a synchronous on-policy loop.

  python -m benchmarks.sync_learning --config=configs/dmc_features.py:cartpole-balance,impala \
      --frames=300000 [--config.network.bounded_mean=true ...] [--out=curve.json]

One process steps `learner.batch_size` environments in lockstep with the
config's network and the real learner step (`StacUpdater.step`), collecting
time-major unrolls exactly as the learner assembles them (step T of one unroll
is step 0 of the next). No gRPC, no actors, no policy lag: if a setting does
not learn here, the runtime is not the cause. Prints a JSON line every
`--log_every` agent steps x environments (frames are agent steps).
"""

import json
import time

from absl import app, flags
from ml_collections import config_flags
import numpy as np
import tensorflow as tf

from seed_stac import agent as agent_lib
from seed_stac.algo.update import Unroll
from seed_stac.envs import create_environment
from seed_stac.envs.batch import EnvBatch
from seed_stac.learner.inference import make_inference_fn

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Config file (configs/*.py[:arg]).')
_FRAMES = flags.DEFINE_integer('frames', 300_000, 'Agent steps summed over environments.')
_LOG_EVERY = flags.DEFINE_integer('log_every', 20_000, 'Frames between log lines.')
_OUT = flags.DEFINE_string('out', None, 'Write the logged rows as JSON here.')
flags.mark_flag_as_required('config')


class SyncLoop:
  """B environments and the agent; `unroll()` returns the next [T + 1, B] Unroll."""

  def __init__(self, config):
    self.batch_size, self.unroll_length = config.learner.batch_size, config.learner.unroll_length
    envs = [create_environment(config.env.kind, config.env.name, seed=config.seed * 1000 + i,
                               **config.env.options) for i in range(self.batch_size)]
    self.envs = EnvBatch(envs)
    self.agent = agent_lib.build_agent(config, self.envs.spec)
    self.infer = make_inference_fn(self.agent.network, config.seed)
    action = self.envs.spec.action
    action_shape = tuple(action.shape) if action.kind == 'continuous' else ()
    action_dtype = np.float32 if action.kind == 'continuous' else np.int32
    b = self.batch_size
    self.obs = self.envs.reset()
    self.prev_action = np.zeros((b,) + action_shape, action_dtype)
    self.reward, self.first = np.zeros(b, np.float32), np.ones(b, bool)
    self.terminated, self.truncated = np.zeros(b, bool), np.zeros(b, bool)
    self.last_row, self.frames, self.returns = None, 0, []

  def _step(self, action):
    step = self.envs.step(action)
    self.frames += self.batch_size
    self.returns += [r for r in step.episode_return if not np.isnan(r)]
    ended = step.terminated | step.truncated
    mask = ended.reshape((-1,) + (1,) * (action.ndim - 1))
    self.prev_action = np.where(mask, 0, action).astype(action.dtype)
    self.obs, self.reward, self.first = step.observation, step.reward, ended
    self.terminated, self.truncated = step.terminated, step.truncated

  def unroll(self) -> Unroll:
    rows = []
    if self.last_row is not None:
      rows.append(self.last_row)
      self._step(self.last_row[6])
    while True:
      out = self.infer(dict(observation=self.obs, prev_action=self.prev_action,
                            reward=self.reward, first=self.first))
      rows.append((self.obs, self.prev_action, self.reward, self.first, self.terminated,
                   self.truncated, out['action'], out['log_prob']))
      if len(rows) == self.unroll_length + 1:
        break
      self._step(out['action'])
    self.last_row = rows[-1]
    return Unroll(*[tf.constant(np.stack(column)) for column in zip(*rows)], core_state=())


def main(argv):
  del argv
  config = _CONFIG.value
  tf.random.set_seed(config.seed)
  loop = SyncLoop(config)
  log, next_log, start = [], 0, time.time()
  while loop.frames < _FRAMES.value:
    stats = loop.agent.updater.step(loop.unroll())
    if loop.frames >= next_log:
      next_log += _LOG_EVERY.value
      row = dict(frames=loop.frames, fps=loop.frames / (time.time() - start),
                 episode_return=float(np.mean(loop.returns[-loop.batch_size:]))
                 if loop.returns else float('nan'))
      row.update({k: float(v) for k, v in stats.items()})
      log.append(row)
      print(json.dumps({k: round(v, 4) for k, v in row.items()}), flush=True)
  if _OUT.value:
    with open(_OUT.value, 'w') as f:
      json.dump(log, f)


if __name__ == '__main__':
  app.run(main)
