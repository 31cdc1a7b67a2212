"""The CUDA libraries pip installed for TensorFlow's [and-cuda] extra.

  python3 docker/nvidia_libraries.py --check    # check versions, list the folders
  python3 docker/nvidia_libraries.py --ldconfig # check, then register the folders

The nvidia-*-cu12 wheels put their shared libraries in
site-packages/nvidia/<name>/lib. TensorFlow finds most through its RUNPATH,
but not every library it or XLA dlopens, so the GPU image registers all of
them with the dynamic loader (ldconfig). `--ldconfig` also fails the build
when an installed nvidia wheel does not satisfy what the installed TensorFlow
declares for [and-cuda] (e.g. cuDNN 8.9 for TF 2.21, which needs >= 9.3):
TensorFlow would then skip the GPU at run time. Standard library only: it
runs before seed_stac is installed.
"""

import argparse
import importlib.metadata
import importlib.util
import pathlib
import re
import subprocess
import sys
from typing import Dict, List, Sequence

CONF = pathlib.Path('/etc/ld.so.conf.d/seed-stac-nvidia.conf')
# "nvidia-cudnn-cu12<10.0,>=9.3.0.75; extra == "and-cuda"" -> name, specifiers.
_REQUIREMENT = re.compile(r'^\s*([A-Za-z0-9_.-]+)\s*([^;]*);.*extra\s*==\s*"and-cuda"')


def library_dirs(search_path: Sequence[str]) -> List[pathlib.Path]:
  """site-packages/nvidia/*/lib folders under `search_path` entries, sorted."""
  found = set()
  for entry in search_path:
    for lib in pathlib.Path(entry).glob('nvidia/*/lib'):
      if lib.is_dir():
        found.add(lib.resolve())
  return sorted(found)


def _version_tuple(text: str):
  return tuple(int(p) for p in re.findall(r'\d+', text))


def _satisfies(version: str, specifiers: str) -> bool:
  """Checks the <, <=, >=, >, == clauses TensorFlow's [and-cuda] pins use."""
  have = _version_tuple(version)
  for clause in filter(None, (c.strip() for c in specifiers.split(','))):
    op, bound = re.match(r'(<=|>=|==|<|>)\s*(\S+)', clause).groups()
    want = _version_tuple(bound)
    n = max(len(have), len(want))
    a, b = have + (0,) * (n - len(have)), want + (0,) * (n - len(want))
    if not {'<': a < b, '<=': a <= b, '>=': a >= b, '>': a > b, '==': a == b}[op]:
      return False
  return True


def cuda_mismatches(requirements: Sequence[str], installed: Dict[str, str]) -> List[str]:
  """Messages for [and-cuda] requirements that `installed` (name -> version) misses."""
  problems = []
  for requirement in requirements:
    match = _REQUIREMENT.match(requirement)
    if not match:
      continue
    name, specifiers = match.group(1), match.group(2).strip()
    version = installed.get(name.lower().replace('_', '-'))
    if version is None:
      problems.append(f'{name} is not installed (TensorFlow needs {specifiers})')
    elif not _satisfies(version, specifiers):
      problems.append(f'{name} {version} does not satisfy {specifiers}')
  return problems


def _installed_versions() -> Dict[str, str]:
  return {
      d.metadata['Name'].lower().replace('_', '-'): d.version
      for d in importlib.metadata.distributions()
  }


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  mode = parser.add_mutually_exclusive_group(required=True)
  mode.add_argument('--check',
                    action='store_true',
                    help='check the CUDA wheels against TensorFlow, list the folders')
  mode.add_argument('--ldconfig',
                    action='store_true',
                    help=f'check, then write {CONF} and run ldconfig')
  args = parser.parse_args(argv)
  dirs = library_dirs(sys.path)
  if importlib.util.find_spec('tensorflow') is None:
    print('nvidia_libraries.py: TensorFlow is not installed', file=sys.stderr)
    return 1
  problems = cuda_mismatches(importlib.metadata.requires('tensorflow') or [], _installed_versions())
  if not dirs:
    problems.append('no site-packages/nvidia/*/lib folders: was tensorflow[and-cuda] installed?')
  if problems:
    print('nvidia_libraries.py: the CUDA wheels do not match TensorFlow:\n  '
          + '\n  '.join(problems),
          file=sys.stderr)
    return 1
  if args.check:
    print('\n'.join(map(str, dirs)))
    return 0
  CONF.write_text(''.join(f'{d}\n' for d in dirs))
  subprocess.run(['ldconfig'], check=True)
  print(f'registered {len(dirs)} CUDA library folders in {CONF}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
