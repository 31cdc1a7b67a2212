"""The committed generated modules must match seed_stac.proto."""

import os

from seed_stac.rpc import generate


def test_committed_modules_match_proto(tmp_path):
  written = generate.generate(str(tmp_path))
  assert [os.path.basename(p) for p in written] == list(
      generate.GENERATED_NAMES)
  for path in written:
    committed = os.path.join(generate.RPC_DIR, os.path.basename(path))
    with open(path) as fresh, open(committed) as old:
      assert fresh.read() == old.read(), (
          f'{committed} is stale: run `python -m seed_stac.rpc.generate`')


def test_generated_grpc_module_imports_relatively(tmp_path):
  (grpc_path,) = [p for p in generate.generate(str(tmp_path))
                  if p.endswith('_grpc.py')]
  with open(grpc_path) as f:
    text = f.read()
  assert 'from . import seed_stac_pb2 as' in text
  assert '\nimport seed_stac_pb2' not in text
