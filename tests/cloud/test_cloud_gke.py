"""Tests for the GKE manifests in gcp/gke: rendered base and overlays validate
against the Kubernetes API schema and wire learner, actors and config together."""

import copy
import pathlib
import re
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
DEVICES = {'base': 'cpu', 'gpu': 'gpu', 'tpu': 'tpu'}

LEARNER = ('Job', 'seed-stac-learner')
ACTOR = ('Job', 'seed-stac-actor')
SERVICE = ('Service', 'seed-stac-learner')
CONFIG = ('ConfigMap', 'seed-stac-learner')


def render(name):
  return {(d['kind'], d['metadata']['name']): d for d in kustomize_lite.render(str(TARGETS[name]))}


def pod_spec(docs, key):
  return docs[key]['spec']['template']['spec']


def container(docs, key):
  (c,) = pod_spec(docs, key)['containers']
  return c


def container_env(docs, key):
  """The container's environment as Kubernetes sets it: literal values and
  ConfigMap keys (secrets are left out)."""
  config = docs[CONFIG]['data']
  env = {}
  for e in container(docs, key).get('env', []):
    if 'value' in e:
      env[e['name']] = e['value']
    elif 'configMapKeyRef' in e.get('valueFrom', {}):
      ref = e['valueFrom']['configMapKeyRef']
      assert ref['name'] == CONFIG[1] and ref['key'] in config, e
      env[e['name']] = config[ref['key']]
  return env


def expand(args, env):
  """Kubernetes' $(VAR) substitution in container args."""
  return [re.sub(r'\$\(([A-Za-z_][A-Za-z0-9_]*)\)', lambda m: env[m.group(1)], a) for a in args]


def jobspec_description(field):
  version = K8S_VERSIONS[0]
  schema = kv.schema_contents(
      f'kubernetes-json-schema/v{version}-local-strict/jobspec-batch-v1.json', version)
  return schema['properties'][field]['description']


@pytest.mark.parametrize('target', sorted(TARGETS))
@pytest.mark.parametrize('version', K8S_VERSIONS)
def test_rendered_manifests_validate(target, version):
  docs = render(target)
  assert set(docs) == {('ServiceAccount', 'seed-stac'), CONFIG, SERVICE, LEARNER, ACTOR}
  for doc in docs.values():
    kv.validate(doc, version, strict=True)


def test_validator_rejects_broken_manifests():
  docs = render('base')
  bad_type = copy.deepcopy(docs[LEARNER])
  bad_type['spec']['completions'] = 'one'
  with pytest.raises(kv.ValidationError, match="'one' is not of type"):
    kv.validate(bad_type, K8S_VERSIONS[0], strict=True)
  bad_enum_type = copy.deepcopy(docs[ACTOR])
  bad_enum_type['spec']['backoffLimitPerIndex'] = [2]
  with pytest.raises(kv.ValidationError, match=r"\[2\] is not of type"):
    kv.validate(bad_enum_type, K8S_VERSIONS[1], strict=True)
  typo = copy.deepcopy(docs[ACTOR])
  typo['spec']['template']['spec']['containers'][0]['resource'] = {}
  with pytest.raises(kv.ValidationError, match="'resource' was unexpected"):
    kv.validate(typo, K8S_VERSIONS[0], strict=True)
  stale = copy.deepcopy(docs[LEARNER])
  stale['spec']['replicas'] = 1  # a StatefulSet field: Jobs have none
  with pytest.raises(kv.ValidationError, match="'replicas' was unexpected"):
    kv.validate(stale, K8S_VERSIONS[1], strict=True)


def test_learner_is_a_job_of_one_pod_behind_the_service():
  docs = render('base')
  job, svc, actors = docs[LEARNER], docs[SERVICE], docs[ACTOR]
  assert job['apiVersion'] == 'batch/v1'
  spec = job['spec']
  assert spec['completions'] == 1 and spec['parallelism'] == 1
  assert spec.get('completionMode', 'NonIndexed') == 'NonIndexed'
  # Restarts resume from the checkpoint, a bounded number of times; an idle
  # exit (status 3) fails the Job at once, disruptions are not counted.
  assert pod_spec(docs, LEARNER)['restartPolicy'] == 'Never'
  assert 1 <= spec['backoffLimit'] <= 10
  fail, ignore = spec['podFailurePolicy']['rules']
  assert fail['action'] == 'FailJob' and fail['onExitCodes'] == {
      'containerName': 'learner',
      'operator': 'In',
      'values': [3]
  }
  from seed_stac.learner.run import IDLE_EXIT_CODE  # pylint: disable=import-outside-toplevel
  assert fail['onExitCodes']['values'] == [IDLE_EXIT_CODE]
  assert ignore['action'] == 'Ignore'
  # No replacement pod while the old one still writes its final checkpoint.
  assert spec['podReplacementPolicy'] == 'Failed'
  assert spec['ttlSecondsAfterFinished'] > 0
  assert spec['activeDeadlineSeconds'] == docs[ACTOR]['spec']['activeDeadlineSeconds'] > 0
  # The Job generates its own selector; a manual one could adopt foreign pods.
  assert 'selector' not in spec and not spec.get('manualSelector')
  template_labels = spec['template']['metadata']['labels']
  annotations = spec['template']['metadata']['annotations']
  assert annotations['cluster-autoscaler.kubernetes.io/safe-to-evict'] == 'false'
  # The headless Service selects exactly the learner pod, by its labels.
  assert svc['spec']['clusterIP'] == 'None'
  assert svc['spec']['selector'].items() <= template_labels.items()
  assert not (svc['spec']['selector'].items()
              <= actors['spec']['template']['metadata']['labels'].items())
  (port,) = svc['spec']['ports']
  assert port['port'] == entrypoint.DEFAULT_PORT
  learner = container(docs, LEARNER)
  assert port['targetPort'] in [p['name'] for p in learner['ports']]
  assert learner['readinessProbe']['tcpSocket']['port'] == port['targetPort']
  assert pod_spec(docs, LEARNER)['terminationGracePeriodSeconds'] == 300
  assert learner['resources']['requests'] == {'cpu': '4', 'memory': '16Gi'}


def test_learner_args_and_env_reach_the_entrypoint():
  docs = render('base')
  learner = container(docs, LEARNER)
  env = container_env(docs, LEARNER)
  assert env['SEED_STAC_LOGDIR'].startswith('gs://')
  assert '--port=8686' in learner['args']
  args = expand(learner['args'], env)
  assert args[0] == '--role=learner'
  plan = entrypoint.make_plan('learner', args[1:], env, python='py')
  (cmd,) = plan.commands
  assert '--config=configs/cartpole.py' in cmd
  assert f'--logdir={env["SEED_STAC_LOGDIR"]}' in cmd
  # The base learner runs on CPU nodes on purpose (SEED_STAC_DEVICE=cpu).
  assert '--config.learner.device=cpu' in cmd
  names = [e['name'] for e in learner['env']]
  assert len(names) == len(set(names))
  # The token is required on both sides: the learner binds 0.0.0.0 and
  # refuses to serve it without one (no pod starts without the secret).
  for key in (LEARNER, ACTOR):
    (token,) = [e for e in container(docs, key)['env'] if e['name'] == 'SEED_STAC_TOKEN']
    assert token['valueFrom']['secretKeyRef'] == {'name': 'seed-stac', 'key': 'token'}
  assert '--insecure' not in cmd


def test_actors_are_an_indexed_job():
  docs = render('base')
  job = docs[ACTOR]
  spec = job['spec']
  assert job['apiVersion'] == 'batch/v1'
  assert spec['completionMode'] == 'Indexed'
  assert spec['completions'] == spec['parallelism'] == 8
  assert 'selector' not in spec
  assert spec['ttlSecondsAfterFinished'] > 0
  # One crashing actor uses up its own retries, not the others'.
  assert 1 <= spec['backoffLimitPerIndex'] <= 5
  assert 'backoffLimit' not in spec  # defaults to "unlimited" with backoffLimitPerIndex
  # Kubernetes documents backoffLimitPerIndex (and podFailurePolicy) for
  # restartPolicy Never only: with OnFailure the kubelet restarts the container
  # and the per-index limit never sees the failures.
  assert 'restart policy is Never' in jobspec_description('backoffLimitPerIndex')
  assert 'cannot be used in combination with restartPolicy=OnFailure' in \
      jobspec_description('podFailurePolicy')
  assert pod_spec(docs, ACTOR)['restartPolicy'] == 'Never'
  # Preemption and eviction are not the actor's fault: replace, don't count.
  (rule,) = spec['podFailurePolicy']['rules']
  assert rule['action'] == 'Ignore'
  assert rule['onPodConditions'] == [{'type': 'DisruptionTarget', 'status': 'True'}]
  for key in (LEARNER, ACTOR):
    assert pod_spec(docs, key)['serviceAccountName'] == 'seed-stac'
  assert pod_spec(docs, ACTOR)['automountServiceAccountToken'] is False
  assert pod_spec(docs, ACTOR)['securityContext']['runAsNonRoot']
  assert 'nvidia.com/gpu' not in str(docs)


def test_actor_ids_come_from_the_completion_index():
  docs = render('base')
  actor = container(docs, ACTOR)
  svc = docs[SERVICE]
  (port,) = svc['spec']['ports']
  flags = dict(a.lstrip('-').split('=', 1) for a in actor['args'])
  assert flags['role'] == 'actor'
  assert flags['learner_address'] == f'{svc["metadata"]["name"]}:{port["port"]}'
  assert 'first_actor_id' not in flags
  # No address-derived ids: those collide with discontiguous pod ranges / IPv6.
  env = container_env(docs, ACTOR)
  assert 'POD_IP' not in env and 'POD_IP' not in str(actor)
  per_pod = int(flags['actors_per_machine'])
  ids = []
  for index in range(docs[ACTOR]['spec']['completions']):
    # Kubernetes sets JOB_COMPLETION_INDEX in every pod of an Indexed Job.
    plan = entrypoint.make_plan('actor', [],
                                dict(env, JOB_COMPLETION_INDEX=str(index)),
                                python='py',
                                learner_address=flags['learner_address'],
                                actors_per_machine=per_pod)
    assert all('--learner_address=seed-stac-learner:8686' in c for c in plan.commands)
    ids.extend(plan.actor_ids)
  assert ids == list(range(docs[ACTOR]['spec']['completions'] * per_pod))


@pytest.mark.parametrize('target', sorted(TARGETS))
def test_device_env_per_target(target):
  docs = render(target)
  learner = container(docs, LEARNER)
  devices = [e for e in learner['env'] if e['name'] == 'SEED_STAC_DEVICE']
  assert devices == [{'name': 'SEED_STAC_DEVICE', 'value': DEVICES[target]}]
  env = container_env(docs, LEARNER)
  plan = entrypoint.make_plan('learner', expand(learner['args'], env)[1:], env, python='py')
  cmd = plan.commands[0]
  assert f'--config.learner.device={DEVICES[target]}' in cmd
  assert ('--config.learner.strategy=tpu' in cmd) == (target == 'tpu')
  assert 'SEED_STAC_DEVICE' not in str(docs[ACTOR])
  # The overlays change the learner's placement, never the Jobs' lifecycle.
  base = render('base')
  for key in (LEARNER, ACTOR):
    strip = lambda spec: {k: v for k, v in spec.items() if k != 'template'}
    assert strip(docs[key]['spec']) == strip(base[key]['spec'])
    assert pod_spec(docs, key)['restartPolicy'] == pod_spec(base, key)['restartPolicy']


def test_gpu_overlay():
  docs = render('gpu')
  spec = pod_spec(docs, LEARNER)
  learner = container(docs, LEARNER)
  assert learner['resources']['limits']['nvidia.com/gpu'] == '1'
  assert learner['resources']['requests']['cpu'] == '4'  # base values kept by the merge
  assert learner['args'][0] == '--role=learner'
  assert spec['nodeSelector']['cloud.google.com/gke-accelerator'].startswith('nvidia-')
  assert {
      'key': 'nvidia.com/gpu',
      'operator': 'Exists',
      'effect': 'NoSchedule'
  } in spec['tolerations']
  assert learner['image'].endswith('/seed-stac/learner:latest')
  assert container(docs, ACTOR)['image'].endswith('/seed-stac/actor:latest')
  # The env patch merged by name: the base's ConfigMap and secret refs are kept.
  assert [e['name'] for e in learner['env']
         ] == [e['name'] for e in container(render('base'), LEARNER)['env']]
  # Actors stay on ordinary CPU nodes.
  assert 'nodeSelector' not in pod_spec(docs, ACTOR)


def test_tpu_overlay():
  docs = render('tpu')
  spec = pod_spec(docs, LEARNER)
  learner = container(docs, LEARNER)
  assert learner['resources']['limits']['google.com/tpu'] == '4'
  assert learner['resources']['requests']['google.com/tpu'] == '4'
  assert spec['nodeSelector']['cloud.google.com/gke-tpu-accelerator'] == 'tpu-v5-lite-podslice'
  assert spec['nodeSelector']['cloud.google.com/gke-tpu-topology'] == '2x2'
  assert {
      'key': 'google.com/tpu',
      'operator': 'Exists',
      'effect': 'NoSchedule'
  } in spec['tolerations']
  assert learner['image'].endswith('/seed-stac/learner-tpu:latest')
  assert 'nodeSelector' not in pod_spec(docs, ACTOR)
  assert 'nvidia.com/gpu' not in str(docs)


@pytest.mark.skipif(shutil.which('kubectl') is None,
                    reason='kubectl (embedded kustomize) not installed')
@pytest.mark.parametrize('target', sorted(TARGETS))
def test_renderer_matches_kubectl_kustomize(target):
  out = subprocess.run(['kubectl', 'kustomize', str(TARGETS[target])],
                       capture_output=True,
                       text=True,
                       timeout=120,
                       check=True).stdout
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
    d = self.write(tmp_path, {
        'resources': [str(GKE / 'base')],
        'patches': [{
            'path': 'p.yaml'
        }]
    }, {'p.yaml': [{
        'apiVersion': 'batch/v1',
        'kind': 'Job',
        'metadata': {
            'name': 'typo'
        }
    }]})
    with pytest.raises(kustomize_lite.KustomizeError, match='matches no resource'):
      kustomize_lite.render(d)

  def test_patch_of_the_old_kind_fails(self, tmp_path):
    # An overlay still patching the former StatefulSet must not render silently.
    d = self.write(tmp_path, {
        'resources': [str(GKE / 'base')],
        'patches': [{
            'path': 'p.yaml'
        }]
    }, {
        'p.yaml': [{
            'apiVersion': 'apps/v1',
            'kind': 'StatefulSet',
            'metadata': {
                'name': 'seed-stac-learner'
            }
        }]
    })
    with pytest.raises(kustomize_lite.KustomizeError, match='matches no resource'):
      kustomize_lite.render(d)

  def test_missing_resource(self, tmp_path):
    d = self.write(tmp_path, {'resources': ['nope.yaml']})
    with pytest.raises(kustomize_lite.KustomizeError, match="'nope.yaml' not found"):
      kustomize_lite.render(d)

  def test_merge_by_key_and_replace(self):
    base = {
        'containers': [{
            'name': 'a',
            'args': ['1', '2'],
            'env': [{
                'name': 'X',
                'value': '1'
            }]
        }],
        'tolerations': [{
            'key': 'k'
        }]
    }
    patch = {
        'containers': [{
            'name': 'a',
            'args': ['3'],
            'env': [{
                'name': 'Y',
                'value': '2'
            }]
        }, {
            'name': 'b'
        }],
        'tolerations': [{
            'key': 'j'
        }]
    }
    assert kustomize_lite.merge(base, patch) == {
        'containers': [{
            'name': 'a',
            'args': ['3'],
            'env': [{
                'name': 'X',
                'value': '1'
            }, {
                'name': 'Y',
                'value': '2'
            }]
        }, {
            'name': 'b'
        }],
        'tolerations': [{
            'key': 'j'
        }]
    }

  def test_env_value_replaced_in_place(self):
    base = {'env': [{'name': 'D', 'value': 'cpu'}, {'name': 'L', 'valueFrom': {'x': 1}}]}
    patch = {'env': [{'name': 'D', 'value': 'gpu'}]}
    assert kustomize_lite.merge(base, patch) == {
        'env': [{
            'name': 'D',
            'value': 'gpu'
        }, {
            'name': 'L',
            'valueFrom': {
                'x': 1
            }
        }]
    }
