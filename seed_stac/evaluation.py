"""Playing a run's latest checkpoint: returns, Atari human-normalized score,
optional GIF. The binary is seed_stac.evaluate."""

import json
import os
import statistics
from typing import List, Optional

import ml_collections
import numpy as np
import tensorflow as tf

from seed_stac import builder
from seed_stac.envs.atari_scores import human_normalized_score
from seed_stac.envs.batch import BatchStep, EnvBatch
from seed_stac.envs.subprocess_env import SubprocessEnvironment
from seed_stac.learner.env_state import ActorState
from seed_stac.learner.inference import make_inference_fn
from seed_stac.types import InferenceInput, InferenceOutput


def load_config(logdir: str) -> ml_collections.ConfigDict:
  path = os.path.join(logdir, 'config.json')
  if not tf.io.gfile.exists(path):
    raise FileNotFoundError(f'{path} not found: is {logdir!r} a seed_stac run directory?')
  with tf.io.gfile.GFile(path) as f:
    return ml_collections.ConfigDict(json.load(f))


def restore_network(config, logdir: str, spec):
  """The run's network with the latest checkpoint's weights; (network, path)."""
  network = builder.build_network(config, spec)
  path = tf.train.latest_checkpoint(os.path.join(logdir, 'checkpoints'))
  if path is None:
    raise FileNotFoundError(f'no checkpoint under {logdir}/checkpoints')
  tf.train.Checkpoint(
      network_weights=builder.network_weights(network)).restore(path).expect_partial()
  return network, path


def play(env,
         infer,
         spec,
         initial_core_state,
         episodes: int,
         video_frames: Optional[List[np.ndarray]] = None) -> List[float]:
  """Runs `episodes` episodes; returns their undiscounted raw returns (of
  whole games: a learning-only end such as a lost Atari life is not one)."""
  state = ActorState('evaluate',
                     spec,
                     1,
                     tuple(np.asarray(s) for s in initial_core_state),
                     unroll_length=1,
                     record=False)
  returns = []
  batch = EnvBatch([env])
  step = BatchStep.first(batch.reset())
  while len(returns) < episodes:
    inputs = state.observe(step)
    outputs = infer(inputs)
    state.act(outputs.action, outputs.log_prob, outputs.core)
    if video_frames is not None and not returns:
      video_frames.append(step.observation[0])
    step = batch.step(outputs.action)
    if not np.isnan(step.episode_return[0]):  # a whole game ended
      returns.append(float(step.episode_return[0]))
  return returns


def random_inference_fn(spec, seed: int):
  """A uniform random policy with `make_inference_fn`'s interface: uniform
  over the actions (discrete) or over the bounds (continuous). The baseline
  that learning curves are read against."""
  rng = np.random.default_rng(seed)
  action = spec.action

  def run(inputs: InferenceInput) -> InferenceOutput:
    size = len(inputs.reward)
    if action.kind == 'discrete':
      sample = rng.integers(0, action.num_actions, size).astype(np.int32)
      log_prob = np.full(size, -np.log(action.num_actions), np.float32)
    else:
      low = np.broadcast_to(np.asarray(action.minimum, np.float32), action.shape)
      high = np.broadcast_to(np.asarray(action.maximum, np.float32), action.shape)
      sample = rng.uniform(low, high, (size,) + tuple(action.shape)).astype(np.float32)
      log_prob = np.full(size, -np.sum(np.log(high - low)), np.float32)
    return InferenceOutput(sample, log_prob, inputs.core)

  return run


def write_gif(frames: List[np.ndarray], path: str) -> None:
  from PIL import Image
  if not frames or frames[0].ndim != 3:
    raise ValueError('--video needs a pixel environment (frames of shape [H, W, C])')
  images = [Image.fromarray(f[..., 0] if f.shape[-1] == 1 else f[..., :3]) for f in frames]
  images[0].save(path, save_all=True, append_images=images[1:], duration=40, loop=0)


POLICIES = ('checkpoint', 'random')


def evaluate(logdir: str,
             episodes: int,
             greedy: bool = False,
             seed: int = 12345,
             video: Optional[str] = None,
             policy: str = 'checkpoint') -> dict:
  """Plays the run's latest checkpoint, or with policy='random' a uniform
  random policy on the run's environment settings (no checkpoint needed)."""
  if policy not in POLICIES:
    raise ValueError(f'policy must be one of {POLICIES}, got {policy!r}')
  config = load_config(logdir)
  options = dict(config.env.options)
  if 'terminal_on_life_loss' in options:  # A training signal; scores are whole games.
    options['terminal_on_life_loss'] = False
  env = SubprocessEnvironment(config.env.kind, config.env.name, seed, **options)
  try:
    if policy == 'random':
      checkpoint, infer, core_state = None, random_inference_fn(env.spec, seed), ()
    else:
      network, checkpoint = restore_network(config, logdir, env.spec)
      infer = make_inference_fn(network, seed, greedy)
      core_state = network.initial_state(1)
    frames = [] if video else None
    returns = play(env, infer, env.spec, core_state, episodes, frames)
  finally:
    env.close()
  if video:
    write_gif(frames, video)
  result = dict(logdir=logdir,
                checkpoint=checkpoint,
                env=f'{config.env.kind}:{config.env.name}',
                episodes=episodes,
                policy=policy,
                greedy=greedy,
                returns=returns,
                mean_return=statistics.mean(returns),
                median_return=statistics.median(returns))
  if config.env.kind == 'atari':
    result['human_normalized_mean'] = human_normalized_score(config.env.name, result['mean_return'])
  return result
