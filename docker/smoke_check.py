"""An image checks at build time that it can start its role.

  python3 docker/smoke_check.py learner|actor

learner: TensorFlow imports and reads gs:// (TensorFlow's GCS file system is
  registered), and one DM Control environment builds in a child process, as
  the learner builds one to read its spec (it renders once for pixels, so the
  image's EGL libraries are exercised).
actor: one DM Control environment renders pixels in this process, as an
  actor of the pixels configs does; TensorFlow must not be importable
  (actors never load it).
Exits non-zero with the reason, which fails the build. Nothing here needs a
GPU, a TPU or the network.
"""

import importlib
import sys


def check_learner() -> None:
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  schemes = tf.io.gfile.get_registered_schemes()
  if 'gs' not in schemes:
    raise SystemExit(f'TensorFlow {tf.__version__} has no gs:// file system: {schemes}')
  # pylint: disable-next=import-outside-toplevel
  from seed_stac.envs.subprocess_env import SubprocessEnvironment
  env = SubprocessEnvironment('dmc', 'cartpole-swingup', 0, mode='pixels')
  try:
    print(f'learner: TensorFlow {tf.__version__} reads gs://; DM Control spec {env.spec}')
  finally:
    env.close()


def check_actor() -> None:
  try:
    importlib.import_module('tensorflow')
  except ImportError:
    pass
  else:
    raise SystemExit('the actor image must not contain TensorFlow')
  from seed_stac.envs import create_environment  # pylint: disable=import-outside-toplevel
  env = create_environment('dmc', 'cartpole-swingup', 0, mode='pixels')
  frame = env.reset()
  print(f'actor: DM Control renders {frame.shape} {frame.dtype} pixels')


def main(argv) -> int:
  roles = {'learner': check_learner, 'actor': check_actor}
  if len(argv) != 2 or argv[1] not in roles:
    print(f'usage: smoke_check.py {"|".join(roles)}', file=sys.stderr)
    return 2
  roles[argv[1]]()
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv))
