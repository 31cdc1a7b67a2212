"""Command lines of the binaries that other processes start (no flags or
heavy imports here: the container entrypoint and the launchers use them)."""

import sys
from typing import List, Optional, Sequence, Union

ACTOR_MODULE = 'seed_stac.actor'


def actor_command(learner_address: str,
                  actor_id: Union[int, str],
                  extra_args: Sequence[str] = (),
                  python: Optional[str] = None) -> List[str]:
  """`python -m seed_stac.actor --learner_address=... --actor_id=...` + extra.

  actor_id: a non-negative integer or 'auto'.
  """
  return [
      python or sys.executable, '-m', ACTOR_MODULE, f'--learner_address={learner_address}',
      f'--actor_id={actor_id}', *extra_args
  ]
