"""Times one learner step of IMPALA, STAC and STACX on the same Atari-shaped
batch (IMPALA deep network, 84x84x4 uint8) and prints ratios to IMPALA.

  python -m benchmarks.learner_step --batch_size=32 --num_steps=5 [--jit=false,true]

Each variant is built fresh, warmed up (tracing/compilation excluded), then
timed as the median of --num_steps steps, all in this one process so the
ratios compare like with like. Variants: IMPALA; the exact STAC and STACX
step (meta-gradient every step on the whole batch) with the second-order term
in reverse mode (the default) and in forward mode; the configs' default STAC;
and the cost-saving candidates (the meta-gradient every k steps, on a
sub-batch). The last lines are `stac_exact_over_impala=`,
`stacx_exact_over_impala=`, `stac_default_over_impala=` and the forward-mode
ratios.
"""

import statistics
import time

from absl import app, flags
import numpy as np
import tensorflow as tf

from benchmarks import step_parts
from seed_stac import builder
from seed_stac.types import Unroll
from seed_stac.envs.base import ActionSpec, EnvSpec

flags.DEFINE_integer('batch_size', 32, 'Unrolls per learner step.')
FLAGS = flags.FLAGS
flags.DEFINE_integer('unroll_length', 20, 'Transitions per unroll (T).')
flags.DEFINE_integer('num_steps', 5, 'Timed steps per variant (median).')
flags.DEFINE_integer('warmup_steps', 2, 'Untimed steps per variant.')
flags.DEFINE_list('jit', ['false'], 'jit_compile settings to time (false, true).')
flags.DEFINE_bool('options', True, 'Also time meta-gradient interval/sub-batch options.')
flags.DEFINE_bool(
    'parts', False, 'Instead: where the milliseconds go inside the exact '
    'IMPALA, STAC and STACX steps (graph mode).')

SPEC = EnvSpec('atari-shaped', (84, 84, 1),
               'uint8',
               ActionSpec('discrete', num_actions=6),
               frame_stack=4,
               frames_per_step=4)


def atari_batch(batch_size, unroll_length, seed=0) -> Unroll:
  rng = np.random.default_rng(seed)
  shape = [unroll_length + 1, batch_size]
  action = rng.integers(0, 6, shape).astype(np.int32)
  done = rng.random(shape) < 0.01
  return Unroll(observation=tf.constant(
      rng.integers(0, 256, shape + list(SPEC.stacked_observation_shape), dtype=np.uint8)),
                prev_action=tf.constant(action),
                reward=tf.constant(rng.normal(size=shape), tf.float32),
                first=tf.constant(done),
                terminated=tf.constant(done),
                truncated=tf.zeros(shape, tf.bool),
                action=tf.constant(action),
                behaviour_log_prob=tf.fill(shape, float(np.log(1 / 6))))


def variants(batch_size):
  yield 'impala', dict(agent='impala')
  yield 'stac', dict(agent='stac', second_order='reverse')
  yield 'stac_forward', dict(agent='stac', second_order='forward')
  yield 'stacx', dict(agent='stacx', second_order='reverse')
  yield 'stacx_forward', dict(agent='stacx', second_order='forward')
  if not _default_is_exact():
    yield 'stac_default', dict(agent='stac', default=True)
  if FLAGS.options:
    yield 'stac_every_4', dict(agent='stac', meta_update_interval=4)
    yield 'stac_every_8', dict(agent='stac', meta_update_interval=8)
    yield 'stac_every_16', dict(agent='stac', meta_update_interval=16)
    yield 'stac_subbatch_quarter', dict(agent='stac', meta_batch_size=max(1, batch_size // 4))
    yield 'stac_every_4_subbatch_half', dict(agent='stac',
                                             meta_update_interval=4,
                                             meta_batch_size=max(1, batch_size // 2))


def _config(agent):
  from configs import atari  # pylint: disable=import-outside-toplevel
  config = atari.get_config('Pong')
  config.agent = agent
  return config


def _default_is_exact() -> bool:
  algo = _config('stac').algo
  return (algo.meta_update_interval == 1 and not algo.meta_batch_size
          and algo.second_order == 'reverse')


def time_variant(overrides, jit, batch) -> float:
  config = _config(overrides['agent'])
  if not overrides.get('default'):
    config.algo.meta_update_interval = overrides.get('meta_update_interval', 1)
    config.algo.meta_batch_size = overrides.get('meta_batch_size', 0)
    config.algo.second_order = overrides.get('second_order', 'reverse')
  config.learner.jit_compile = jit
  config.learner.batch_size = FLAGS.batch_size
  agent = builder.build_agent(config, SPEC)
  # Warm up past every distinct compiled step (meta and plain).
  interval = config.algo.meta_update_interval
  for _ in range(max(FLAGS.warmup_steps, interval + 1 if interval > 1 else 0)):
    agent.updater.step(batch)
  # With an interval k, time whole cycles of k steps so the ratio is the mean;
  # at least --num_steps steps in all (one cycle of 8 or 16 is enough).
  cycle = interval if config.agent != 'impala' else 1
  times = []
  for _ in range(-(-FLAGS.num_steps // cycle)):
    start = time.perf_counter()
    for _ in range(cycle):
      stats = agent.updater.step(batch)
    float(stats['inner_loss'])  # wait for the step to finish
    times.append((time.perf_counter() - start) / cycle)
  return statistics.median(times)


def print_parts(batch):
  """Per-part milliseconds of the exact steps, as a Markdown table: the parts
  of the forward-mode meta step, and the whole reverse-mode (default) step."""
  columns = {}
  for agent in ('impala', 'stac', 'stacx'):
    config = _config(agent)
    config.learner.batch_size = FLAGS.batch_size
    config.algo.second_order = 'forward'
    columns[agent] = step_parts.time_parts(
        builder.build_agent(config, SPEC).updater, batch, FLAGS.num_steps)
    if agent != 'impala':
      config.algo.second_order = 'reverse'
      columns[agent]['whole step, reverse mode (default)'] = step_parts.time_step(
          builder.build_agent(config, SPEC).updater, batch, FLAGS.num_steps)
  names = list(columns['stacx'])
  print('| part (ms) | IMPALA | STAC | STACX |')
  print('| --- | --- | --- | --- |')
  for name in names:
    cells = [f"{columns[a][name]:.0f}" if name in columns[a] else '' for a in columns]
    print(f'| {name} | ' + ' | '.join(cells) + ' |')


def main(_):
  batch = atari_batch(FLAGS.batch_size, FLAGS.unroll_length)
  if FLAGS.parts:
    print_parts(batch)
    return
  print(f'batch_size={FLAGS.batch_size} unroll_length={FLAGS.unroll_length} '
        f'num_steps={FLAGS.num_steps} '
        f'threads={tf.config.threading.get_intra_op_parallelism_threads()}')
  for jit in (j.lower() == 'true' for j in FLAGS.jit):
    results = {name: time_variant(o, jit, batch) for name, o in variants(FLAGS.batch_size)}
    base = results['impala']
    for name, seconds in results.items():
      print(f'jit_compile={jit!s:5} {name:28s} {seconds * 1000:8.1f} ms/step  '
            f'{seconds / base:5.2f}x impala')
    default = results.get('stac_default', results['stac'])
    prefix = 'xla_' if jit else ''
    for line, value in (('stac_exact_over_impala', results['stac']), ('stacx_exact_over_impala',
                                                                      results['stacx']),
                        ('stac_default_over_impala', default), ('stac_forward_over_impala',
                                                                results['stac_forward']),
                        ('stacx_forward_over_impala', results['stacx_forward'])):
      print(f'{prefix}{line}={value / base:.3f}')


if __name__ == '__main__':
  app.run(main)
