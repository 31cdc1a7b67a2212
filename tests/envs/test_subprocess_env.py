"""An environment in a child process behaves like the same one in-process."""

import numpy as np
import pytest

from seed_stac import envs
from seed_stac.envs.subprocess_env import SubprocessEnvironment


def test_matches_the_in_process_environment():
  remote = SubprocessEnvironment('catch', 'catch', 3)
  local = envs.create_environment('catch', 'catch', 3)
  try:
    assert remote.spec == local.spec
    np.testing.assert_array_equal(remote.reset(), local.reset())
    for action in [0, 2, 1, 1, 0, 2, 2, 1, 0]:
      a, b = remote.step(action), local.step(action)
      np.testing.assert_array_equal(a.observation, b.observation)
      assert (a.reward, a.terminated, a.truncated) == (b.reward, b.terminated, b.truncated)
  finally:
    remote.close()


def test_bad_environment_raises_in_the_parent_with_the_message():
  with pytest.raises(ValueError, match='catch'):
    SubprocessEnvironment('procgen', 'coinrun', 0)
