"""benchmarks.cpu_use: cores by process role and thread, from /proc."""

import os
import subprocess
import sys
import time

import pytest

from benchmarks import cpu_use

_BURN = 'import time\nend = time.time() + {s}\nwhile time.time() < end: pass\n'


def test_cores_between_sums_each_part_and_skips_ended_threads():
  start = {
      (1, '1'): ('learner_main', 1.0),
      (1, '7'): ('learner_threads', 2.0),
      (5, '5'): ('actors_main', 0.0),
      (5, '9'): ('actors_threads', 4.0)
  }
  end = {
      (1, '1'): ('learner_main', 1.5),
      (1, '7'): ('learner_threads', 3.0),
      (1, '8'): ('learner_threads', 1.0),  # started in between: all of it counts
      (5, '5'): ('actors_main', 2.0)
  }  # thread 9 ended: left out
  assert cpu_use.cores_between(start, end, 2.0) == {
      'learner_main': 0.25,
      'learner_threads': 1.0,
      'actors_main': 1.0,
      'actors_threads': 0.0
  }


# A root process of our own, so that no other child of the test runner (a
# leftover of another test, a resource tracker) is counted: one busy thread
# beside its main thread, and one busy child whose only thread is its main one.
_ROOT = ('import subprocess, sys, threading\n'
         'stop = threading.Event()\n'
         'def spin():\n'
         '  while not stop.is_set(): pass\n'
         'worker = threading.Thread(target=spin)\n'
         'worker.start()\n'
         'subprocess.run([sys.executable, "-c", {burn!r}])\n'
         'stop.set()\n'
         'worker.join()\n')


def test_a_busy_child_and_a_busy_thread_show_in_their_parts():
  root = subprocess.Popen([sys.executable, '-c', _ROOT.format(burn=_BURN.format(s=2.0))])
  recorder = cpu_use.Recorder(root.pid, interval_s=0.1)
  try:
    root.wait(30)
  finally:
    recorder.stop()
  assert root.returncode == 0
  cores = recorder.steady_cores(1)
  assert cores['actors_main'] > 0.3  # the child's only thread is its main thread
  assert cores['learner_threads'] > 0.2  # the busy thread
  assert cores['actors_threads'] == 0.0


def test_too_few_samples_with_the_children_alive_are_refused():
  recorder = cpu_use.Recorder(os.getpid(), interval_s=0.05)
  time.sleep(0.2)
  recorder.stop()
  with pytest.raises(ValueError, match='with 1 children alive'):
    recorder.steady_cores(1)
