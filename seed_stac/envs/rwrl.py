"""Real-World RL suite tasks (realworldrl_suite), by 'domain-task' name.

e.g. 'walker-realworld_walk', 'cartpole-realworld_swingup' (any of the
suite's `ALL_TASKS`). Observations are the suite's flat vector
(`flat_observation=True`) as float32 (N,); actions are float32, clipped to the
bounds. The suite's logging to disk is off.

`difficulty` ('easy', 'medium', 'hard') selects the suite's combined
challenge, which sets all of these together (larger for harder levels):
  * delays: actions 3/6/9 steps, observations 3/6/9, rewards 10/20/40;
  * noise: Gaussian on actions and observations (std 0.1/0.3/1.0), dropped
    and stuck observation values, repeated actions;
  * perturbation: a physical parameter (cartpole: pole length, walker: thigh
    length, ...) redrawn uniformly from a wider range at every reset;
  * dimensionality: 10/20/50 extra unit-Gaussian observation features, so the
    observation size depends on the difficulty (cartpole 15/25/55).
The other challenge options (single challenges, multi-objective rewards) are
not exposed: the combined challenge is the suite's benchmark setting. Kept as
the suite does it: the delay buffers are not cleared at reset, so an
episode's first delayed observations and rewards (3-9 and 10-40 steps) are
the previous episode's last ones. Episodes are 1000 control steps, ended by
the time limit (truncated, never terminated).

Seeding: `seed` seeds the task's initial states, and also every draw of the
challenges above. The suite takes those from NumPy's global `np.random`, so
on its own the same seed would not give the same episodes and every
environment in a process would share one stream; the adapter therefore
points the suite's `np` at a stand-in whose `random` is this environment's
own RandomState while it runs (cheap, unlike swapping the global state; not
thread-safe across environments stepped concurrently in threads, which
`EnvBatch` never does).

Constraints (the suite's safety challenge): off by default, as in the
combined-challenge benchmark, and then the suite computes none. With
`constraints=True` the suite's default constraints for the domain are
checked at every step and their satisfaction is appended to the observation
as its last n entries, 1.0 satisfied, 0.0 violated (n =
len(adapter.env.task.constraints), names in that order; cartpole 3, walker
4). They are the current step's true values, without the delay and noise the
other features have; all 1.0 at reset. They are only exposed, not enforced:
the reward is unchanged and the learner does not count violations. This is
the one channel our pipeline has (a Step carries no info dict), and keeping
it opt-in leaves the default observation and task the benchmark's.

realworldrl_suite is not on PyPI, so it is imported only when an environment
is built.
"""

import numpy as np

from seed_stac.envs import base
from seed_stac.envs import checks
from seed_stac.envs import dm_env_adapter

# The commit the images install (requirements-rwrl-nodeps.txt) and the tests ran against.
INSTALL_COMMAND = ('pip install https://github.com/google-research/realworldrl_suite/archive/'
                   'be7a51cffa7f5f9cb77a387c16bad209e0f851f8.tar.gz')
DIFFICULTIES = ('easy', 'medium', 'hard')


def import_suite():
  """Returns `realworldrl_suite.environments`, or ImportError saying how to
  install it."""
  try:
    import realworldrl_suite.environments as rwrl_envs  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError('the rwrl environments need realworldrl_suite, which is not on PyPI; '
                      f'install it with: {INSTALL_COMMAND}') from e
  return rwrl_envs


class _NumpyWithOwnRandom:
  """Stands in for `numpy` in a suite module: `.random` is one environment's
  RandomState, every other attribute is numpy's."""

  def __init__(self, random_state: np.random.RandomState):
    self.random = random_state

  def __getattr__(self, name):
    return getattr(np, name)


class _SeededSuiteEnv:
  """The suite's dm_env, run with its own random stream (module docstring).

  `build()` makes the environment; every call into it that can draw noise or
  perturbations runs with the suite's module-level `np` replaced. Other
  attributes (`task`, `physics`, ...) are the wrapped environment's.
  """

  def __init__(self, build, seed: int, modules):
    # MT19937(seed) is seeded through a SeedSequence, so this stream differs
    # from the task's RandomState(seed) for initial states.
    self._numpy = _NumpyWithOwnRandom(np.random.RandomState(np.random.MT19937(seed)))
    self._modules = tuple(m for m in modules if hasattr(m, 'np'))
    self._env = self._run(build)

  def _run(self, function, *args):
    outside = [module.np for module in self._modules]
    for module in self._modules:
      module.np = self._numpy
    try:
      return function(*args)
    finally:
      for module, value in zip(self._modules, outside):
        module.np = value

  def reset(self):
    return self._run(self._env.reset)

  def step(self, action):
    return self._run(self._env.step, action)

  def observation_spec(self):
    # LoggingEnv computes it from a real observation, which draws noise.
    return self._run(self._env.observation_spec)

  def action_spec(self):
    return self._env.action_spec()

  def close(self):
    self._env.close()

  def __getattr__(self, name):
    if name == '_env':  # Not built yet (or being copied): no recursion.
      raise AttributeError(name)
    return getattr(self._env, name)


def _suite_modules():
  """The suite modules whose `np.random` draws challenge noise."""
  try:
    from realworldrl_suite.environments import realworld_env  # pylint: disable=g-import-not-at-top
  except ImportError:  # A stand-in package without it (tests).
    return ()
  return (realworld_env,)


def make_rwrl(name: str,
              seed: int = 0,
              difficulty: str = 'easy',
              action_repeat: int = 1,
              constraints: bool = False) -> dm_env_adapter.DmEnvAdapter:
  """Builds the adapter; `action_repeat` sums rewards as in dmc.py.

  `constraints=True` appends the per-step constraint satisfaction (1.0
  satisfied, 0.0 violated) to the observation, see the module docstring.
  """
  seed = checks.check_seed(seed)
  checks.check_choice('rwrl difficulty', difficulty, DIFFICULTIES)
  action_repeat = checks.check_int('action_repeat', action_repeat, 1)
  if not isinstance(constraints, (bool, np.bool_)):
    raise ValueError(f'rwrl constraints must be True or False, got {constraints!r}')
  constraints = bool(constraints)
  rwrl_envs = import_suite()
  domain, task = checks.split_task_name(name,
                                        [(domain, task) for _, domain, task in rwrl_envs.ALL_TASKS],
                                        'realworldrl_suite')
  load_kwargs = dict(domain_name=domain,
                     task_name=task,
                     combined_challenge=difficulty,
                     log_output=None,
                     random=seed,
                     environment_kwargs=dict(log_safety_vars=False, flat_observation=True))
  if constraints:
    # Not in the observation dict: there the suite would put them before the
    # extra features and run them through the observation delay buffer
    # (where they alias the live array anyway); read them from the task.
    load_kwargs['safety_spec'] = dict(enable=True, observations=False)
  env = _SeededSuiteEnv(lambda: rwrl_envs.load(**load_kwargs), seed, _suite_modules())
  # The real suite returns the flat vector's spec; dm_control's own
  # flat_observation (the stand-in in tests) a dict {'observations': spec}.
  observation_spec = env.observation_spec()
  if isinstance(observation_spec, dict):
    observation_spec = observation_spec['observations']
  size = int(np.prod(observation_spec.shape, dtype=np.int64))
  num_constraints = len(env.task.constraints) if constraints else 0
  spec = base.EnvSpec(name=name,
                      observation_shape=(size + num_constraints,),
                      observation_dtype='float32',
                      action=dm_env_adapter.continuous_action_spec(env.action_spec()),
                      frames_per_step=action_repeat)

  def observe(timestep) -> np.ndarray:
    features = dm_env_adapter.flatten_observation(timestep.observation)
    if not constraints:
      return features
    if timestep.first():
      # The task still holds the previous episode's last values.
      flags = np.ones((num_constraints,), np.float32)
    else:
      flags = np.asarray(env.task.constraints_obs, np.float32)
    return np.concatenate([features, flags])

  return dm_env_adapter.DmEnvAdapter(env, spec, observe, action_repeat)
