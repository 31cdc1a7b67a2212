"""Shared fixtures for the cloud deployment tests.

gcp/ is not part of the installed seed_stac package (it ships in the images
next to configs/), so make the repository root importable.
"""

import os
import pathlib
import stat
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
  sys.path.insert(0, str(REPO))


@pytest.fixture
def fake_bin(tmp_path):
  """A directory of fake commands that log their argv, one call per line.

  make(name, body='') writes `name`, which appends its arguments (joined by
  NUL-free '\\x1f') to calls.log, then runs `body` (shell).
  """
  bin_dir = tmp_path / 'bin'
  bin_dir.mkdir()
  log = tmp_path / 'calls.log'
  log.touch()

  def make(name, body=''):
    path = bin_dir / name
    path.write_text('#!/bin/sh\n'
                    f'{{ printf "%s" "{name}"; for a in "$@"; do printf "\\037%s" "$a"; done; '
                    f'printf "\\n"; }} >> "{log}"\n' + body + '\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path

  def calls():
    return [line.split('\x1f') for line in log.read_text().splitlines()]

  env = dict(os.environ, PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}')
  return make, calls, env
