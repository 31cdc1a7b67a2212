"""An environment stepped in a separate, clean Python process.

A process that runs a TensorFlow model and a simulator together can crash
(MuJoCo's EGL/Mesa LLVM clashes with TensorFlow's). multiprocessing's spawn
would re-import the parent's main module (a binary that imports TensorFlow)
in the child, so the child is a fresh `python -m seed_stac.envs.subprocess_env`
that imports only the environment code, talking pickles over two inherited
pipes (stdout stays free for the simulators' own prints).
"""

import contextlib
import os
import pickle
import subprocess
import sys

from seed_stac import envs
from seed_stac.envs.base import EnvSpec, Environment

# Errors the adapters raise for bad names/options/missing packages keep their type.
_RERAISED = {e.__name__: e for e in (ValueError, TypeError, KeyError, ImportError)}


class SubprocessEnvironment(Environment):
  """`create_environment(kind, name, seed, **options)`, in a child process."""

  def __init__(self, kind: str, name: str, seed: int, **options):
    child_in, parent_out = os.pipe()
    parent_in, child_out = os.pipe()
    self._process = subprocess.Popen(
        [sys.executable, '-m', 'seed_stac.envs.subprocess_env',
         str(child_in),
         str(child_out)],
        pass_fds=(child_in, child_out))
    os.close(child_in)
    os.close(child_out)
    self._send_file = os.fdopen(parent_out, 'wb')
    self._recv_file = os.fdopen(parent_in, 'rb')
    tag, value = self._call((kind, name, seed, dict(options)))
    if tag == 'error':
      self.close()
      error_type, message = value
      raise _RERAISED.get(error_type, RuntimeError)(message)
    self.spec = EnvSpec.from_dict(value)

  def _call(self, message):
    pickle.dump(message, self._send_file)
    self._send_file.flush()
    try:
      return pickle.load(self._recv_file)
    except EOFError:
      raise RuntimeError(f'environment process exited with code {self._process.wait()}') from None

  def reset(self):
    return self._call(('reset', None))

  def step(self, action):
    return self._call(('step', action))

  def close(self):
    # The child may already have exited (after reporting an error).
    if self._process.poll() is None:
      with contextlib.suppress(BrokenPipeError):
        pickle.dump(('close', None), self._send_file)
        self._send_file.flush()
      self._process.wait(10)
    for pipe in (self._send_file, self._recv_file):
      with contextlib.suppress(BrokenPipeError):
        pipe.close()


def _answer_env_calls(recv_file, send_file):

  def reply(message):
    pickle.dump(message, send_file)
    send_file.flush()

  kind, name, seed, options = pickle.load(recv_file)
  try:
    env = envs.create_environment(kind, name, seed, **options)
  except Exception as error:  # reported to the parent with its message
    error_type = type(error).__name__
    reply(('error', (error_type if error_type in _RERAISED else 'RuntimeError',
                     f'{error_type}: {error}')))
    return
  reply(('spec', env.spec.to_dict()))
  while True:
    command, argument = pickle.load(recv_file)
    if command == 'close':
      env.close()
      return
    reply(env.reset() if command == 'reset' else env.step(argument))


if __name__ == '__main__':
  _answer_env_calls(os.fdopen(int(sys.argv[1]), 'rb'), os.fdopen(int(sys.argv[2]), 'wb'))
