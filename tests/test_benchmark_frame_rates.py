"""benchmarks.frame_rates (library of benchmarks.throughput): the ceiling and
end-to-end training measurements run and fail clearly (no timing assertions)."""

import pytest

from benchmarks import frame_rates


def test_ceiling_counts_emulator_frames_of_the_vector_env():
  assert frame_rates.ceiling_frames_per_second(num_envs=2, seconds=0.5) > 0


def test_training_run_that_cannot_start_is_reported_with_its_error():
  with pytest.raises(RuntimeError, match=r'(?s)no 5 s of training logged.*takes GAME'):
    frame_rates.training_frames_per_second('impala',
                                           'no_such_torso',
                                           num_actors=1,
                                           warmup_steps=1,
                                           seconds=5)
