"""An environment stepped in a child process.

A process that runs a TensorFlow model and a simulator together can crash
(MuJoCo's EGL/Mesa LLVM clashes with TensorFlow's), so evaluation keeps the
environment in its own process and exchanges observations over a pipe.
"""

import multiprocessing

from seed_stac import envs
from seed_stac.envs.base import EnvSpec, Environment


def _serve(connection, kind, name, seed, options):
  try:
    env = envs.create_environment(kind, name, seed, **options)
  except Exception as error:  # reported to the parent with its message
    connection.send(('error', f'{type(error).__name__}: {error}'))
    return
  connection.send(('spec', env.spec.to_dict()))
  while True:
    command, argument = connection.recv()
    if command == 'close':
      env.close()
      return
    connection.send(env.reset() if command == 'reset' else env.step(argument))


class SubprocessEnvironment(Environment):
  """`create_environment(kind, name, seed, **options)`, in a child process."""

  def __init__(self, kind: str, name: str, seed: int, **options):
    context = multiprocessing.get_context('spawn')
    self._connection, child = context.Pipe()
    self._process = context.Process(target=_serve, args=(child, kind, name, seed, options),
                                    daemon=True)
    self._process.start()
    tag, value = self._connection.recv()
    if tag == 'error':
      self._process.join()
      raise ValueError(value)
    self.spec = EnvSpec.from_dict(value)

  def reset(self):
    self._connection.send(('reset', None))
    return self._connection.recv()

  def step(self, action):
    self._connection.send(('step', action))
    return self._connection.recv()

  def close(self):
    if self._process.is_alive():
      self._connection.send(('close', None))
      self._process.join(10)
