"""Where a benchmark's CPU goes: cores used by a process and its children,
split into the root process and the children, and each into its main thread
and its other threads (Linux `/proc`; a library of benchmarks.throughput).

For (b) the root is the learner (its main thread runs gRPC and the batcher's
event loop; its other threads run inference and TensorFlow's pools) and the
children are the actors (their main thread talks gRPC; their other threads
are the vector environment's emulator threads).
"""

import os
import threading
import time
from typing import Dict, List, Tuple

_TICKS_PER_S = os.sysconf('SC_CLK_TCK')
# (is the root process, is the main thread) -> the name printed.
PARTS = {
    (True, True): 'learner_main',
    (True, False): 'learner_threads',
    (False, True): 'actors_main',
    (False, False): 'actors_threads',
}


def _children(pid: int) -> List[int]:
  found = []
  for task in _listdir(f'/proc/{pid}/task'):
    try:
      with open(f'/proc/{pid}/task/{task}/children') as f:
        found += [int(child) for child in f.read().split()]
    except OSError:
      pass
  return found


def _listdir(path: str) -> List[str]:
  try:
    return os.listdir(path)
  except OSError:  # the process ended
    return []


def _thread_seconds(pid: int, tid: str) -> float:
  """user + system CPU seconds of one thread (0 once it has ended)."""
  try:
    with open(f'/proc/{pid}/task/{tid}/stat') as f:
      fields = f.read().rsplit(')', 1)[1].split()
  except OSError:
    return 0.0
  return (int(fields[11]) + int(fields[12])) / _TICKS_PER_S


def snapshot(root: int) -> Dict[Tuple[int, str], Tuple[str, float]]:
  """{(pid, tid): (part name, CPU seconds)} for `root` and its descendants."""
  result, pending = {}, [root]
  while pending:
    pid = pending.pop()
    pending += _children(pid)
    for tid in _listdir(f'/proc/{pid}/task'):
      part = PARTS[(pid == root, tid == str(pid))]
      result[(pid, tid)] = (part, _thread_seconds(pid, tid))
  return result


def cores_between(start: dict, end: dict, seconds: float) -> Dict[str, float]:
  """Cores used by each part between two snapshots `seconds` apart. Threads
  that ended in between are left out (their last CPU time is unknown)."""
  cores = dict.fromkeys(PARTS.values(), 0.0)
  for key, (part, cpu) in end.items():
    cores[part] += (cpu - start.get(key, (part, 0.0))[1]) / seconds
  return cores


class Recorder:
  """Snapshots `root`'s process tree every `interval_s` in a background
  thread, from construction until `stop()`."""

  def __init__(self, root: int, interval_s: float = 1.0):
    self._root, self._interval_s = root, interval_s
    self.samples: List[Tuple[float, dict]] = []
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._run, daemon=True, name='cpu-use')
    self._thread.start()

  def _run(self):
    while not self._stop.is_set():
      self.samples.append((time.monotonic(), snapshot(self._root)))
      self._stop.wait(self._interval_s)

  def stop(self) -> None:
    self._stop.set()
    self._thread.join()

  def steady_cores(self, num_children: int) -> Dict[str, float]:
    """Cores by part over the second half of the span in which `num_children`
    child processes were alive (the first half holds their start-up), the
    last sample left out (shutdown). ValueError if that span is too short."""
    alive = [(t, s) for t, s in self.samples if len({pid for pid, _ in s
                                                     if pid != self._root}) >= num_children]
    steady = alive[len(alive) // 2:-1]
    if len(steady) < 2:
      raise ValueError(f'only {len(alive)} samples with {num_children} children alive')
    (start_time, start), (end_time, end) = steady[0], steady[-1]
    return cores_between(start, end, end_time - start_time)
