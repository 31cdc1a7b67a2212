"""benchmarks.learning (the harness) and benchmarks.learning_summary (its statistics)."""

import csv
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from benchmarks import learning, learning_summary

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_progress(logdir, frames, returns, fps=1000.0, gamma=None):
  os.makedirs(logdir, exist_ok=True)
  with open(os.path.join(logdir, 'progress.csv'), 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(
        ['frames', 'learner_steps', 'fps', 'episode_return', 'main/gamma', 'learning_rate'])
    for i, (frame, ret) in enumerate(zip(frames, returns)):
      writer.writerow(
          [frame, i, fps, '' if ret is None else ret, gamma[i] if gamma else 0.99, 1e-3 / (i + 1)])


def columns(frames, returns):
  return dict(frames=[float(f) for f in frames],
              episode_return=[math.nan if r is None else float(r) for r in returns])


def test_statistics_match_brute_force():
  rng = np.random.default_rng(0)
  frames = np.cumsum(rng.integers(500, 1500, 50)).astype(float)
  returns = rng.normal(size=50)
  returns[[0, 7]] = np.nan  # intervals without a finished episode
  c = columns(frames, [None if np.isnan(r) else r for r in returns])
  keep = [i for i in range(50) if not np.isnan(returns[i])]
  last = frames[keep[-1]]
  expected_final = np.mean([returns[i] for i in keep if frames[i] >= 0.9 * last])
  area = sum(
      (returns[a] + returns[b]) / 2 * (frames[b] - frames[a]) for a, b in zip(keep, keep[1:]))
  expected_auc = area / (frames[keep[-1]] - frames[keep[0]])
  threshold = float(np.quantile(returns[keep], 0.8))
  expected_first = next(frames[i] for i in keep if returns[i] >= threshold)
  assert learning_summary.final_return(c) == pytest.approx(expected_final)
  assert learning_summary.area_under_curve(c) == pytest.approx(expected_auc)
  assert learning_summary.frames_to_threshold(c, threshold) == expected_first
  assert learning_summary.frames_to_threshold(c, 1e9) is None
  assert math.isnan(learning_summary.final_return(columns([1, 2], [None, None])))


def test_summary_over_seeds_table_and_plots(tmp_path):
  runs = []
  for agent, level in (('impala', 1.0), ('stac', 2.0)):
    for seed in (0, 1):
      logdir = str(tmp_path / f'{agent}_{seed}')
      write_progress(logdir,
                     range(1000, 11000, 1000), [level + seed] * 10,
                     gamma=list(np.linspace(0.9, 0.99, 10)))
      runs.append(learning.Run('minatar:Breakout', agent, seed, logdir))
  runs.append(learning.Run('minatar:Breakout', 'stac', 2, str(tmp_path / 'not_started')))
  write_progress(str(tmp_path / 'short'), [1000, 2000], [50.0, 60.0])
  runs.append(learning.Run('minatar:Breakout', 'impala', 3, str(tmp_path / 'short')))
  paths = learning_summary.write_summary(runs,
                                         str(tmp_path / 'out'), {'minatar:Breakout': 2.5},
                                         dict(budget=10000),
                                         budget=10000,
                                         references={'minatar:Breakout': [('random play', 0.5)]})
  rows = {
      r['agent']: r
      for r in learning_summary.summarise(runs, {'minatar:Breakout': 2.5}, budget=10000)
  }
  assert rows['impala']['final_return_mean'] == pytest.approx(1.5)
  assert rows['impala']['final_return_std'] == pytest.approx(np.std([1, 2], ddof=1))
  assert rows['stac']['seeds'] == '0 1'  # unstarted and short runs are left out
  assert rows['impala']['seeds'] == '0 1'
  header = open(paths[0]).read()
  assert 'unfinished: minatar:Breakout impala seed 3\n' in header
  assert 'not_started: minatar:Breakout stac seed 2\n' in header
  assert rows['stac']['frames_to_threshold'] == '- 1000'
  assert rows['impala']['frames_to_threshold'] == '- -'
  table = open(paths[0]).read()
  assert '| minatar:Breakout | stac | 0 1 | 10,000 | 2.50 ± 0.71 |' in table
  assert rows['stac']['hours'] == pytest.approx(10000 / 1000 / 3600)  # 10k frames at 1k/s
  assert {os.path.basename(p) for p in paths[2:]} == {
      'minatar_Breakout_returns.png', 'minatar_Breakout_returns_time.png',
      'minatar_Breakout_metaparameters.png', 'minatar_Breakout_training.png'
  }
  assert all(os.path.getsize(p) > 0 for p in paths)


def test_training_seconds_sum_each_interval_at_its_rate():
  progress = dict(frames=[100.0, 300.0, 400.0, 1000.0], fps=[50.0, 100.0, math.nan, 200.0])
  # 100/50, 200/100, an interval without a rate, 600/200.
  np.testing.assert_allclose(learning_summary.training_seconds(progress), [2.0, 4.0, 4.0, 7.0])


def test_return_at_equal_time_judges_every_agent_after_the_shortest_runs_time(tmp_path):
  progress = dict(frames=[100.0, 200.0, 300.0, 400.0],
                  fps=[10.0, 10.0, 10.0, 10.0],
                  episode_return=[1.0, math.nan, 3.0, 4.0])  # at 10, 20, 30, 40 s
  assert learning_summary.return_at_time(progress, 40.0, fraction=0.5) == pytest.approx(3.5)
  assert learning_summary.return_at_time(progress, 20.0, fraction=0.5) == pytest.approx(1.0)
  assert math.isnan(learning_summary.return_at_time(progress, 5.0))
  runs = []
  for agent, fps, returns in (('impala', 2000.0, [1.0] * 10), ('stac', 1000.0, range(10))):
    write_progress(str(tmp_path / agent), range(1000, 11000, 1000), returns, fps=fps)
    runs.append(learning.Run('catch', agent, 0, str(tmp_path / agent)))
  rows = {r['agent']: r for r in learning_summary.summarise(runs, budget=10000)}
  # IMPALA trained 5 s; STAC (at half the rate) is judged on its row at 5 s, not at 10 s.
  assert rows['stac']['equal_time_hours'] == pytest.approx(5 / 3600)
  assert rows['stac']['return_at_equal_time_mean'] == pytest.approx(4.0)
  assert rows['stac']['final_return_mean'] == pytest.approx(8.5)  # frames 9k and 10k
  assert rows['impala']['return_at_equal_time_mean'] == pytest.approx(1.0)


def test_thresholds_are_per_config_or_refused_naming_the_form():
  configs = ['minatar:Breakout', 'minatar:Freeway']
  assert learning.parse_thresholds(['minatar:Freeway=40', '10'], configs) == {
      'minatar:Breakout': 10.0,
      'minatar:Freeway': 40.0
  }
  assert learning.parse_thresholds(['-100'], configs) == dict.fromkeys(configs, -100.0)
  assert learning.parse_thresholds([], configs) == {}
  with pytest.raises(ValueError, match="names config 'atari:Pong'"):
    learning.parse_thresholds(['atari:Pong=3'], configs)
  with pytest.raises(ValueError, match=r'\[CONFIG=\]RETURN'):
    learning.parse_thresholds(['minatar:Freeway=high'], configs)


def test_references_are_parsed_or_refused_naming_the_form():
  assert learning.parse_reference('minatar:Breakout=random play=0.5') == ('minatar:Breakout',
                                                                          'random play', 0.5)
  for bad in ('minatar:Breakout=0.5', 'minatar:Breakout=random=high', '=random=1'):
    with pytest.raises(ValueError, match='CONFIG=LABEL=RETURN'):
      learning.parse_reference(bad)


def test_overrides_are_checked_before_any_run():
  config = learning.build_config(
      'minatar:Breakout', 'impala', 3, 1000,
      ['algo.fixed.gamma=0.9', 'algo.init_logits.gamma=2.2', 'algo.loss_reduction=mean'])
  assert (config.seed, config.learner.total_frames) == (3, 1000)
  assert config.algo.fixed.gamma == 0.9 and config.algo.init_logits.gamma == 2.2
  assert config.algo.loss_reduction == 'mean'
  with pytest.raises(ValueError, match="no key 'gama'"):
    learning.build_config('catch', 'stac', 0, 1000, ['algo.fixed.gama=0.9'])
  with pytest.raises(ValueError, match='KEY=VALUE'):
    learning.build_config('catch', 'stac', 0, 1000, ['algo.fixed.gamma'])
  with pytest.raises(ValueError, match='gamma=1.5 is outside'):
    learning.build_config('catch', 'stac', 0, 1000, ['algo.fixed.gamma=1.5'])


@pytest.mark.slow
def test_harness_runs_then_skips_finished_runs(tmp_path):
  command = [
      sys.executable, '-m', 'benchmarks.learning', '--config=catch', '--agents=impala', '--seeds=0',
      '--total_frames=3000', f'--root={tmp_path}', '--threshold=0.0',
      '--reference=catch=random play=-0.6'
  ]
  wrong = subprocess.run(command + ['--reference=atari:Pong=random play=-20.7'],
                         cwd=ROOT,
                         capture_output=True,
                         text=True,
                         timeout=600)
  assert wrong.returncode != 0 and "names config 'atari:Pong'" in wrong.stderr
  assert not os.path.exists(tmp_path / 'catch_impala_s0')
  first = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
  assert first.returncode == 0, first.stderr[-3000:]
  assert '[1/1] catch impala seed 0' in first.stdout
  assert learning.frames_done(str(tmp_path / 'catch_impala_s0')) >= 3000
  again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
  assert again.returncode == 0, again.stderr[-3000:]
  assert '[1/1]' not in again.stdout  # finished: not run again
  summary = open(tmp_path / 'summary' / 'summary.csv').read()
  assert summary.startswith('config,agent,seeds,frames') and 'catch,impala,0,' in summary
  assert os.path.getsize(tmp_path / 'summary' / 'catch_returns_time.png') > 0
  assert 'references: [\'catch=random play=-0.6\']' in open(tmp_path / 'summary'
                                                            / 'summary.md').read()
