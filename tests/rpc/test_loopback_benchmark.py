"""seed_stac.rpc.loopback_benchmark: real actor processes against a FakeLearner."""

import pytest

from seed_stac.rpc import loopback_benchmark

CARTPOLE = dict(kind='cartpole', name='CartPole-v1', seed=0, options={})


def test_measure_steps_the_given_environment():
  assert loopback_benchmark.measure(2, 4, 1.0, warmup_s=0.5, env_config=CARTPOLE) > 0


def test_measure_builds_the_given_environment():
  with pytest.raises(ValueError, match="unknown cartpole environment name 'Pong'"):
    loopback_benchmark.measure(1, 4, 1.0, env_config=dict(CARTPOLE, name='Pong'))
