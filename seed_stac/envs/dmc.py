"""DeepMind Control Suite tasks by 'domain-task' name, e.g. 'cartpole-swingup'.

Modes:
  'features': the observation dict flattened to float32 (N,), keys in the
    suite's fixed order (e.g. cartpole: position (3,) then velocity (2,)).
  'pixels': uint8 (84, 84, 3) RGB from camera `camera_id` (default 0, or 2
    for quadruped as is conventional); the learner stacks `frame_stack`
    frames (default 3).
Actions are float32 of the task's action shape, clipped to its bounds.
`action_repeat` physics-control steps per agent step, rewards summed. The
suite's time limit is `truncated`; a real termination is `terminated`.
"""

import os

# dm_control picks its OpenGL backend when first imported; EGL is the one that
# renders headless on servers and GPUs. An explicit user setting wins.
os.environ.setdefault('MUJOCO_GL', 'egl')

from typing import Optional, Tuple  # pylint: disable=g-import-not-at-top

import numpy as np  # pylint: disable=g-import-not-at-top

from seed_stac.envs import base  # pylint: disable=g-import-not-at-top
from seed_stac.envs import checks  # pylint: disable=g-import-not-at-top
from seed_stac.envs import dm_env_adapter  # pylint: disable=g-import-not-at-top

_RENDER_HELP = ('Install an OpenGL backend and select it with MUJOCO_GL: headless EGL '
                '(apt-get install libegl1 libgl1; MUJOCO_GL=egl, the default here) or '
                'software OSMesa (apt-get install libosmesa6; MUJOCO_GL=osmesa and '
                'PYOPENGL_PLATFORM=osmesa). For features-only runs MUJOCO_GL=disabled '
                'avoids OpenGL entirely.')

try:
  from dm_control import suite  # pylint: disable=g-import-not-at-top
# AttributeError: EGL selected without its library ('... eglQueryString').
except (ImportError, RuntimeError, OSError, AttributeError) as e:
  raise ImportError(f'importing dm_control failed with MUJOCO_GL='
                    f'{os.environ.get("MUJOCO_GL")!r}: {e}. {_RENDER_HELP}') from e

MODES = ('features', 'pixels')
PIXELS_SIZE = 84
_DEFAULT_CAMERA = {'quadruped': 2}  # Its camera 0 does not follow the body.


def split_name(name: str) -> Tuple[str, str]:
  """'cartpole-swingup' -> ('cartpole', 'swingup'); ValueError if unknown."""
  return checks.split_task_name(name, suite.ALL_TASKS, 'dm_control')


def render_pixels(physics, camera_id: int) -> np.ndarray:
  """uint8 (84, 84, 3); a clear RuntimeError if OpenGL rendering fails."""
  try:
    return physics.render(height=PIXELS_SIZE, width=PIXELS_SIZE, camera_id=camera_id)
  except Exception as e:  # pylint: disable=broad-except
    raise RuntimeError(f'dm_control pixel rendering failed with MUJOCO_GL='
                       f'{os.environ.get("MUJOCO_GL")!r}: {type(e).__name__}: {e}. '
                       f'{_RENDER_HELP}') from e


def make_dmc(name: str,
             seed: int = 0,
             mode: str = 'features',
             action_repeat: int = 1,
             camera_id: Optional[int] = None,
             frame_stack: Optional[int] = None) -> dm_env_adapter.DmEnvAdapter:
  """Builds the adapter; see the module docstring for the options.

  frame_stack defaults to 3 for pixels and 1 for features. camera_id applies
  to pixels only.
  """
  domain, task = split_name(name)
  seed = checks.check_seed(seed)
  checks.check_choice('dmc mode', mode, MODES)
  if frame_stack is None:
    frame_stack = 3 if mode == 'pixels' else 1
  frame_stack = checks.check_int('frame_stack', frame_stack, 1)
  action_repeat = checks.check_int('action_repeat', action_repeat, 1)

  env = suite.load(domain, task, task_kwargs={'random': seed})
  if mode == 'features':
    if camera_id is not None:
      raise ValueError("camera_id only applies to mode='pixels'")
    observe = lambda timestep: dm_env_adapter.flatten_observation(  # pylint: disable=g-long-lambda
        timestep.observation)
    size = sum(int(np.prod(spec.shape)) for spec in env.observation_spec().values())
    observation_shape, dtype = (size,), 'float32'
  else:
    if camera_id is None:
      camera_id = _DEFAULT_CAMERA.get(domain, 0)
    num_cameras = env.physics.model.ncam
    # -1 is MuJoCo's free camera.
    if not isinstance(camera_id, int) or not -1 <= camera_id < num_cameras:
      raise ValueError(f'camera_id for {name} must be an integer in [-1, {num_cameras}), '
                       f'got {camera_id!r}')
    # Render once now so a missing OpenGL backend fails at construction.
    render_pixels(env.physics, camera_id)
    observe = lambda timestep: render_pixels(env.physics, camera_id)
    observation_shape, dtype = (PIXELS_SIZE, PIXELS_SIZE, 3), 'uint8'

  spec = base.EnvSpec(name=name,
                      observation_shape=observation_shape,
                      observation_dtype=dtype,
                      action=dm_env_adapter.continuous_action_spec(env.action_spec()),
                      frame_stack=frame_stack,
                      frames_per_step=action_repeat)
  return dm_env_adapter.DmEnvAdapter(env, spec, observe, action_repeat)
