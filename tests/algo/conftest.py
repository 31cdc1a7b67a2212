"""Fixed network initialisation for every algo test.

Keras draws initial weights from a global generator. Unseeded, each run
tested a different network, and the clipped-RMSProp finite-difference check
failed about one run in four: its differences were roundoff-bound (see
test_update.py). Seeds 0-2 all pass now; 0 is used.
"""

import keras
import pytest


@pytest.fixture(autouse=True)
def _seeded_initialisation():
  keras.utils.set_random_seed(0)
