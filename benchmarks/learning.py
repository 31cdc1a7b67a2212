"""Learning benchmark: configs x agents x seeds at one frame budget, summarised.

  python -m benchmarks.learning --config=minatar:Breakout --config=minatar:SpaceInvaders \
      --agents=impala,stac --seeds=0,1,2 --total_frames=2000000 \
      --root=runs/learning --out=docs/results/minatar

Runs `seed_stac.local` (2 actors) one after another, each in
ROOT/{config}_{arg}_{agent}_s{seed}. A run whose progress reached the budget
is skipped, an interrupted one resumes from its checkpoint: interrupt the
harness and start it again with the same flags to continue. Then writes to
OUT: `summary.md` and `summary.csv` (a row per config and agent, see
`summarise`; runs short of the budget are only named), and per config
`{name}_returns.png` (mean over seeds with a band of one standard deviation)
against frames, `{name}_returns_time.png` against training hours (what the
meta-gradient's cost buys at equal time) and `{name}_metaparameters.png`.
`--reference=CONFIG=LABEL=RETURN` draws a dashed line on CONFIG's return
plots, e.g. `--reference='minatar:Breakout=random play=0.5'`.

`--set=KEY=VALUE` overrides a config key in every run, e.g. a poor discount
for both agents: `--set=algo.fixed.gamma=0.9 --set=algo.init_logits.gamma=2.197`
(IMPALA uses the fixed value, STAC tunes from the initial logit).
"""

# pylint: disable=wrong-import-position  # TensorFlow's start-up notices off first
from seed_stac.quiet import quiet_start

quiet_start()

import ast
import os
from typing import Dict, List, NamedTuple, Sequence, Tuple

from absl import app, flags

from benchmarks import learning_summary
from seed_stac import config as config_lib

flags.DEFINE_multi_string(
    'config', ['minatar:Breakout'], 'MODULE[:ARG]: a config module in configs/ and its argument '
    '(without the agent), e.g. minatar:Breakout, catch, atari:Pong.')
flags.DEFINE_list('agents', ['impala', 'stac'], 'Agents.')
flags.DEFINE_list('seeds', ['0', '1', '2'], 'Seeds.')
flags.DEFINE_integer('total_frames', 2_000_000, 'Frame budget of every run.')
flags.DEFINE_multi_string('set', [], 'KEY=VALUE config overrides applied to every run.')
flags.DEFINE_string('root', 'runs/learning', 'Where the runs go.')
flags.DEFINE_string('out', None, 'Where the summary and plots go (default: ROOT/summary).')
flags.DEFINE_integer('num_actors', 2, 'Actor processes per run.')
flags.DEFINE_multi_string(
    'threshold', [], '[CONFIG=]RETURN for the frames-to-threshold column: a bare number '
    'applies to every config, CONFIG= to that one, e.g. --threshold=10 '
    '--threshold=minatar:SpaceInvaders=110.')
flags.DEFINE_multi_string(
    'reference', [], 'CONFIG=LABEL=RETURN: a dashed line on the '
    "config's return plots (random play, a published score).")
flags.DEFINE_bool('summary_only', False, 'Do not run; summarise what ROOT holds.')
FLAGS = flags.FLAGS


class Run(NamedTuple):
  config: str  # 'minatar:Breakout'
  agent: str
  seed: int
  logdir: str


def parse_override(text: str):
  """'algo.fixed.gamma=0.9' -> ('algo.fixed.gamma', 0.9); values as Python literals."""
  key, sep, value = text.partition('=')
  if not sep or not key:
    raise ValueError(f'--set expects KEY=VALUE, got {text!r}')
  try:
    return key, ast.literal_eval(value)
  except (ValueError, SyntaxError):
    return key, value  # a bare string such as 'mean'


def apply_override(config, key: str, value) -> None:
  """Sets a dotted key; new keys only inside dicts meant to be open (init_logits)."""
  *parents, last = key.split('.')
  node = config
  for part in parents:
    if part not in node:
      raise ValueError(f'--set {key}: config has no key {part!r}')
    node = node[part]
  if last not in node and not key.startswith('algo.init_logits.'):
    raise ValueError(f'--set {key}: config has no key {last!r}')
  node[last] = value


def parse_reference(text: str) -> Tuple[str, str, float]:
  """'minatar:Breakout=random play=0.5' -> ('minatar:Breakout', 'random play', 0.5)."""
  parts = text.split('=')
  try:
    if len(parts) != 3 or not parts[0] or not parts[1]:
      raise ValueError
    return parts[0], parts[1], float(parts[2])
  except ValueError:
    raise ValueError(f'--reference must be CONFIG=LABEL=RETURN (a number), got {text!r}') from None


def parse_thresholds(texts: Sequence[str], configs: Sequence[str]) -> Dict[str, float]:
  """['10', 'minatar:Freeway=40'] -> {config: 10 for each config, but Freeway 40}."""
  thresholds = {}
  for text in sorted(texts, key=lambda t: '=' in t):  # bare numbers first, named ones win
    config, _, value = text.rpartition('=')
    if config and config not in configs:
      raise ValueError(f'--threshold names config {config!r}, not one of --config {list(configs)}')
    try:
      number = float(value)
    except ValueError:
      raise ValueError(f'--threshold must be [CONFIG=]RETURN (a number), got {text!r}') from None
    thresholds.update({config: number} if config else dict.fromkeys(configs, number))
  return thresholds


def build_config(config_name: str, agent: str, seed: int, total_frames: int,
                 overrides: Sequence[str]):
  module_name, _, arg = config_name.partition(':')
  module = __import__(f'configs.{module_name}', fromlist=['get_config'])
  config = module.get_config(f'{arg},{agent}' if arg else agent)
  config.seed = seed
  config.learner.total_frames = total_frames
  for text in overrides:
    apply_override(config, *parse_override(text))
  config_lib.validate(config)
  return config


def run_dir(root: str, config_name: str, agent: str, seed: int) -> str:
  return os.path.join(root, f"{config_name.replace(':', '_')}_{agent}_s{seed}")


def frames_done(logdir: str) -> int:
  path = os.path.join(logdir, 'progress.csv')
  if not os.path.exists(path):
    return 0
  with open(path) as f:
    lines = f.read().strip().splitlines()
  return int(float(lines[-1].split(',')[0])) if len(lines) > 1 else 0


def run_all(runs: List[Run], total_frames: int, overrides: Sequence[str], num_actors: int) -> None:
  from seed_stac.launch import run_local  # pylint: disable=g-import-not-at-top
  for i, run in enumerate(runs):
    if frames_done(run.logdir) >= total_frames:
      continue
    print(f'[{i + 1}/{len(runs)}] {run.config} {run.agent} seed {run.seed} -> {run.logdir}',
          flush=True)
    config = build_config(run.config, run.agent, run.seed, total_frames, overrides)
    config.learner.log_interval_s = 10.0
    run_local(config, run.logdir, num_actors, show_progress=False)


def main(_):
  overrides = list(FLAGS.set)
  # Seed-major order: an interrupted sweep has comparable runs of every pair.
  runs = [
      Run(c, a, int(s), run_dir(FLAGS.root, c, a, int(s)))
      for s in FLAGS.seeds
      for c in FLAGS.config
      for a in FLAGS.agents
  ]
  thresholds = parse_thresholds(FLAGS.threshold, FLAGS.config)  # Fail before hours of runs.
  references = {}
  for text in FLAGS.reference:
    config, label, value = parse_reference(text)
    if config not in FLAGS.config:
      raise ValueError(f'--reference names config {config!r}, not one of --config {FLAGS.config}')
    references.setdefault(config, []).append((label, value))
  for run in runs:
    build_config(run.config, run.agent, run.seed, FLAGS.total_frames, overrides)
  if not FLAGS.summary_only:
    run_all(runs, FLAGS.total_frames, overrides, FLAGS.num_actors)
  out = FLAGS.out or os.path.join(FLAGS.root, 'summary')
  header = dict(budget=FLAGS.total_frames,
                seeds=FLAGS.seeds,
                overrides=overrides,
                thresholds=thresholds,
                references=FLAGS.reference)
  for path in learning_summary.write_summary(runs, out, thresholds, header, FLAGS.total_frames,
                                             references):
    print(path)


if __name__ == '__main__':
  app.run(main)
