"""Regenerates seed_stac_pb2.py and seed_stac_pb2_grpc.py from seed_stac.proto.

Usage: python -m seed_stac.rpc.generate [OUT_DIR]   (default: this package)

The generated modules are committed; tests/rpc/test_generated.py regenerates
them into a temporary directory and fails if they differ.
"""

import os
import re
import sys
from typing import List

PROTO_NAME = 'seed_stac.proto'
RPC_DIR = os.path.dirname(os.path.abspath(__file__))
GENERATED_NAMES = ('seed_stac_pb2.py', 'seed_stac_pb2_grpc.py')

# protoc writes `import seed_stac_pb2 as ...`, which only works with the
# package directory on sys.path; a relative import works wherever it lives.
_ABSOLUTE_IMPORT = re.compile(r'^import seed_stac_pb2 as ', re.MULTILINE)


def generate(out_dir: str = RPC_DIR) -> List[str]:
  """Runs protoc via grpcio-tools; returns the paths of the written files."""
  from grpc_tools import protoc  # Build-time dependency only.
  import importlib.resources
  include = str(importlib.resources.files('grpc_tools') / '_proto')
  os.makedirs(out_dir, exist_ok=True)
  status = protoc.main([
      'grpc_tools.protoc', f'-I{RPC_DIR}', f'-I{include}', f'--python_out={out_dir}',
      f'--grpc_python_out={out_dir}',
      os.path.join(RPC_DIR, PROTO_NAME)
  ])
  if status != 0:
    raise RuntimeError(f'protoc failed with status {status}')
  grpc_path = os.path.join(out_dir, GENERATED_NAMES[1])
  with open(grpc_path) as f:
    text = f.read()
  text, count = _ABSOLUTE_IMPORT.subn('from . import seed_stac_pb2 as ', text)
  if count != 1:
    raise RuntimeError(f'expected one seed_stac_pb2 import in {grpc_path}')
  with open(grpc_path, 'w') as f:
    f.write(text)
  return [os.path.join(out_dir, name) for name in GENERATED_NAMES]


if __name__ == '__main__':
  for path in generate(*sys.argv[1:2]):
    print(path)
