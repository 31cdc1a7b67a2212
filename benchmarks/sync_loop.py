"""A synchronous on-policy loop with the real learner step (the library of
benchmarks.sync_learning; no flags here).

B environments step in lockstep with the config's network; `unroll()` returns
time-major unrolls exactly as the learner assembles them (step T of one unroll
is step 0 of the next). No gRPC, no actors, no policy lag.
"""

import numpy as np
import tensorflow as tf

from seed_stac import builder
from seed_stac.types import InferenceInput, Unroll
from seed_stac.envs import create_environment
from seed_stac.envs.batch import EnvBatch
from seed_stac.learner.env_state import push_frame
from seed_stac.learner.inference import make_inference_fn


class SyncLoop:
  """B environments and the agent; `unroll()` returns the next [T + 1, B] Unroll."""

  def __init__(self, config):
    self.batch_size, self.unroll_length = config.learner.batch_size, config.learner.unroll_length
    envs = [
        create_environment(config.env.kind,
                           config.env.name,
                           seed=config.seed * 1000 + i,
                           **config.env.options) for i in range(self.batch_size)
    ]
    self.envs = EnvBatch(envs)
    self.agent = builder.build_agent(config, self.envs.spec)
    self.infer = make_inference_fn(self.agent.network, config.seed)
    action = self.envs.spec.action
    action_shape = tuple(action.shape) if action.kind == 'continuous' else ()
    action_dtype = np.float32 if action.kind == 'continuous' else np.int32
    b = self.batch_size
    self.frame_stack = self.envs.spec.frame_stack
    self.obs = push_frame(None, self.envs.reset(), None, self.frame_stack)
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
    self.obs = push_frame(self.obs, step.observation, ended, self.frame_stack)
    self.reward, self.first = step.reward, ended
    self.terminated, self.truncated = step.terminated, step.truncated

  def unroll(self) -> Unroll:
    rows = []
    if self.last_row is not None:
      rows.append(self.last_row)
      self._step(self.last_row.action)
    while True:
      out = self.infer(InferenceInput(self.obs, self.prev_action, self.reward, self.first))
      rows.append(
          Unroll(observation=self.obs,
                 prev_action=self.prev_action,
                 first=self.first,
                 reward=self.reward,
                 terminated=self.terminated,
                 truncated=self.truncated,
                 action=out.action,
                 behaviour_log_prob=out.log_prob))
      if len(rows) == self.unroll_length + 1:
        break
      self._step(out.action)
    self.last_row = rows[-1]
    columns = zip(*(row[:-1] for row in rows))
    return Unroll(*[tf.constant(np.stack(column)) for column in columns], core_state=())
