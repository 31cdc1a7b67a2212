"""An image checks at build time that it can start its role.

  python3 docker/smoke_check.py learner|actor

learner: TensorFlow imports and reads gs:// (TensorFlow's GCS file system is
  registered), and one DM Control and one Real-World RL environment build in
  child processes, as the learner builds one to read its spec (DM Control
  renders once for pixels, so the image's EGL libraries are exercised).
actor: one DM Control environment renders pixels in this process, as an
  actor of the pixels configs does, and one Real-World RL environment
  resets; TensorFlow must not be importable (actors never load it).
Exits non-zero with the reason, which fails the build. Nothing here needs a
GPU, a TPU or the network.
"""

import importlib
import sys

_RWRL_TASK = 'cartpole-realworld_swingup'
# (kind, name, options) of what the learner must build: one per simulator the
# image carries beside ALE and MinAtar, which need no system libraries.
_ENVIRONMENTS = (('dmc', 'cartpole-swingup', dict(mode='pixels')), ('rwrl', _RWRL_TASK, {}))


def check_learner() -> None:
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  schemes = tf.io.gfile.get_registered_schemes()
  if 'gs' not in schemes:
    raise SystemExit(f'TensorFlow {tf.__version__} has no gs:// file system: {schemes}')
  # pylint: disable-next=import-outside-toplevel
  from seed_stac.envs.subprocess_env import SubprocessEnvironment
  for kind, name, options in _ENVIRONMENTS:
    env = SubprocessEnvironment(kind, name, 0, **options)
    try:
      print(f'learner: {kind} spec {env.spec}')
    finally:
      env.close()
  print(f'learner: TensorFlow {tf.__version__} reads gs://')


def check_actor() -> None:
  try:
    importlib.import_module('tensorflow')
  except ImportError:
    pass
  else:
    raise SystemExit('the actor image must not contain TensorFlow')
  from seed_stac.envs import create_environment  # pylint: disable=import-outside-toplevel
  frame = create_environment('dmc', 'cartpole-swingup', 0, mode='pixels').reset()
  print(f'actor: DM Control renders {frame.shape} {frame.dtype} pixels')
  observation = create_environment('rwrl', _RWRL_TASK, 0).reset()
  print(f'actor: Real-World RL resets to {observation.shape} {observation.dtype} observations')


def main(argv) -> int:
  roles = {'learner': check_learner, 'actor': check_actor}
  if len(argv) != 2 or argv[1] not in roles:
    print(f'usage: smoke_check.py {"|".join(roles)}', file=sys.stderr)
    return 2
  roles[argv[1]]()
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv))
