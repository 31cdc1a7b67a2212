"""Tests for seed_stac.envs.atari on real ROMs (Pong, Breakout, MsPacman)."""

import numpy as np
import pytest

from seed_stac.envs import atari
from seed_stac.envs import resize
from seed_stac.envs.batch import EnvBatch


def _random_steps(env, num_steps, seed=0):
  """Plays random actions; returns the list of Steps (no auto-reset)."""
  rng = np.random.default_rng(seed)
  steps = []
  for _ in range(num_steps):
    steps.append(env.step(int(rng.integers(env.spec.action.num_actions))))
    if steps[-1].terminated or steps[-1].truncated:
      break
  return steps


@pytest.mark.parametrize('name,num_actions', [('Pong', 6), ('Breakout', 4)])
def test_reset_and_step_shapes_dtypes_ranges(name, num_actions):
  env = atari.Atari(name, seed=0)
  spec = env.spec
  assert spec.name == name
  assert spec.observation_shape == (84, 84, 1)
  assert spec.observation_dtype == 'uint8'
  assert spec.frame_stack == 4 and spec.frames_per_step == 4
  assert spec.stacked_observation_shape == (4, 84, 84, 1)
  assert spec.action.kind == 'discrete'
  assert spec.action.num_actions == num_actions
  observation = env.reset()
  assert observation.shape == (84, 84, 1) and observation.dtype == np.uint8
  assert observation.min() < observation.max()  # A real screen, not blank.
  for step in _random_steps(env, 50):
    assert step.observation.shape == (84, 84, 1)
    assert step.observation.dtype == np.uint8
    assert isinstance(step.reward, float)
    assert not step.terminated and not step.truncated


def test_full_action_space_and_gym_id_name():
  env = atari.Atari('ALE/Breakout-v5', seed=0, full_action_space=True)
  assert env.spec.name == 'Breakout'
  assert env.spec.action.num_actions == 18


def test_step_is_max_of_last_two_of_four_frames():
  """Replays the same seed by hand on a twin env to check the protocol."""
  env = atari.Atari('Pong', seed=3)
  twin = atari.Atari('Pong', seed=3)
  env.reset()
  twin.reset()
  resizer = resize.AreaResizer((210, 160), (84, 84))
  ale = twin._ale  # pylint: disable=protected-access
  action_set = twin._action_set  # pylint: disable=protected-access
  for t in range(80):  # Past frame 59, where Pong's screen starts moving.
    action = t % 6
    step = env.step(action)
    screens, reward = [], 0.0
    for _ in range(4):
      reward += ale.act(action_set[action])
      screens.append(ale.getScreenGrayscale().copy())
    expected = resizer(np.maximum(screens[2], screens[3]))[:, :, None]
    np.testing.assert_array_equal(step.observation, expected)
    assert step.reward == reward
  assert env.episode_frames == twin.episode_frames + 4 * 80


def test_rewards_are_raw_sums_over_the_repeat(monkeypatch):
  env = atari.Atari('Breakout', seed=0)
  env.reset()

  class ScaledAle:
    """Delegates to the real ALE but reports a reward of 3 per frame."""

    def __init__(self, ale):
      self._ale = ale

    def act(self, action):
      self._ale.act(action)
      return 3

    def __getattr__(self, attr):
      return getattr(self._ale, attr)

  monkeypatch.setattr(env, '_ale', ScaledAle(env._ale))  # pylint: disable=protected-access
  assert env.step(0).reward == 12.0  # 4 frames x 3, not clipped to 1.


def test_frame_cap_gives_truncated():
  env = atari.Atari('Pong', seed=0, noop_max=0, max_episode_frames=100)
  env.reset()
  steps = _random_steps(env, 1000)
  assert len(steps) == 25  # 100 frames / 4 per step.
  assert steps[-1].truncated and not steps[-1].terminated
  assert not any(s.truncated or s.terminated for s in steps[:-1])
  assert env.episode_frames == 100
  with pytest.raises(RuntimeError, match='call reset'):
    env.step(0)
  # No-ops count toward the cap: the episode can only get shorter.
  env = atari.Atari('Pong', seed=1, noop_max=30, max_episode_frames=100)
  env.reset()
  noops = env.episode_frames
  assert 0 < noops <= 30
  steps = _random_steps(env, 1000)
  assert len(steps) == -(-(100 - noops) // 4)
  assert steps[-1].truncated and env.episode_frames == 100


def test_noop_starts_differ_across_seeds():
  counts = []
  for seed in range(6):
    env = atari.Atari('Pong', seed=seed)
    env.reset()
    counts.append(env.episode_frames)
  assert len(set(counts)) > 1 and max(counts) <= 30
  # Pong's screen is static for its first ~60 frames, so use a larger
  # noop_max to see different first frames; MsPacman moves from frame 1.
  for name, noop_max in (('Pong', 120), ('MsPacman', 30)):
    firsts = [atari.Atari(name, seed=s, noop_max=noop_max).reset() for s in range(4)]
    assert any(not np.array_equal(firsts[0], f) for f in firsts[1:]), name
  # Without no-ops every seed starts from the same frame.
  firsts = [atari.Atari('MsPacman', seed=s, noop_max=0).reset() for s in range(3)]
  assert all(np.array_equal(firsts[0], f) for f in firsts[1:])


def test_same_seed_is_deterministic():
  runs = []
  for _ in range(2):
    env = atari.Atari('Breakout', seed=7)
    env.reset()
    runs.append(_random_steps(env, 60, seed=1))
  for a, b in zip(*runs):
    np.testing.assert_array_equal(a.observation, b.observation)
    assert a.reward == b.reward


def test_sticky_actions_option_changes_dynamics():

  def trajectory(probability):
    env = atari.Atari('Pong', seed=0, repeat_action_probability=probability)
    env.reset()
    return np.stack([s.observation for s in _random_steps(env, 100)])

  np.testing.assert_array_equal(trajectory(0.25), trajectory(0.25))
  assert not np.array_equal(trajectory(0.0), trajectory(0.25))


def test_life_loss_is_not_terminal():
  env = atari.Atari('Breakout', seed=0)
  env.reset()
  ale = env._ale  # pylint: disable=protected-access
  lives = ale.lives()
  assert lives == 5
  for _ in range(2000):
    step = env.step(1)  # FIRE: serve, then let the ball drop.
    if ale.lives() < lives:
      break
  assert ale.lives() == lives - 1
  assert not step.terminated and not step.truncated
  env.step(1)  # The episode goes on.


def test_errors():
  with pytest.raises(ValueError, match=r"unknown Atari game 'Pongg'.*Pong"):
    atari.Atari('Pongg')
  with pytest.raises(ValueError, match='MontezumaRevenge'):
    atari.Atari('ALE/Nope-v5')
  with pytest.raises(ValueError, match='max_episode_frames'):
    atari.Atari('Pong', noop_max=30, max_episode_frames=30)
  with pytest.raises(ValueError, match='noop_max'):
    atari.Atari('Pong', noop_max=-1)
  with pytest.raises(ValueError, match='repeat_action_probability'):
    atari.Atari('Pong', repeat_action_probability=1.5)
  with pytest.raises(ValueError, match='seed'):
    atari.Atari('Pong', seed=-1)
  env = atari.Atari('Pong', seed=0)
  with pytest.raises(RuntimeError, match='call reset'):
    env.step(0)
  env.reset()
  with pytest.raises(ValueError, match=r'\[0, 6\)'):
    env.step(6)
  with pytest.raises(ValueError, match='scalar integer'):
    env.step(1.0)


def test_valid_games_include_common_ones():
  games = atari.valid_games()
  for name in ('Pong', 'Breakout', 'MontezumaRevenge', 'SpaceInvaders'):
    assert name in games
  assert atari.game_name('ALE/Pong-v5') == 'Pong'


def _play_breakout(terminal_on_life_loss, max_steps=3000):
  """FIRE forever in a batch of one Breakout; the batch steps and episode stats."""
  batch = EnvBatch([atari.Atari('Breakout', seed=0, terminal_on_life_loss=terminal_on_life_loss)])
  batch.reset()
  steps = []
  for _ in range(max_steps):
    steps.append(batch.step(np.array([1])))
    if not np.isnan(steps[-1].episode_return[0]):
      break
  return steps


def test_terminal_on_life_loss_is_a_learning_signal_only():
  """Same seed and actions: five lives give four extra `terminated` steps whose
  game goes on, and the scored episode is the same whole game."""
  plain, lifes = _play_breakout(False), _play_breakout(True)
  assert len(plain) == len(lifes)  # the same game, step for step
  for a, b in zip(plain, lifes):
    np.testing.assert_array_equal(a.reward, b.reward)
  assert sum(bool(s.terminated[0]) for s in plain) == 1
  assert sum(bool(s.terminated[0]) for s in lifes) == 5  # four lives lost, then game over
  assert plain[-1].episode_return[0] == lifes[-1].episode_return[0]
  assert plain[-1].episode_length[0] == lifes[-1].episode_length[0] == len(plain)
  # Between life losses no episode is reported, and the observation after a
  # life loss is the game's current screen (the same as without the option).
  assert all(np.isnan(s.episode_return[0]) for s in lifes[:-1])
  life_end = next(i for i, s in enumerate(lifes) if s.terminated[0])
  np.testing.assert_array_equal(lifes[life_end].observation, plain[life_end].observation)
