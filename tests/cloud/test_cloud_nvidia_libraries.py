"""Tests for docker/nvidia_libraries.py: the GPU image's check that the CUDA
wheels match TensorFlow, and the folders it registers with the loader."""

import importlib.metadata
import importlib.util
import itertools
import pathlib

from packaging.specifiers import SpecifierSet
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location('nvidia_libraries',
                                               REPO / 'docker' / 'nvidia_libraries.py')
nvidia_libraries = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(nvidia_libraries)

TF_AND_CUDA = [r for r in importlib.metadata.requires('tensorflow') if 'and-cuda' in r]


def test_library_dirs(tmp_path):
  site_a, site_b = tmp_path / 'a', tmp_path / 'b'
  for lib in (site_a / 'nvidia' / 'cudnn' / 'lib', site_a / 'nvidia' / 'cublas' / 'lib',
              site_b / 'nvidia' / 'nccl' / 'lib'):
    lib.mkdir(parents=True)
  (site_b / 'nvidia' / 'cuda_nvcc' / 'bin').mkdir(parents=True)  # no lib/: not listed
  (site_b / 'nvidia' / 'notadir').mkdir()
  (site_b / 'nvidia' / 'notadir' / 'lib').write_text('')
  dirs = nvidia_libraries.library_dirs([str(site_a), str(site_b), str(tmp_path / 'missing')])
  assert [d.relative_to(tmp_path).as_posix() for d in dirs
         ] == ['a/nvidia/cublas/lib', 'a/nvidia/cudnn/lib', 'b/nvidia/nccl/lib']


@pytest.mark.parametrize('specifiers',
                         ['<10.0,>=9.3.0.75', '>=12.5.82,<13.0', '==2.27.7', '>9.3', '<=9.3.0.75'])
def test_version_check_agrees_with_packaging(specifiers):
  versions = [
      '.'.join(map(str, v)) for v in itertools.product((8, 9, 10, 12, 13), (0, 3, 5), (0, 82))
  ]
  versions += ['9.3.0.75', '9.3.0.74', '2.27.7', '2.27.7.1', '12.5.82', '9.3']
  for version in versions:
    assert nvidia_libraries._satisfies(version,
                                       specifiers) == (version
                                                       in SpecifierSet(specifiers)), (version,
                                                                                      specifiers)


def test_installed_tensorflow_declares_cudnn_9_3():
  assert any(r.startswith('nvidia-cudnn-cu12') and '>=9.3' in r for r in TF_AND_CUDA)


def test_matching_wheels_pass_and_old_cudnn_fails():
  good = {
      'nvidia-cublas-cu12': '12.5.3.2',
      'nvidia-cuda-cupti-cu12': '12.5.82',
      'nvidia-cuda-nvcc-cu12': '12.5.82',
      'nvidia-cuda-nvrtc-cu12': '12.5.82',
      'nvidia-cuda-runtime-cu12': '12.5.82',
      'nvidia-cudnn-cu12': '9.3.0.75',
      'nvidia-cufft-cu12': '11.2.3.61',
      'nvidia-curand-cu12': '10.3.6.82',
      'nvidia-cusolver-cu12': '11.6.3.83',
      'nvidia-cusparse-cu12': '12.5.1.3',
      'nvidia-nccl-cu12': '2.27.7',
      'nvidia-nvjitlink-cu12': '12.5.82'
  }
  assert nvidia_libraries.cuda_mismatches(TF_AND_CUDA, good) == []
  # cuDNN 8.9 is what the tensorflow/tensorflow:2.21.0-gpu image ships.
  old = dict(good, **{'nvidia-cudnn-cu12': '8.9.7.29'})
  assert nvidia_libraries.cuda_mismatches(
      TF_AND_CUDA, old) == ['nvidia-cudnn-cu12 8.9.7.29 does not satisfy <10.0,>=9.3.0.75']
  missing = {k: v for k, v in good.items() if k != 'nvidia-nccl-cu12'}
  (problem,) = nvidia_libraries.cuda_mismatches(TF_AND_CUDA, missing)
  assert problem.startswith('nvidia-nccl-cu12 is not installed')


def test_check_needs_tensorflow_and_its_wheels(capsys):
  # This CPU environment has TensorFlow but not the [and-cuda] wheels.
  assert nvidia_libraries.main(['--check']) == 1
  assert 'nvidia-cudnn-cu12 is not installed' in capsys.readouterr().err
  with pytest.raises(SystemExit):
    nvidia_libraries.main([])  # a mode is required
