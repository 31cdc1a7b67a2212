"""The docs cannot drift from the code: every file, `file.py:Name`,
`module.Name`, config key, `python -m` module and relative link that README.md,
gcp/README.md and docs/*.md name must exist.

Reference styles read from `backticked` spans and markdown links:
- a path (`seed_stac/learner/run.py`, `nets/network.py`, `configs/atari.py`,
  `requirements.txt`), looked up from the repository root, then seed_stac/;
- `path.py:Name` or `path.py:Class.attribute`: defined in that file;
- `module.Name` or `Class.attribute` where `module` is one of our modules'
  names or `Class` one of our classes;
- a config key (`learner.passes`, `algo.fixed.gamma`): a key of
  `config.default_config()` (open sections such as `env.options` excepted);
- `python -m pkg.module`: that module exists;
- a relative link `[text](path#anchor)`: the file, and the heading the
  anchor names.
Anything else (TensorFlow APIs, shell commands, file names a run writes) is
not a reference and is left alone.
"""

import ast
import functools
import glob
import os
import re
from typing import Dict, List, Optional, Set

import pytest

from seed_stac import config as config_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = ['README.md', 'gcp/README.md'] + sorted(
    os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, 'docs', '*.md')))
SOURCE_DIRS = ('seed_stac', 'benchmarks', 'gcp', 'configs', 'tests', 'examples')
PATH = re.compile(r'^[\w.\-/<>]+\.(py|md|txt|sh|Dockerfile|yaml|yml|toml|proto|json|cfg)$')
PATH_NAME = re.compile(r'^([\w./\-]+\.py):([\w.]+)$')
DOTTED = re.compile(r'^([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*)+)$')
MODULE_RUN = re.compile(r'python3? -m ([\w.]+)')
LINK = re.compile(r'\]\(([^)\s]+)\)')
OPEN_SECTIONS = ('env.options', 'algo.init_logits', 'algo.outer', 'algo.fixed')
# Other packages' names, which a doc may mention beside ours.
THIRD_PARTY = ('dm_env', 'tf', 'np', 'keras', 'tfp', 'tfd', 'gymnasium', 'grpc', 'absl',
               'ml_collections', 'mujoco', 'ale_py', 'minatar', 'realworldrl_suite')
# Environment variables of TensorFlow, CUDA, gRPC and the clouds.
FOREIGN_VARIABLE_PREFIXES = ('TF_', 'XLA_', 'CUDA_', 'GRPC_', 'NCCL_', 'AIP_', 'CLOUD_ML_')
# Placeholders for a run's directories: what they hold is written by a run.
PLACEHOLDER_DIRS = ('DIR/', 'LOGDIR/', 'OUT/', 'ROOT/', 'logdir/')


def _python_files() -> List[str]:
  files = []
  for top in SOURCE_DIRS:
    files += glob.glob(os.path.join(ROOT, top, '**', '*.py'), recursive=True)
  return [f for f in files if '_pb2' not in f]


@functools.lru_cache(maxsize=None)
def _definitions(path: str) -> Dict[str, Set[str]]:
  """Top-level names of a Python file -> their attributes (class members,
  including assignments in methods: self.x = ...)."""
  tree = ast.parse(open(path).read())
  names: Dict[str, Set[str]] = {}
  for node in tree.body:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
      names[node.name] = set()
    elif isinstance(node, ast.ClassDef):
      members = set()
      for item in ast.walk(node):
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
          members.add(item.name)
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
          members.add(item.target.id)
        elif isinstance(item, ast.Assign):
          for target in item.targets:
            if isinstance(target, ast.Name):
              members.add(target.id)
            elif isinstance(target, ast.Attribute):
              members.add(target.attr)
      names[node.name] = members
    elif isinstance(node, (ast.Assign, ast.AnnAssign)):
      targets = node.targets if isinstance(node, ast.Assign) else [node.target]
      for target in targets:
        for leaf in ast.walk(target):
          if isinstance(leaf, ast.Name):
            names[leaf.id] = set()
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
      for alias in node.names:
        names[(alias.asname or alias.name).split('.')[0]] = set()
  return names


@functools.lru_cache(maxsize=None)
def _modules() -> Dict[str, List[str]]:
  """Module name (file stem, or package name for __init__) -> its files."""
  modules: Dict[str, List[str]] = {}
  for path in _python_files():
    stem = os.path.splitext(os.path.basename(path))[0]
    if stem == '__init__':
      stem = os.path.basename(os.path.dirname(path))
    modules.setdefault(stem, []).append(path)
  return modules


@functools.lru_cache(maxsize=None)
def _classes() -> Dict[str, Set[str]]:
  classes: Dict[str, Set[str]] = {}
  for path in _python_files():
    for name, members in _definitions(path).items():
      if name[:1].isupper() and members:
        classes.setdefault(name, set()).update(members)
  return classes


@functools.lru_cache(maxsize=None)
def _config_keys() -> Set[str]:
  keys = set()

  def walk(node, prefix):
    for key, value in node.items():
      name = f'{prefix}{key}'
      keys.add(name)
      if hasattr(value, 'items'):
        walk(value, name + '.')

  walk(config_lib.default_config(), '')
  return keys


def _resolve_path(reference: str, doc: str) -> Optional[str]:
  """The file a doc means: from the root, seed_stac/ or the doc's folder;
  a bare file name anywhere in the source tree."""
  for base in (ROOT, os.path.join(ROOT, 'seed_stac'), os.path.dirname(os.path.join(ROOT, doc))):
    candidate = os.path.normpath(os.path.join(base, reference))
    if os.path.exists(candidate):
      return candidate
  if '/' not in reference:
    for path in _python_files():
      if os.path.basename(path) == reference:
        return path
  return None


def _names_a_place_of_ours(reference: str) -> bool:
  """Whether a path's first folder is one of ours (else it is a user's or
  another project's file, or one a run writes)."""
  if reference.startswith(PLACEHOLDER_DIRS):
    return False
  first = reference.split('/')[0]
  return '/' not in reference or any(
      os.path.isdir(os.path.join(base, first)) for base in (ROOT, os.path.join(ROOT, 'seed_stac')))


def _module_file(dotted: str) -> Optional[str]:
  """seed_stac.learner.run -> its file, if it is one of ours."""
  base = os.path.join(ROOT, *dotted.split('.'))
  for candidate in (base + '.py', os.path.join(base,
                                               '__init__.py'), os.path.join(base, '__main__.py')):
    if os.path.exists(candidate):
      return candidate
  return None


def _inherited(member: str) -> bool:
  """Members our classes get from Keras models and layers or named tuples."""
  import keras  # pylint: disable=import-outside-toplevel
  return any(hasattr(base, member) for base in (keras.Model, keras.layers.Layer)) or member in (
      '_fields', '_replace', '_asdict')


def _has_name(path: str, dotted: str) -> bool:
  """`Name` or `Class.member` defined in `path`; a bare member name of one
  of its classes counts too (`batcher.py:_assemble`)."""
  first, *rest = dotted.split('.')
  definitions = _definitions(path)
  if first not in definitions:
    return not rest and any(first in members for members in definitions.values())
  return not rest or rest[0] in definitions[first] or _inherited(rest[0])


def _check_dotted(span: str) -> Optional[str]:
  """None if `span` is fine or not a reference to our code; else why not."""
  match = DOTTED.match(span)
  if not match:
    return None
  first, rest = match.group(1), match.group(2)[1:]
  if first == 'config' and rest.split('.')[0] in dict(config_lib.default_config()):
    span, first, rest = rest, rest.split('.')[0], rest.partition('.')[2]  # config.learner.x
  if span in _config_keys() or any(span.startswith(s + '.') for s in OPEN_SECTIONS):
    return None
  if first in THIRD_PARTY:
    return None
  if first in ('seed_stac', 'benchmarks', 'gcp', 'configs', 'examples'):
    parts = span.split('.')
    for cut in range(len(parts), 0, -1):
      path = _module_file('.'.join(parts[:cut]))
      if path:
        leftover = '.'.join(parts[cut:])
        ok = not leftover or _has_name(path, leftover)
        return None if ok else f'{".".join(parts[:cut])} defines no {leftover!r}'
    return f'no module {span}'
  if first in dict(config_lib.default_config()) and first not in _modules():
    return f'config key {span!r} is not in config.default_config()'
  if first in _modules():
    if any(_has_name(path, rest) for path in _modules()[first]):
      return None
    if any(
        os.path.exists(os.path.join(os.path.dirname(p), first,
                                    rest.split('.')[0] + '.py')) for p in _modules()[first]):
      return None  # a submodule (envs.atari)
    if first in dict(config_lib.default_config()):
      return f'{span!r} is neither a config key nor a name in module {first}'
    return f'module {first} defines no {rest!r}'
  if first in _classes():
    member = rest.split('.')[0]
    if member not in _classes()[first] and not _inherited(member):
      return f'class {first} has no member {member!r}'
  return None


@functools.lru_cache(maxsize=None)
def _source_words() -> Set[str]:
  """Every identifier in the repository's code, scripts and manifests."""
  words = set()
  patterns = ('**/*.py', '**/*.sh', '**/*Dockerfile', '**/*.yaml', '**/*.yml', 'Makefile',
              '**/*.proto', '**/*.toml', '**/*.txt')
  for pattern in patterns:
    for path in glob.glob(os.path.join(ROOT, pattern), recursive=True):
      if '.venv' not in path and os.path.isfile(path) and path != os.path.abspath(__file__):
        words.update(re.findall(r'\w+', open(path, errors='ignore').read()))
  return words


def _check_span(span: str, doc: str) -> Optional[str]:
  span = span.strip()
  if ' ' in span or '<' in span or '*' in span:
    return None
  if re.fullmatch(r'[A-Z][A-Z0-9]*(_[A-Z0-9]+)+', span):  # a constant or environment variable
    if span.startswith(FOREIGN_VARIABLE_PREFIXES) or span in _source_words():
      return None
    return f'{span} appears nowhere in the code'
  match = PATH_NAME.match(span)
  if match and _names_a_place_of_ours(match.group(1)):
    path = _resolve_path(match.group(1), doc)
    if path is None:
      return f'file {match.group(1)} does not exist'
    if not _has_name(path, match.group(2)):
      return f'{match.group(1)} defines no {match.group(2)!r}'
    return None
  if PATH.match(span):
    if not _names_a_place_of_ours(span) or ('/' not in span and not span.endswith('.py')):
      return None  # a user's file, another project's, or one a run writes
    return None if _resolve_path(span, doc) else f'file {span} does not exist'
  return _check_dotted(span)


def _slug(heading: str) -> str:
  text = re.sub(r'[^\w\- ]', '', heading.strip().lower())
  return text.replace(' ', '-')


def _check_link(target: str, doc: str) -> Optional[str]:
  if re.match(r'^[a-z]+:', target):  # http:, https:, mailto:
    return None
  path, _, anchor = target.partition('#')
  full = os.path.normpath(os.path.join(ROOT, os.path.dirname(doc), path)) if path else os.path.join(
      ROOT, doc)
  if not os.path.exists(full):
    return f'link target {path} does not exist'
  if anchor and full.endswith('.md'):
    headings = [
        _slug(line.lstrip('#')) for line in open(full).read().splitlines() if line.startswith('#')
    ]
    if anchor not in headings:
      return f'{path or doc} has no heading #{anchor}'
  return None


def problems(doc: str) -> List[str]:
  text = open(os.path.join(ROOT, doc)).read()
  found = []
  prose = re.sub(r'```.*?```', '', text, flags=re.S)
  for span in re.findall(r'`([^`\n]+)`', prose):
    why = _check_span(span, doc)
    if why:
      found.append(f'`{span}`: {why}')
  for module in MODULE_RUN.findall(text):
    parts = module.split('.')
    if parts[0] in ('pip', 'venv', 'pytest', 'grpc_tools', 'http', 'yapf', 'pyflakes'):
      continue
    base = os.path.join(ROOT, *parts)
    if not (os.path.exists(base + '.py') or os.path.exists(os.path.join(base, '__main__.py'))):
      found.append(f'python -m {module}: no such module')
  for target in LINK.findall(prose):
    why = _check_link(target, doc)
    if why:
      found.append(f'({target}): {why}')
  return sorted(set(found))


@pytest.mark.parametrize('doc', DOCS)
def test_every_reference_in_the_docs_exists(doc):
  assert problems(doc) == []


def test_the_checker_catches_each_kind_of_stale_reference(tmp_path):
  assert _check_span('seed_stac/learner/run.py', 'README.md') is None
  assert _check_span('seed_stac/learner/nope.py', 'README.md')
  assert _check_span('rpc/codec.py:HandshakeReply', 'README.md') is None
  assert _check_span('rpc/codec.py:NoSuchThing', 'README.md')
  assert _check_span('metaparams.HYPERPARAMETER_NAMES', 'README.md')
  assert _check_span('losses.head_loss', 'README.md') is None
  assert _check_span('StacUpdater.step', 'README.md') is None
  assert _check_span('StacUpdater.no_such_method', 'README.md')
  assert _check_span('learner.passes', 'README.md') is None
  assert _check_span('learner.no_such_key', 'README.md')
  assert _check_span('tf.function', 'README.md') is None  # not ours
  assert _check_span('update.py:split_unroll', 'README.md') is None  # a bare file name
  assert _check_span('seed_stac.learner.run', 'README.md') is None
  assert _check_span('seed_stac.no_such_module', 'README.md')
  assert _check_span('config.learner.batch_size', 'README.md') is None
  assert _check_span('DIR/config.json', 'README.md') is None  # written by a run
  assert _check_span('HYPERPARAMETER_NAMES', 'README.md')
  assert _check_span('SEED_STAC_TOKEN', 'README.md') is None
  assert _check_link('docs/algorithm.md#reuse-and-the-trust-region', 'README.md') is None
  assert _check_link('docs/algorithm.md#no-such-heading', 'README.md')
