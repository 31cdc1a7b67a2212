"""The learner's device contract: `learner.device` = auto | cpu | gpu | tpu.

A cloud learner must never fall back to the CPU silently: with 'gpu' or
'tpu' the run fails at start, naming the likely cause, when TensorFlow finds
no such device. 'cpu' hides any GPU; 'auto' takes what TensorFlow finds.
`require` runs before TensorFlow builds anything; `training_devices` and
`inference_placement` say where the learner step and the batched policy run
(the learner then logs the device the policy's first batch really ran on).
"""

import os
from typing import List, Optional, Tuple

import tensorflow as tf

DEVICES = ('auto', 'cpu', 'gpu', 'tpu')
# learner.strategy: one device, MirroredStrategy over the local GPUs, or TPUStrategy.
STRATEGIES = ('none', 'mirrored', 'tpu')

_NO_GPU = ("learner.device='gpu' but TensorFlow finds no GPU. Likely causes: no NVIDIA "
           'driver in the container (does `nvidia-smi` work? Docker needs `--gpus all`, '
           'Kubernetes a GPU resource limit), or CUDA/cuDNN libraries that this '
           'TensorFlow cannot load (TF 2.21 needs CUDA 12 and cuDNN 9.3 or newer; look '
           'for "Cannot dlopen some GPU libraries" above). Use learner.device=auto or '
           'cpu to train on the CPU on purpose.')


class DeviceError(RuntimeError):
  """The requested device kind is not available."""


# TPU generations whose TensorFlow runtime is PJRT with the libtpu pluggable
# device, what the TPU image sets up (Cloud TPU's runtime docs; v4 and older
# use another runtime). Cloud TPU VMs name theirs in TPU_ACCELERATOR_TYPE,
# e.g. 'v5litepod-4', 'v5p-8', 'v6e-4', 'v4-8'.
PJRT_TPU_GENERATIONS = ('v5litepod', 'v5e', 'v5p', 'v6e')


def check_tpu_generation(accelerator_type: str) -> None:
  """Raises DeviceError for a TPU generation the TPU image does not support;
  an empty type (not on a Cloud TPU VM, or unknown) passes."""
  if not accelerator_type:
    return
  generation = accelerator_type.split('-')[0].lower()
  if generation not in PJRT_TPU_GENERATIONS:
    raise DeviceError(
        f'TPU_ACCELERATOR_TYPE={accelerator_type!r}: this image runs TensorFlow on TPUs through '
        f'PJRT, which Cloud TPU documents for {", ".join(PJRT_TPU_GENERATIONS)}; {generation} '
        'needs another TPU runtime that it does not include. Use a v5e, v5p or v6e TPU.')


def require(device: str, strategy: str) -> None:
  """Applies `device` before any TensorFlow op runs; raises DeviceError."""
  if device not in DEVICES:
    raise ValueError(f'learner.device must be one of {DEVICES}, got {device!r}')
  if device == 'cpu' and tf.config.list_physical_devices('GPU'):
    try:
      tf.config.set_visible_devices([], 'GPU')
    except RuntimeError as e:  # TensorFlow already initialised its devices
      raise DeviceError(f"learner.device='cpu' could not hide the GPUs: {e}") from e
  elif device == 'gpu' and not tf.config.list_physical_devices('GPU'):
    raise DeviceError(_NO_GPU)
  elif device == 'tpu' and strategy != 'tpu':
    raise DeviceError("learner.device='tpu' needs learner.strategy='tpu'")
  elif device == 'tpu':
    check_tpu_generation(os.environ.get('TPU_ACCELERATOR_TYPE', ''))


def check_tpu(device: str) -> None:
  """After the TPU strategy connected: raises DeviceError without TPU cores."""
  if device == 'tpu' and not tf.config.list_logical_devices('TPU'):
    raise DeviceError("learner.device='tpu' but TensorFlow finds no TPU cores after "
                      'connecting; check the TPU runtime (libtpu) and PJRT_DEVICE=TPU.')


def training_devices(strategy) -> List[str]:
  """The devices the training step runs on: the strategy's replicas, or the
  first accelerator (else the CPU) without one."""
  if strategy is not None:
    return list(strategy.extended.worker_devices)
  accelerators = [
      d.name for d in tf.config.list_logical_devices() if d.device_type in ('GPU', 'TPU')
  ]
  return accelerators[:1] or [d.name for d in tf.config.list_logical_devices('CPU')][:1]


def inference_placement(strategy) -> Tuple[Optional[str], bool]:
  """(device, jit_compile) for the batched policy: the strategy's first
  replica (a TPU core compiled with XLA; a GPU as it is), or TensorFlow's
  default placement without a strategy."""
  if strategy is None:
    return None, False
  device = strategy.extended.worker_devices[0]
  return device, 'TPU' in device.upper()
