"""The committed generated modules must match seed_stac.proto.

protoc (grpc_tools) runs in a child process: its bundled protobuf C++ runtime
segfaults when loaded next to TensorFlow's in one process.
"""

import os
import subprocess
import sys

from seed_stac.rpc import generate

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _generate(out_dir):
  subprocess.run([sys.executable, '-m', 'seed_stac.rpc.generate',
                  str(out_dir)],
                 cwd=ROOT,
                 check=True,
                 capture_output=True,
                 timeout=300)
  return [os.path.join(out_dir, name) for name in generate.GENERATED_NAMES]


def test_committed_modules_match_proto(tmp_path):
  for path in _generate(tmp_path):
    assert os.path.exists(path)
    committed = os.path.join(generate.RPC_DIR, os.path.basename(path))
    with open(path) as fresh, open(committed) as old:
      assert fresh.read() == old.read(), (
          f'{committed} is stale: run `python -m seed_stac.rpc.generate`')


def test_generated_grpc_module_imports_relatively(tmp_path):
  (grpc_path,) = [p for p in _generate(tmp_path) if p.endswith('_grpc.py')]
  with open(grpc_path) as f:
    text = f.read()
  assert 'from . import seed_stac_pb2 as' in text
  assert '\nimport seed_stac_pb2' not in text
