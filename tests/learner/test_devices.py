"""The learner's device contract on a CPU-only machine (CI has no GPU)."""

import pytest
import tensorflow as tf

from configs import catch
from seed_stac.learner import devices
from seed_stac.learner.run import run_learner

pytestmark = pytest.mark.skipif(bool(tf.config.list_physical_devices('GPU')),
                                reason='checks the no-GPU failure; this machine has a GPU')


def test_gpu_without_a_gpu_fails_naming_the_likely_causes():
  with pytest.raises(devices.DeviceError,
                     match="learner.device='gpu' but TensorFlow finds no GPU") as error:
    devices.require('gpu', 'none')
  assert 'nvidia-smi' in str(error.value) and 'cuDNN 9.3' in str(error.value)


def test_cpu_auto_and_bad_values():
  devices.require('cpu', 'none')
  devices.require('auto', 'none')
  with pytest.raises(devices.DeviceError, match="needs learner.strategy='tpu'"):
    devices.require('tpu', 'none')
  with pytest.raises(ValueError, match='learner.device must be one of'):
    devices.require('npu', 'none')
  devices.check_tpu('auto')  # only 'tpu' asks for TPU cores
  with pytest.raises(devices.DeviceError, match='no TPU cores'):
    devices.check_tpu('tpu')


@pytest.mark.parametrize('accelerator', ['v5litepod-4', 'v5p-8', 'v6e-8', ''])
def test_supported_tpu_generations_pass(accelerator):
  devices.check_tpu_generation(accelerator)


@pytest.mark.parametrize('accelerator', ['v4-8', 'v3-8', 'v2-8'])
def test_older_tpus_are_refused_at_start_naming_the_runtime(accelerator, monkeypatch):
  with pytest.raises(devices.DeviceError, match=f"TPU_ACCELERATOR_TYPE='{accelerator}'.*PJRT"):
    devices.check_tpu_generation(accelerator)
  monkeypatch.setenv('TPU_ACCELERATOR_TYPE', accelerator)
  with pytest.raises(devices.DeviceError, match='Use a v5e, v5p or v6e TPU'):
    devices.require('tpu', 'tpu')


def test_the_policy_runs_where_it_is_placed_and_says_where_it_ran():
  from seed_stac import builder
  from seed_stac.envs import create_environment
  from seed_stac.learner.inference import BatchedPolicy, zero_inputs
  assert 'CPU' in devices.training_devices(None)[0]
  assert devices.inference_placement(None) == (None, False)  # TensorFlow's default
  mirrored = tf.distribute.MirroredStrategy(['/cpu:0'])
  device, jit = devices.inference_placement(mirrored)
  assert device.endswith('CPU:0') and not jit  # XLA only for a TPU replica
  config = catch.get_config('impala')
  spec = create_environment('catch', 'catch', 0).spec
  network = builder.build_agent(config, spec).network
  inputs = zero_inputs(spec, network, 4)
  assert BatchedPolicy(network, 0).ran_on(inputs).endswith('CPU:0')
  placed = BatchedPolicy(network, 0, device=device)
  assert placed.ran_on(inputs).endswith('CPU:0')
  out = placed(inputs)
  assert out.action.shape == (4,) and out.log_prob.shape == (4,) and out.core == ()


def test_a_gpu_run_on_a_cpu_machine_stops_before_building_anything(tmp_path):
  config = catch.get_config('impala')
  config.learner.device = 'gpu'
  with pytest.raises(devices.DeviceError, match='finds no GPU'):
    run_learner(config, str(tmp_path / 'run'))
  assert not (tmp_path / 'run').exists()


def test_tpu_resolver_for_a_tpu_vm_container():
  # TF on a TPU VM connects with tpu='local'; '' asks for a TPU name.
  from seed_stac import builder  # pylint: disable=import-outside-toplevel
  assert catch.get_config().learner.tpu_name == 'local'
  resolver = builder.tpu_resolver('local')
  assert isinstance(resolver, tf.distribute.cluster_resolver.TPUClusterResolver)
  with pytest.raises(ValueError, match="Please provide a TPU Name"):
    tf.distribute.cluster_resolver.TPUClusterResolver(tpu='')
  with pytest.raises(ValueError, match="learner.tpu_name must be 'local'"):
    builder.tpu_resolver('')
