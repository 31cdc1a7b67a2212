"""Real-World RL suite tasks (realworldrl_suite), by 'domain-task' name.

e.g. 'walker-realworld_walk', 'cartpole-realworld_swingup'. `difficulty`
('easy', 'medium', 'hard') selects the suite's combined challenge (delays,
noise, perturbations and extra dimensions together). Observations are the
suite's flat vector (`flat_observation=True`): float32 (N,). Actions are
float32, clipped to the bounds. Logging to disk is off.

realworldrl_suite is not on PyPI, so it is imported only when an environment
is built.
"""

from typing import Tuple

from seed_stac.envs import base
from seed_stac.envs import checks
from seed_stac.envs import dm_env_adapter

INSTALL_COMMAND = (
    'pip install git+https://github.com/google-research/realworldrl_suite')
DIFFICULTIES = ('easy', 'medium', 'hard')


def import_suite():
  """Returns `realworldrl_suite.environments`, or ImportError saying how to
  install it."""
  try:
    import realworldrl_suite.environments as rwrl_envs  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError(
        'the rwrl environments need realworldrl_suite, which is not on PyPI; '
        f'install it with: {INSTALL_COMMAND}') from e
  return rwrl_envs


def split_name(name: str, all_tasks) -> Tuple[str, str]:
  """'walker-realworld_walk' -> ('walker', 'realworld_walk') if in
  `all_tasks` (the suite's (alias, domain, task) triples), else ValueError."""
  valid = [f'{domain}-{task}' for _, domain, task in all_tasks]
  if name not in valid:
    raise ValueError(
        f'unknown realworldrl_suite task {name!r}; valid names: '
        f'{", ".join(valid)}')
  domain, task = name.split('-', 1)
  return domain, task


def make_rwrl(name: str,
              seed: int = 0,
              difficulty: str = 'easy',
              action_repeat: int = 1) -> dm_env_adapter.DmEnvAdapter:
  """Builds the adapter; `action_repeat` sums rewards as in dmc.py."""
  seed = checks.check_seed(seed)
  checks.check_choice('rwrl difficulty', difficulty, DIFFICULTIES)
  action_repeat = checks.check_int('action_repeat', action_repeat, 1)
  rwrl_envs = import_suite()
  domain, task = split_name(name, rwrl_envs.ALL_TASKS)
  env = rwrl_envs.load(
      domain_name=domain,
      task_name=task,
      combined_challenge=difficulty,
      log_output=None,
      random=seed,
      environment_kwargs=dict(log_safety_vars=False, flat_observation=True))
  # flat_observation gives either the vector itself or {'observations': vec}
  # depending on the suite version; flatten_observation handles both.
  observation_spec = env.observation_spec()
  if isinstance(observation_spec, dict):
    observation_spec = observation_spec['observations']
  size = 1
  for dim in observation_spec.shape:
    size *= int(dim)
  spec = base.EnvSpec(
      name=name,
      observation_shape=(size,),
      observation_dtype='float32',
      action=dm_env_adapter.continuous_action_spec(env.action_spec()),
      frames_per_step=action_repeat)
  observe = lambda timestep: dm_env_adapter.flatten_observation(  # pylint: disable=g-long-lambda
      timestep.observation)
  return dm_env_adapter.DmEnvAdapter(env, spec, observe, action_repeat)
