"""Command-line arguments passed through gcp.entrypoint: flag lookup, the
SEED_STAC_ARGS environment variable, and flags the entrypoint sets itself."""

import shlex
from typing import List, Mapping, Optional, Sequence

ARGS_ENV = 'SEED_STAC_ARGS'


class UsageError(ValueError):
  """Flags passed to the entrypoint contradict what it derives itself."""


def flag_name(arg: str) -> Optional[str]:
  """'--port=1' / '-port' / '--port' -> 'port'; positional args -> None."""
  if not arg.startswith('-') or arg in ('-', '--'):
    return None
  return arg.lstrip('-').split('=', 1)[0]


def has_flag(args: Sequence[str], name: str) -> bool:
  return any(flag_name(a) == name for a in args)


def check_reserved(args: Sequence[str], reserved: Sequence[str], why: str) -> None:
  """Rejects pass-through flags the entrypoint sets itself (they would conflict)."""
  clash = sorted({flag_name(a) for a in args} & set(reserved))
  if clash:
    raise UsageError(f'do not pass {", ".join("--" + c for c in clash)}: {why}')


def strip_separator(args: Sequence[str]) -> List[str]:
  """Drops the first '--', which only shields flags from this entrypoint's parser.

  Kept, it would make the child's absl parser treat the flags after it as
  positional arguments.
  """
  args = list(args)
  if '--' in args:
    args.remove('--')
  return args


def env_args(environ: Mapping[str, str]) -> List[str]:
  """Shell-splits SEED_STAC_ARGS; a broken value is an error, not dropped args."""
  text = environ.get(ARGS_ENV, '')
  try:
    return shlex.split(text)
  except ValueError as e:
    raise UsageError(f'{ARGS_ENV} is not valid shell-quoted arguments ({e}): {text!r}') from e
