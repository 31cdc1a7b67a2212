"""A small kustomize renderer for the subset gcp/gke uses, for tests.

No kustomize binary is installed by the project (PyPI has none; kubectl embeds
one but is not a dependency). This renders `resources`, strategic-merge
`patches` and `images`, and refuses every other kustomization field, so a
manifest change that needs more of kustomize fails loudly here instead of
being rendered wrong. When kubectl is available, the tests compare this
renderer's output with `kubectl kustomize`.
"""

import copy
import os
from typing import Any, Dict, List

import yaml

SUPPORTED_FIELDS = {'apiVersion', 'kind', 'resources', 'patches', 'images'}

# Strategic-merge keys of the list fields our patches touch (from the
# Kubernetes API's x-kubernetes-patch-merge-key). Other lists are replaced.
MERGE_KEYS = {
    'containers': 'name',
    'initContainers': 'name',
    'env': 'name',
    'volumes': 'name',
    'volumeMounts': 'mountPath',
    'ports': 'containerPort',
    'imagePullSecrets': 'name',
}


class KustomizeError(ValueError):
  """The kustomization uses something this renderer does not support, or is broken."""


def _load_docs(path: str) -> List[Dict[str, Any]]:
  with open(path) as f:
    return [d for d in yaml.safe_load_all(f) if d is not None]


def _key(doc: Dict[str, Any]):
  try:
    return doc['kind'], doc['metadata']['name']
  except (KeyError, TypeError) as e:
    raise KustomizeError(f'resource without kind/metadata.name: {doc!r}') from e


def merge(base: Any, patch: Any, field: str = '') -> Any:
  """Strategic merge of `patch` into `base` (both plain YAML values)."""
  if isinstance(base, dict) and isinstance(patch, dict):
    out = dict(base)
    for k, v in patch.items():
      if v is None:
        out.pop(k, None)
      elif k in out:
        out[k] = merge(out[k], v, k)
      else:
        out[k] = copy.deepcopy(v)
    return out
  if isinstance(base, list) and isinstance(patch, list) and field in MERGE_KEYS:
    key = MERGE_KEYS[field]
    out = [copy.deepcopy(x) for x in base]
    index = {x.get(key): i for i, x in enumerate(out) if isinstance(x, dict)}
    for item in patch:
      if not isinstance(item, dict) or key not in item:
        raise KustomizeError(f'{field} patch item lacks merge key {key!r}: {item!r}')
      if item[key] in index:
        out[index[item[key]]] = merge(out[index[item[key]]], item, field)
      else:
        out.append(copy.deepcopy(item))
    return out
  return copy.deepcopy(patch)


def _split_image(image: str):
  """'name:tag' / 'name@digest' / 'name' -> (name, suffix incl. separator)."""
  if '@' in image:
    name, digest = image.split('@', 1)
    return name, '@' + digest
  slash = image.rfind('/')
  colon = image.rfind(':')
  if colon > slash:
    return image[:colon], image[colon:]
  return image, ''


def _set_images(doc: Dict[str, Any], images: List[Dict[str, Any]]) -> None:
  spec = doc.get('spec', {})
  pod = spec.get('template', {}).get('spec', spec if doc.get('kind') == 'Pod' else {})
  for field in ('containers', 'initContainers'):
    for c in pod.get(field, []) or []:
      name, suffix = _split_image(c.get('image', ''))
      for rule in images:
        if rule.get('name') != name:
          continue
        unknown = set(rule) - {'name', 'newName', 'newTag', 'digest'}
        if unknown:
          raise KustomizeError(f'unsupported images fields {sorted(unknown)}')
        new_name = rule.get('newName', name)
        if 'digest' in rule:
          suffix = '@' + rule['digest']
        elif 'newTag' in rule:
          suffix = ':' + str(rule['newTag'])
        c['image'] = new_name + suffix


def render(directory: str) -> List[Dict[str, Any]]:
  """Renders the kustomization in `directory` to a list of resource dicts."""
  path = os.path.join(directory, 'kustomization.yaml')
  if not os.path.exists(path):
    raise KustomizeError(f'no kustomization.yaml in {directory}')
  docs = _load_docs(path)
  if len(docs) != 1 or not isinstance(docs[0], dict):
    raise KustomizeError(f'{path} must hold one mapping')
  kust = docs[0]
  unsupported = set(kust) - SUPPORTED_FIELDS
  if unsupported:
    raise KustomizeError(f'{path}: kustomization fields {sorted(unsupported)} are not '
                         'supported by this renderer')
  resources: List[Dict[str, Any]] = []
  for entry in kust.get('resources', []):
    target = os.path.normpath(os.path.join(directory, entry))
    if os.path.isdir(target):
      resources.extend(render(target))
    elif os.path.isfile(target):
      resources.extend(_load_docs(target))
    else:
      raise KustomizeError(f'{path}: resource {entry!r} not found')
  seen = set()
  for doc in resources:
    k = _key(doc)
    if k in seen:
      raise KustomizeError(f'{path}: duplicate resource {k}')
    seen.add(k)
  for patch_entry in kust.get('patches', []):
    if set(patch_entry) != {'path'}:
      raise KustomizeError(f'{path}: only `- path: FILE` patches are supported, got '
                           f'{patch_entry!r}')
    for patch in _load_docs(os.path.join(directory, patch_entry['path'])):
      matches = [i for i, d in enumerate(resources) if _key(d) == _key(patch)]
      if len(matches) != 1:
        raise KustomizeError(f'{path}: patch {patch_entry["path"]} matches no resource '
                             f'{_key(patch)}')
      resources[matches[0]] = merge(resources[matches[0]], patch)
  for doc in resources:
    _set_images(doc, kust.get('images', []))
  return resources
