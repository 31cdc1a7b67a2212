"""Running an actor machine's processes: start them all, forward SIGTERM and
SIGINT, collect their exit codes."""

import signal
import subprocess
from typing import Callable, List, Sequence


def run_processes(
    commands: Sequence[Sequence[str]],
    popen: Callable[..., subprocess.Popen] = subprocess.Popen,
    forward_signals: Sequence[int] = (signal.SIGTERM, signal.SIGINT)
) -> List[int]:
  """Starts all commands, forwards signals to them, returns their exit codes.

  A failed actor does not stop the others: actors are independent and the
  learner keeps training with fewer of them. Must run in the main thread
  (signal handlers).
  """
  procs = []

  def forward(signum, unused_frame):
    for p in procs:
      if p.poll() is None:
        p.send_signal(signum)

  previous = {s: signal.signal(s, forward) for s in forward_signals}
  try:
    try:
      for cmd in commands:
        procs.append(popen(list(cmd)))
    except BaseException:
      # Do not leave half a machine of actors running with nobody waiting.
      for p in procs:
        p.kill()
        p.wait()
      raise
    return [p.wait() for p in procs]
  finally:
    for s, handler in previous.items():
      signal.signal(s, handler)


def exit_status(codes: Sequence[int]) -> int:
  """0 if every process exited 0, else 1."""
  return 0 if all(c == 0 for c in codes) else 1
