"""Tests for gcp.submit: the Vertex AI CustomJob spec and its submission."""

import json
import os
import pathlib
import subprocess
import sys

import pytest
from google.cloud import aiplatform_v1
from google.cloud.aiplatform_v1.types import CustomJobSpec

from gcp import submit

# conftest.py puts the repository root on sys.path (gcp/ is not installed).
REPO = pathlib.Path(__file__).resolve().parents[2]

LEARNER_IMAGE = 'us-central1-docker.pkg.dev/proj/seed-stac/learner:abc123'
ACTOR_IMAGE = 'us-central1-docker.pkg.dev/proj/seed-stac/actor:abc123'


def gpu_job(**overrides):
  kw = dict(display_name='pong-1',
            learner_image=LEARNER_IMAGE,
            actor_image=ACTOR_IMAGE,
            config='configs/atari.py:Pong',
            overrides=['learner.batch_size=32'],
            logdir='gs://bucket/runs/pong-1',
            learner_machine_type='a2-highgpu-1g',
            learner_accelerator_type='NVIDIA_TESLA_A100',
            learner_accelerator_count=1,
            actor_machines=6,
            actor_machine_type='n2-standard-16',
            actors_per_machine=16,
            env=['SEED_STAC_TOKEN=t0k', 'EXTRA=a=b'],
            token='generated-token')
  kw.update(overrides)
  return submit.build_job(**kw)


def parse_spec(job):
  """Parses with the Vertex AI client's own proto type (strict: unknown fields fail)."""
  return CustomJobSpec.from_json(json.dumps(job['jobSpec']))


class TestBuildJob:

  def test_gpu_job_parses_with_vertex_types(self):
    spec = parse_spec(gpu_job())
    learner, actors = spec.worker_pool_specs
    assert learner.replica_count == 1
    assert learner.machine_spec.machine_type == 'a2-highgpu-1g'
    assert learner.machine_spec.accelerator_type == aiplatform_v1.AcceleratorType.NVIDIA_TESLA_A100
    assert learner.machine_spec.accelerator_count == 1
    assert learner.container_spec.image_uri == LEARNER_IMAGE
    assert list(learner.container_spec.args) == [
        '--config=configs/atari.py:Pong', '--config.learner.batch_size=32',
        '--logdir=gs://bucket/runs/pong-1'
    ]
    assert not learner.container_spec.command  # the image's gcp.entrypoint runs
    assert actors.replica_count == 6
    assert actors.machine_spec.machine_type == 'n2-standard-16'
    assert not actors.machine_spec.accelerator_count
    assert actors.container_spec.image_uri == ACTOR_IMAGE
    assert list(actors.container_spec.args) == ['--actors_per_machine=16']
    env = [('SEED_STAC_TOKEN', 't0k'), ('EXTRA', 'a=b')]
    # The learner must find its GPU or fail at start (gcp.entrypoint).
    assert [(e.name, e.value) for e in learner.container_spec.env
           ] == env + [('SEED_STAC_DEVICE', 'gpu')]
    assert [(e.name, e.value) for e in actors.container_spec.env] == env
    for pool in (learner, actors):
      assert pool.disk_spec.boot_disk_size_gb == 100
    assert spec.base_output_directory.output_uri_prefix == 'gs://bucket/runs/pong-1'
    assert spec.scheduling.restart_job_on_worker_restart is False
    assert spec.scheduling.strategy == aiplatform_v1.Scheduling.Strategy.STRATEGY_UNSPECIFIED

  def test_whole_custom_job_parses(self):
    job = aiplatform_v1.CustomJob.from_json(json.dumps(gpu_job()))
    assert job.display_name == 'pong-1'
    assert len(job.job_spec.worker_pool_specs) == 2

  def test_tpu_v5e_learner(self):
    spec = parse_spec(
        gpu_job(learner_machine_type='ct5lp-hightpu-4t',
                learner_accelerator_type='',
                learner_accelerator_count=0,
                learner_tpu_topology='2x2',
                learner_image=LEARNER_IMAGE + '-tpu'))
    learner = spec.worker_pool_specs[0]
    assert learner.machine_spec.machine_type == 'ct5lp-hightpu-4t'
    assert learner.machine_spec.tpu_topology == '2x2'
    assert learner.container_spec.image_uri.endswith('-tpu')
    assert 'disk_spec' not in learner  # TPU VMs take none

  def test_cloud_tpu_v3(self):
    spec = parse_spec(
        gpu_job(learner_machine_type='cloud-tpu',
                learner_accelerator_type='TPU_V3',
                learner_accelerator_count=8))
    ms = spec.worker_pool_specs[0].machine_spec
    assert (ms.machine_type, ms.accelerator_type,
            ms.accelerator_count) == ('cloud-tpu', aiplatform_v1.AcceleratorType.TPU_V3, 8)

  def test_options(self):
    spec = parse_spec(
        gpu_job(spot=True,
                timeout_hours=48,
                service_account='sa@p.iam.gserviceaccount.com',
                network='projects/1/global/networks/default',
                extra_learner_args=['--config.learner.lr=1e-3'],
                extra_actor_args=['--env_batch=4']))
    assert spec.scheduling.strategy == aiplatform_v1.Scheduling.Strategy.SPOT
    assert spec.scheduling.timeout.total_seconds() == 48 * 3600
    assert spec.service_account == 'sa@p.iam.gserviceaccount.com'
    assert spec.network == 'projects/1/global/networks/default'
    assert list(spec.worker_pool_specs[0].container_spec.args)[-1] == '--config.learner.lr=1e-3'
    assert list(spec.worker_pool_specs[1].container_spec.args) == [
        '--actors_per_machine=16', '--env_batch=4'
    ]

  @pytest.mark.parametrize(
      'overrides, device',
      [
          (dict(), 'gpu'),
          (dict(learner_machine_type='ct5lp-hightpu-4t',
                learner_accelerator_type='',
                learner_accelerator_count=0,
                learner_tpu_topology='2x2'), 'tpu'),
          (dict(learner_machine_type='cloud-tpu',
                learner_accelerator_type='TPU_V3',
                learner_accelerator_count=8), 'tpu'),
          (dict(learner_machine_type='n2-standard-16',
                learner_accelerator_type='',
                learner_accelerator_count=0), 'cpu'),
          (dict(env=['SEED_STAC_DEVICE=auto']), 'auto'),  # the user's choice wins
      ])
  def test_learner_device_follows_its_machine(self, overrides, device):
    learner = parse_spec(gpu_job(**overrides)).worker_pool_specs[0]
    assert [e.value for e in learner.container_spec.env if e.name == 'SEED_STAC_DEVICE'] == [device]

  def test_a_token_always_reaches_both_pools(self):
    spec = parse_spec(gpu_job(env=['EXTRA=1'], token='generated'))
    for pool in spec.worker_pool_specs:
      assert ('SEED_STAC_TOKEN', 'generated') in [(e.name, e.value) for e in pool.container_spec.env
                                                 ]
    # The user's own token wins over the generated one.
    spec = parse_spec(gpu_job(token='generated'))
    assert [
        e.value for e in spec.worker_pool_specs[1].container_spec.env if e.name == 'SEED_STAC_TOKEN'
    ] == ['t0k']
    with pytest.raises(submit.SpecError, match='the learner needs a shared token'):
      gpu_job(env=['EXTRA=1'], token='')

  def test_vertex_tensorboard(self):
    name = 'projects/p/locations/us-central1/tensorboards/123'
    spec = parse_spec(gpu_job(tensorboard=name, service_account='sa@p.iam.gserviceaccount.com'))
    assert spec.tensorboard == name
    assert not parse_spec(gpu_job()).tensorboard
    with pytest.raises(submit.SpecError, match='--tensorboard needs --service_account'):
      gpu_job(tensorboard=name)
    with pytest.raises(submit.SpecError, match='--tensorboard must be a Vertex AI TensorBoard'):
      gpu_job(tensorboard='my-board', service_account='sa@p.iam.gserviceaccount.com')

  def test_unknown_accelerator_is_caught_by_vertex_types(self):
    # Passes our format check; the proto enum is the authority on names.
    job = gpu_job(learner_accelerator_type='NVIDIA_TESLA_Z9000')
    with pytest.raises(Exception, match='NVIDIA_TESLA_Z9000'):
      parse_spec(job)

  @pytest.mark.parametrize('overrides, message', [
      (dict(learner_image=''), r'--learner_image is required'),
      (dict(actor_image=''), r'--actor_image is required'),
      (dict(display_name=''), r'--display_name must not be empty'),
      (dict(config=''), r'--config is required'),
      (dict(logdir='/tmp/run'), r'--logdir must be a gs://BUCKET/PATH'),
      (dict(logdir='gs://'), r'--logdir must be a gs://BUCKET/PATH'),
      (dict(overrides=['learner.batch_size']), r'--override expects KEY=VALUE'),
      (dict(overrides=['=3']), r'--override expects KEY=VALUE'),
      (dict(learner_accelerator_count=0), r'go together'),
      (dict(learner_accelerator_type=''), r'go together'),
      (dict(learner_accelerator_type='nvidia-l4'), r'AcceleratorType name'),
      (dict(learner_tpu_topology='2x2'), r'--learner_tpu_topology needs a TPU machine type'),
      (dict(learner_machine_type='ct5lp-hightpu-4t',
            learner_tpu_topology='big'), r'must look like 2x2'),
      (dict(learner_machine_type='ct5lp-hightpu-4t'), r'cannot take GPU'),
      (dict(learner_machine_type='cloud-tpu',
            learner_accelerator_type='',
            learner_accelerator_count=0), r'cloud-tpu needs a TPU_'),
      (dict(learner_machine_type=''), r'--learner_machine_type is required'),
      (dict(actor_machine_type=''), r'--actor_machine_type is required'),
      (dict(actor_machines=0), r'--actor_machines must be >= 1'),
      (dict(actors_per_machine=0), r'--actors_per_machine must be >= 1'),
      (dict(timeout_hours=-1), r'--timeout_hours must be >= 0'),
      (dict(env=['NOVALUE']), r'--env expects NAME=VALUE'),
      (dict(env=['1BAD=x']), r'--env expects NAME=VALUE'),
      (dict(env=['A=1', 'A=2']), r'--env A given twice'),
      (dict(extra_learner_args=['--logdir=gs://x/y']), r"must not set \['logdir'\]"),
      (dict(extra_learner_args=['--port=1']), r"must not set \['port'\]"),
      (dict(extra_actor_args=['--actor_id=1']), r"--actor_arg must not set \['actor_id'\]"),
  ])
  def test_errors(self, overrides, message):
    with pytest.raises(submit.SpecError, match=message):
      gpu_job(**overrides)


class FakeClient:

  def __init__(self):
    self.calls = []

  def create_custom_job(self, parent, custom_job):
    self.calls.append((parent, custom_job))
    return aiplatform_v1.CustomJob(name=f'{parent}/customJobs/123',
                                   display_name=custom_job.display_name)


class TestSubmitJob:

  def test_creates_job_in_region(self):
    client = FakeClient()
    created = submit.submit_job(gpu_job(), 'my-proj', 'europe-west4', client=client)
    parent, custom_job = client.calls[0]
    assert parent == 'projects/my-proj/locations/europe-west4'
    assert isinstance(custom_job, aiplatform_v1.CustomJob)
    assert custom_job.job_spec.worker_pool_specs[1].replica_count == 6
    assert created.name.endswith('/customJobs/123')

  def test_needs_project(self):
    client = FakeClient()
    with pytest.raises(submit.SpecError, match='--project is required'):
      submit.submit_job(gpu_job(), '', 'us-central1', client=client)
    assert not client.calls


def run_cli(args, tmp_path):
  env = dict(os.environ, PYTHONPATH=str(REPO))
  return subprocess.run([sys.executable, '-m', 'gcp.submit'] + args,
                        cwd=tmp_path,
                        env=env,
                        capture_output=True,
                        text=True,
                        timeout=120)


BASE_ARGS = [
    '--learner_image=' + LEARNER_IMAGE, '--actor_image=' + ACTOR_IMAGE,
    '--config=configs/atari.py:Pong', '--logdir=gs://bucket/runs/pong-1'
]


class TestCli:

  def test_dry_run_writes_spec(self, tmp_path):
    out = tmp_path / 'job.json'
    proc = run_cli([
        '--dry_run', f'--spec_out={out}', '--override=learner.batch_size=32', '--actor_machines=3',
        '--actors_per_machine=4', '--env=A=1', '--spot', '--display_name=pong-7',
        '--project=unused-in-dry-run'
    ] + BASE_ARGS + ['--', '--config.learner.lr=0.001'], tmp_path)
    assert proc.returncode == 0, proc.stderr
    job = json.loads(out.read_text())
    assert job['displayName'] == 'pong-7'
    spec = parse_spec(job)
    learner, actors = spec.worker_pool_specs
    assert list(learner.container_spec.args) == [
        '--config=configs/atari.py:Pong', '--config.learner.batch_size=32',
        '--logdir=gs://bucket/runs/pong-1', '--config.learner.lr=0.001'
    ]
    assert learner.machine_spec.accelerator_type == aiplatform_v1.AcceleratorType.NVIDIA_L4
    assert (actors.replica_count, list(actors.container_spec.args)) == (3,
                                                                        ['--actors_per_machine=4'])
    assert spec.scheduling.strategy == aiplatform_v1.Scheduling.Strategy.SPOT
    env = [(e.name, e.value) for e in actors.container_spec.env]
    assert env[0] == ('A', '1') and env[1][0] == 'SEED_STAC_TOKEN'
    # A fresh random token per job, the same on both pools.
    assert len(env[1][1]) == 64 and env[1] in [(e.name, e.value) for e in learner.container_spec.env
                                              ]

  def test_dry_run_to_stdout(self, tmp_path):
    proc = run_cli(['--dry_run'] + BASE_ARGS, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert parse_spec(json.loads(proc.stdout)).worker_pool_specs[0].replica_count == 1

  def test_bad_flags_exit_2_with_message(self, tmp_path):
    proc = run_cli(['--dry_run', '--learner_tpu_topology=2x2'] + BASE_ARGS, tmp_path)
    assert proc.returncode == 2
    assert '--learner_tpu_topology needs a TPU machine type' in proc.stderr

  def test_submit_without_project_fails_before_any_network(self, tmp_path):
    proc = run_cli(BASE_ARGS, tmp_path)
    assert proc.returncode == 2
    assert '--project is required' in proc.stderr
