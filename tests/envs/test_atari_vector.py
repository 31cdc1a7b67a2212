"""Tests for seed_stac.envs.atari_vector: Atari batches on ale_py's AtariVectorEnv.

The reference is an `EnvBatch` of per-game `atari.Atari` adapters (what
`vector=False` builds). On the same seeds and actions the two agree bit for
bit: observations, rewards, terminated, truncated, episode returns and
lengths. The one documented difference is at the frame cap: the C++ env plays
the whole 4-frame step that reaches `max_episode_frames` (atari.py stops at
the cap), which matters only for that step's reward and, with sticky actions,
for the env's later episodes (ALE's RNG has advanced further);
`test_frame_cap_inside_a_step_with_sticky_actions` pins that bound down.
"""

import numpy as np
import pytest

from seed_stac import envs
from seed_stac.envs import atari
from seed_stac.envs import atari_vector
from seed_stac.envs import resize
from seed_stac.envs.batch import EnvBatch


def _pair(game, seed, batch_size, **options):
  vector = envs.create_env_batch('atari', game, seed, batch_size, **options)
  python = envs.create_env_batch('atari', game, seed, batch_size, vector=False, **options)
  assert isinstance(vector, atari_vector.AtariVectorBatch)
  assert isinstance(python, EnvBatch)
  return vector, python


def _assert_same_step(a, b, where):
  for field in ('observation', 'reward', 'terminated', 'truncated', 'episode_length'):
    x, y = getattr(a, field), getattr(b, field)
    assert x.dtype == y.dtype and x.shape == y.shape, (where, field)
    if not np.array_equal(x, y):
      detail = ''
      if field == 'observation':
        diff = np.abs(x.astype(int) - y.astype(int))
        detail = f': max abs pixel diff {diff.max()}, {np.mean(diff > 0):.2%} of pixels'
      raise AssertionError(f'{where}: {field} differs{detail}')
  np.testing.assert_array_equal(a.episode_return, b.episode_return, err_msg=where)
  assert a.episode_return.dtype == b.episode_return.dtype


def _play_both(vector, python, num_steps, seed=1, actions=None):
  """Steps both batches with the same random actions; returns the steps."""
  rng = np.random.default_rng(seed)
  steps = []
  for t in range(num_steps):
    action = (actions if actions is not None else rng.integers(0, vector.spec.action.num_actions,
                                                               len(vector)))
    a, b = vector.step(action), python.step(action)
    _assert_same_step(a, b, f'step {t}')
    steps.append(a)
  return steps


def test_dispatch_and_spec_match_the_python_adapter():
  vector, python = _pair('ALE/Breakout-v5', 0, 3)
  assert vector.spec == python.spec == atari.Atari('Breakout').spec
  spec = vector.spec
  assert spec.name == 'Breakout' and len(vector) == 3
  assert spec.observation_shape == (84, 84, 1) and spec.observation_dtype == 'uint8'
  assert spec.frame_stack == 4 and spec.frames_per_step == 4
  assert spec.action.kind == 'discrete' and spec.action.num_actions == 4
  full = envs.create_env_batch('atari', 'Breakout', 0, 2, full_action_space=True)
  assert full.spec == atari.Atari('Breakout', full_action_space=True).spec
  assert full.spec.action.num_actions == 18
  for batch in (vector, python, full):
    batch.close()


@pytest.mark.parametrize(
    'game,batch_size,num_steps,options',
    [
        ('Pong', 4, 300, {}),
        ('Breakout', 4, 300, {}),  # several game overs: auto-reset path
        ('Breakout', 4, 300, {
            'repeat_action_probability': 0.25
        }),
        ('MsPacman', 3, 300, {
            'repeat_action_probability': 0.25,
            'full_action_space': True
        }),
        ('SpaceInvaders', 2, 300, {
            'noop_max': 5
        }),
    ])
def test_bit_identical_to_the_python_batch(game, batch_size, num_steps, options):
  vector, python = _pair(game, 7, batch_size, **options)
  np.testing.assert_array_equal(vector.reset(), python.reset())
  steps = _play_both(vector, python, num_steps)
  # A second reset continues each env's streams (no re-seeding) in both.
  np.testing.assert_array_equal(vector.reset(), python.reset())
  steps += _play_both(vector, python, 50, seed=2)
  np.testing.assert_array_equal(vector.episode_frames, [env.episode_frames for env in python.envs])
  if game == 'Breakout':
    assert sum(np.sum(~np.isnan(s.episode_return)) for s in steps) >= 4
  vector.close()
  python.close()


def test_noop_starts_match_the_vector_env():
  """Env i of the batch starts with the no-ops of Atari(seed + i): the same
  generator (NoopSampler), U{0..noop_max} inclusive."""
  batch = envs.create_env_batch('atari', 'Pong', 100, 12)
  batch.reset()
  expected = [atari.NoopSampler(100 + i, 30)() for i in range(12)]
  np.testing.assert_array_equal(batch.episode_frames, expected)
  batch.close()
  draws = [atari.NoopSampler(seed, 30)() for seed in range(620)]
  counts = np.bincount(draws, minlength=32)
  assert counts[31] == 0 and counts[:31].min() >= 8  # U{0..30}, all reached


def test_opencv_area_resize_is_the_area_resize_up_to_rounding():
  """The exact OpenCV replica and our float area resize differ by at most one
  grey level (float32 summation order); the replica matches the C++ env
  exactly (test_bit_identical_to_the_python_batch)."""
  rng = np.random.default_rng(0)
  opencv = atari.OpenCvAreaResize((210, 160), (84, 84))
  area = resize.AreaResizer((210, 160), (84, 84))
  for _ in range(20):
    image = rng.integers(0, 256, (210, 160), dtype=np.uint8)
    diff = np.abs(opencv(image).astype(int) - area(image).astype(int))
    assert diff.max() <= 1
  for value in (0, 1, 128, 255):
    image = np.full((210, 160), value, np.uint8)
    assert (opencv(image) == value).all()


def test_frame_cap_truncates_like_the_python_batch():
  """No-ops count toward the cap; the step that reaches it is `truncated`,
  not `terminated`, and its observation is the next episode's first."""
  vector, python = _pair('Pong', 3, 4, noop_max=30, max_episode_frames=100)
  vector.reset()
  python.reset()
  noops = vector.episode_frames
  assert (0 <= noops).all() and (noops <= 30).all() and len(set(noops)) > 1
  steps = _play_both(vector, python, 60)
  first_end = [next(t for t, s in enumerate(steps) if s.truncated[i]) for i in range(4)]
  for i in range(4):
    t = first_end[i]
    assert t + 1 == -(-(100 - noops[i]) // 4)  # ceil: the cap can fall mid-step
    assert steps[t].truncated[i] and not steps[t].terminated[i]
    assert steps[t].episode_length[i] == t + 1
    assert steps[t].episode_return[i] == 0.0  # Pong scores later than 100 frames.
    assert not any(s.truncated[i] or s.terminated[i] for s in steps[:t])
    assert all(np.isnan(s.episode_return[i]) for s in steps[:t])
  assert sum(np.sum(s.truncated) for s in steps) > 8  # later episodes too
  vector.close()
  python.close()


def test_frame_cap_inside_a_step_with_sticky_actions():
  """The documented difference. Without no-ops a cap of 4k frames ends on a
  step boundary: identical across many truncations, sticky actions included.
  A cap inside a step (150 = 37 steps + 2 frames): identical up to and
  including the truncated step (no reward falls in the C++ env's 2 extra
  frames here); with sticky actions the next episodes may then differ."""
  vector, python = _pair('Breakout',
                         0,
                         2,
                         noop_max=0,
                         max_episode_frames=152,
                         repeat_action_probability=0.25)
  vector.reset()
  python.reset()
  steps = _play_both(vector, python, 160)
  assert sum(np.sum(s.truncated) for s in steps) >= 6
  vector.close()
  python.close()

  vector, python = _pair('Breakout',
                         0,
                         2,
                         noop_max=0,
                         max_episode_frames=150,
                         repeat_action_probability=0.25)
  vector.reset()
  python.reset()
  steps = _play_both(vector, python, 38)
  assert all(s.truncated.all() for s in steps[37:])  # ceil(150 / 4) = 38 steps
  assert not any(s.truncated.any() or s.terminated.any() for s in steps[:37])
  vector.close()
  python.close()


def _play_breakout(terminal_on_life_loss, max_steps=3000):
  """FIRE forever in a vector batch of one Breakout; the steps until the game ends."""
  batch = envs.create_env_batch('atari',
                                'Breakout',
                                0,
                                1,
                                terminal_on_life_loss=terminal_on_life_loss)
  batch.reset()
  steps = []
  for _ in range(max_steps):
    steps.append(batch.step(np.array([1])))
    if not np.isnan(steps[-1].episode_return[0]):
      break
  batch.close()
  return steps


def test_terminal_on_life_loss_is_a_learning_signal_only():
  plain, lives = _play_breakout(False), _play_breakout(True)
  assert len(plain) == len(lives)  # the same game, step for step
  for a, b in zip(plain, lives):
    np.testing.assert_array_equal(a.reward, b.reward)
    np.testing.assert_array_equal(a.observation, b.observation)
  assert sum(bool(s.terminated[0]) for s in plain) == 1
  assert sum(bool(s.terminated[0]) for s in lives) == 5  # 4 lives lost, then game over
  assert all(np.isnan(s.episode_return[0]) for s in lives[:-1])
  assert plain[-1].episode_return[0] == lives[-1].episode_return[0]
  assert plain[-1].episode_length[0] == lives[-1].episode_length[0] == len(plain)
  # And the same as the python adapters, life-loss steps included.
  vector, python = _pair('Breakout', 5, 3, terminal_on_life_loss=True)
  vector.reset()
  python.reset()
  steps = _play_both(vector, python, 400)
  life_losses = sum(np.sum(s.terminated & np.isnan(s.episode_return)) for s in steps)
  assert life_losses >= 3
  vector.close()
  python.close()


def test_options_and_threads():
  assert envs.batch_options('atari') == ('vector', 'num_threads')
  assert envs.batch_options('catch') == ()
  # Single environments accept (and ignore) the batch options: the learner and
  # `evaluate` build them from the same env.options.
  env = envs.create_environment('atari', 'Pong', 0, vector=True, num_threads=2)
  assert isinstance(env, atari.Atari)
  batch = envs.create_env_batch('atari', 'Pong', 0, 3, num_threads=1)
  assert batch.num_threads == 1
  batch.close()
  batch = envs.create_env_batch('atari', 'Pong', 0, 3)
  assert batch.num_threads == atari_vector.default_num_threads(3)
  assert 1 <= batch.num_threads <= 3
  batch.close()


def test_errors():
  with pytest.raises(ValueError,
                     match=r"unknown option\(s\) \['sticky'\].*"
                     r"'num_threads'.*'vector'"):
    envs.create_env_batch('atari', 'Pong', 0, 2, sticky=0.25)
  for make in (envs.create_environment,
               lambda *a, **k: envs.create_env_batch(*a, batch_size=2, **k)):
    with pytest.raises(ValueError, match='vector must be True or False'):
      make('atari', 'Pong', 0, vector='no')
    with pytest.raises(ValueError, match='num_threads'):
      make('atari', 'Pong', 0, num_threads=-1)
  with pytest.raises(ValueError, match='unknown Atari game'):
    envs.create_env_batch('atari', 'Pongg', 0, 2)
  with pytest.raises(ValueError, match='max_episode_frames'):
    envs.create_env_batch('atari', 'Pong', 0, 2, noop_max=30, max_episode_frames=30)
  with pytest.raises(ValueError, match='repeat_action_probability'):
    envs.create_env_batch('atari', 'Pong', 0, 2, repeat_action_probability=1.0)
  with pytest.raises(ValueError, match=r'seed \+ batch_size - 1.*2\*\*31 - 1'):
    envs.create_env_batch('atari', 'Pong', 2**31 - 2, 4)
  with pytest.raises(ValueError, match=r'2\*\*31 - 1'):
    atari.Atari('Pong', seed=2**31)
  with pytest.raises(ValueError, match='batch_size'):
    envs.create_env_batch('atari', 'Pong', 0, 0)
  batch = envs.create_env_batch('atari', 'Pong', 0, 2)
  with pytest.raises(RuntimeError, match='before reset'):
    batch.step(np.zeros(2, np.int32))
  batch.reset()
  with pytest.raises(ValueError, match=r'shape \(2,\) and integer dtype'):
    batch.step(np.zeros(3, np.int32))
  with pytest.raises(ValueError, match='integer dtype'):
    batch.step(np.zeros(2, np.float32))
  with pytest.raises(ValueError, match=r'\[0, 6\), got 6'):
    batch.step(np.array([0, 6]))
  with pytest.raises(ValueError, match=r'\[0, 6\), got -1'):
    batch.step(np.array([-1, 0]))
  batch.step(np.array([5, 0], np.int64))  # any integer dtype
  batch.close()
  batch.close()  # idempotent
  with pytest.raises(RuntimeError, match='after close'):
    batch.reset()
