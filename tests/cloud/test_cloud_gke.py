"""Tests for the GKE manifests in gcp/gke: rendered base and overlays validate
against the Kubernetes API schema and wire learner, actors and config together."""

import copy
import pathlib
import shutil
import subprocess

import pytest
import yaml
from kubernetes_validate import utils as kv

import kustomize_lite
from gcp import entrypoint

# conftest.py puts the repository root on sys.path (gcp/ is not installed).
REPO = pathlib.Path(__file__).resolve().parents[2]

GKE = REPO / 'gcp' / 'gke'
TARGETS = {'base': GKE / 'base', 'gpu': GKE / 'overlays' / 'gpu', 'tpu': GKE / 'overlays' / 'tpu'}
# The newest schema kubernetes-validate ships, and an older minor GKE still serves.
K8S_VERSIONS = (kv.latest_version(), '1.33.0')


def render(name):
  return {(d['kind'], d['metadata']['name']): d for d in kustomize_lite.render(str(TARGETS[name]))}


def pod_spec(docs, kind, name):
  return docs[(kind, name)]['spec']['template']['spec']


def container(docs, kind, name):
  (c,) = pod_spec(docs, kind, name)['containers']
  return c


@pytest.mark.parametrize('target', sorted(TARGETS))
@pytest.mark.parametrize('version', K8S_VERSIONS)
def test_rendered_manifests_validate(target, version):
  docs = render(target)
  assert set(docs) == {('ServiceAccount', 'seed-stac'), ('ConfigMap', 'seed-stac-learner'),
                       ('Service', 'seed-stac-learner'), ('StatefulSet', 'seed-stac-learner'),
                       ('Deployment', 'seed-stac-actor')}
  for doc in docs.values():
    kv.validate(doc, version, strict=True)


def test_validator_rejects_broken_manifests():
  docs = render('base')
  bad_type = copy.deepcopy(docs[('StatefulSet', 'seed-stac-learner')])
  bad_type['spec']['replicas'] = 'one'
  with pytest.raises(kv.ValidationError, match="'one' is not of type"):
    kv.validate(bad_type, K8S_VERSIONS[0], strict=True)
  typo = copy.deepcopy(docs[('Deployment', 'seed-stac-actor')])
  typo['spec']['template']['spec']['containers'][0]['resource'] = {}
  with pytest.raises(kv.ValidationError, match="'resource' was unexpected"):
    kv.validate(typo, K8S_VERSIONS[0], strict=True)


def test_base_wiring():
  docs = render('base')
  sts = docs[('StatefulSet', 'seed-stac-learner')]
  svc = docs[('Service', 'seed-stac-learner')]
  actors = docs[('Deployment', 'seed-stac-actor')]
  # One learner behind a headless Service named as in the actors' address.
  assert sts['spec']['replicas'] == 1
  assert sts['spec']['serviceName'] == svc['metadata']['name']
  assert svc['spec']['clusterIP'] == 'None'
  assert svc['spec']['selector'].items() <= sts['spec']['template']['metadata']['labels'].items()
  assert not svc['spec']['selector'].items() <= actors['spec']['template']['metadata']['labels'].items()
  (port,) = svc['spec']['ports']
  assert port['port'] == entrypoint.DEFAULT_PORT
  learner = container(docs, 'StatefulSet', 'seed-stac-learner')
  assert port['targetPort'] in [p['name'] for p in learner['ports']]
  assert '--port=8686' in learner['args']
  for kind, name in (('StatefulSet', 'seed-stac-learner'), ('Deployment', 'seed-stac-actor')):
    assert pod_spec(docs, kind, name)['serviceAccountName'] == 'seed-stac'
    for sel_key, sel_val in docs[(kind, name)]['spec']['selector']['matchLabels'].items():
      assert docs[(kind, name)]['spec']['template']['metadata']['labels'][sel_key] == sel_val
  # Every ConfigMap key the learner reads exists.
  config = docs[('ConfigMap', 'seed-stac-learner')]['data']
  for env in learner['env']:
    ref = env.get('valueFrom', {}).get('configMapKeyRef')
    if ref:
      assert ref['name'] == 'seed-stac-learner' and ref['key'] in config
  assert config['SEED_STAC_LOGDIR'].startswith('gs://')
  # The learner/actor args are what gcp.entrypoint accepts.
  plan = entrypoint.make_plan('learner', learner['args'][1:], dict(config), python='py')
  assert '--config=configs/cartpole.py' in plan.commands[0]
  actor = container(docs, 'Deployment', 'seed-stac-actor')
  flags = dict(a.lstrip('-').split('=', 1) for a in actor['args'])
  assert flags['role'] == 'actor'
  assert flags['learner_address'] == f'{svc["metadata"]["name"]}:{port["port"]}'
  # Actor ids come from the pod IP, which the Deployment passes down.
  pod_ip = [e for e in actor['env'] if e['name'] == 'POD_IP']
  assert pod_ip == [{'name': 'POD_IP', 'valueFrom': {'fieldRef': {'fieldPath': 'status.podIP'}}}]
  plan = entrypoint.make_plan('actor', [], {}, python='py', ip='10.12.0.9',
                              learner_address=flags['learner_address'],
                              actors_per_machine=int(flags['actors_per_machine']))
  assert plan.commands[0][3] == '--learner_address=seed-stac-learner:8686'
  # Actors scale by replicas; the image runs as a non-root numeric user.
  assert actors['spec']['replicas'] >= 1
  assert pod_spec(docs, 'Deployment', 'seed-stac-actor')['securityContext']['runAsNonRoot']
  assert 'nvidia.com/gpu' not in str(docs)


def test_gpu_overlay():
  docs = render('gpu')
  spec = pod_spec(docs, 'StatefulSet', 'seed-stac-learner')
  learner = container(docs, 'StatefulSet', 'seed-stac-learner')
  assert learner['resources']['limits']['nvidia.com/gpu'] == '1'
  assert learner['resources']['requests']['cpu'] == '4'  # base values kept by the merge
  assert learner['args'][0] == '--role=learner'
  assert spec['nodeSelector']['cloud.google.com/gke-accelerator'].startswith('nvidia-')
  assert {'key': 'nvidia.com/gpu', 'operator': 'Exists', 'effect': 'NoSchedule'} in spec['tolerations']
  assert learner['image'].endswith('/seed-stac/learner:latest')
  assert container(docs, 'Deployment', 'seed-stac-actor')['image'].endswith('/seed-stac/actor:latest')
  # Actors stay on ordinary CPU nodes.
  assert 'nodeSelector' not in pod_spec(docs, 'Deployment', 'seed-stac-actor')


def test_tpu_overlay():
  docs = render('tpu')
  spec = pod_spec(docs, 'StatefulSet', 'seed-stac-learner')
  learner = container(docs, 'StatefulSet', 'seed-stac-learner')
  assert learner['resources']['limits']['google.com/tpu'] == '4'
  assert learner['resources']['requests']['google.com/tpu'] == '4'
  assert spec['nodeSelector']['cloud.google.com/gke-tpu-accelerator'] == 'tpu-v5-lite-podslice'
  assert spec['nodeSelector']['cloud.google.com/gke-tpu-topology'] == '2x2'
  assert learner['image'].endswith('/seed-stac/learner-tpu:latest')
  assert 'nvidia.com/gpu' not in str(docs)


@pytest.mark.skipif(shutil.which('kubectl') is None, reason='kubectl (embedded kustomize) not installed')
@pytest.mark.parametrize('target', sorted(TARGETS))
def test_renderer_matches_kubectl_kustomize(target):
  out = subprocess.run(['kubectl', 'kustomize', str(TARGETS[target])], capture_output=True,
                       text=True, timeout=120, check=True).stdout
  real = {(d['kind'], d['metadata']['name']): d for d in yaml.safe_load_all(out) if d}
  assert real == render(target)


class TestRenderer:
  """kustomize_lite must refuse what it cannot render rather than guess."""

  def write(self, tmp_path, kustomization, files=None):
    (tmp_path / 'kustomization.yaml').write_text(yaml.safe_dump(kustomization))
    for name, docs in (files or {}).items():
      (tmp_path / name).write_text(yaml.safe_dump_all(docs))
    return str(tmp_path)

  def test_unsupported_field(self, tmp_path):
    d = self.write(tmp_path, {'resources': [], 'namePrefix': 'x-'})
    with pytest.raises(kustomize_lite.KustomizeError, match=r"\['namePrefix'\] are not supported"):
      kustomize_lite.render(d)

  def test_patch_must_match(self, tmp_path):
    d = self.write(tmp_path, {'resources': [str(GKE / 'base')], 'patches': [{'path': 'p.yaml'}]},
                   {'p.yaml': [{'apiVersion': 'apps/v1', 'kind': 'StatefulSet',
                                'metadata': {'name': 'typo'}}]})
    with pytest.raises(kustomize_lite.KustomizeError, match='matches no resource'):
      kustomize_lite.render(d)

  def test_missing_resource(self, tmp_path):
    d = self.write(tmp_path, {'resources': ['nope.yaml']})
    with pytest.raises(kustomize_lite.KustomizeError, match="'nope.yaml' not found"):
      kustomize_lite.render(d)

  def test_merge_by_key_and_replace(self):
    base = {'containers': [{'name': 'a', 'args': ['1', '2'], 'env': [{'name': 'X', 'value': '1'}]}],
            'tolerations': [{'key': 'k'}]}
    patch = {'containers': [{'name': 'a', 'args': ['3'], 'env': [{'name': 'Y', 'value': '2'}]},
                            {'name': 'b'}],
             'tolerations': [{'key': 'j'}]}
    assert kustomize_lite.merge(base, patch) == {
        'containers': [{'name': 'a', 'args': ['3'],
                        'env': [{'name': 'X', 'value': '1'}, {'name': 'Y', 'value': '2'}]},
                       {'name': 'b'}],
        'tolerations': [{'key': 'j'}]}
