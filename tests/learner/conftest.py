"""Fixtures shared by the learner tests that start real processes."""

import pytest


@pytest.fixture
def processes():
  """A list to append started subprocesses to; those still running at the
  end of the test are killed."""
  started = []
  yield started
  for p in started:
    if p.poll() is None:
      p.kill()
      p.wait()
