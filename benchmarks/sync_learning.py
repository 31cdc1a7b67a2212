"""Learning without the distributed runtime: a synchronous on-policy loop.

  python -m benchmarks.sync_learning --config=configs/dmc_features.py:cartpole-balance,impala \
      --frames=300000 [--config.network.bounded_mean=true ...] [--out=curve.json]

One process steps `learner.batch_size` environments in lockstep with the
config's network and the real learner step (`StacUpdater.step`), collecting
time-major unrolls exactly as the learner assembles them (step T of one unroll
is step 0 of the next). No gRPC, no actors, no policy lag: if a setting does
not learn here, the runtime is not the cause. Prints a JSON line every
`--log_every` agent steps x environments (frames are agent steps).
"""

import json
import time

from absl import app, flags
from ml_collections import config_flags
import numpy as np
import tensorflow as tf

from benchmarks.sync_loop import SyncLoop

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Config file (configs/*.py[:arg]).')
_FRAMES = flags.DEFINE_integer('frames', 300_000, 'Agent steps summed over environments.')
_LOG_EVERY = flags.DEFINE_integer('log_every', 20_000, 'Frames between log lines.')
_OUT = flags.DEFINE_string('out', None, 'Write the logged rows as JSON here.')
flags.mark_flag_as_required('config')


def main(argv):
  del argv
  config = _CONFIG.value
  tf.random.set_seed(config.seed)
  loop = SyncLoop(config)
  log, next_log, start = [], 0, time.time()
  while loop.frames < _FRAMES.value:
    stats = loop.agent.updater.step(loop.unroll())
    if loop.frames >= next_log:
      next_log += _LOG_EVERY.value
      row = dict(frames=loop.frames,
                 fps=loop.frames / (time.time() - start),
                 episode_return=float(np.mean(loop.returns[-loop.batch_size:]))
                 if loop.returns else float('nan'))
      row.update({k: float(v) for k, v in stats.items()})
      log.append(row)
      print(json.dumps({k: round(v, 4) for k, v in row.items()}), flush=True)
  if _OUT.value:
    with open(_OUT.value, 'w') as f:
      json.dump(log, f)


if __name__ == '__main__':
  app.run(main)
