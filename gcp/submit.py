r"""Builds (and optionally submits) a Vertex AI CustomJob running seed_stac.

Worker pool 0 is the learner (one replica, GPU or TPU), worker pool 1 the actor
machines (CPU, `--actor_machines` replicas with `--actors_per_machine` actor
processes each). Both images run `gcp.entrypoint`, which reads Vertex's
CLUSTER_SPEC to tell the two apart and wire actors to the learner.

  # Write the job spec only (no Google Cloud libraries needed):
  python -m gcp.submit --dry_run --spec_out=/tmp/job.json \
      --learner_image=REGION-docker.pkg.dev/P/seed-stac/learner:TAG \
      --actor_image=REGION-docker.pkg.dev/P/seed-stac/actor:TAG \
      --config=configs/atari.py:Pong --override=learner.batch_size=32 \
      --logdir=gs://BUCKET/runs/pong-1

  # Submit it: drop --dry_run, add --project (needs google-cloud-aiplatform).

Arguments after `--` are appended verbatim to the learner's command line.
The same --logdir again resumes from the checkpoint there. The learner's
SEED_STAC_DEVICE follows its machine (gpu, tpu, or cpu without accelerators),
so it fails at start rather than train on the CPU of an accelerator machine.
`--tensorboard=projects/P/locations/R/tensorboards/ID` streams the learner's
summaries to a Vertex AI TensorBoard (it needs --service_account). Every
machine gets SEED_STAC_TOKEN, generated per job unless --env sets it: the
learner binds its cluster address and serves only actors that present it.
"""

import json
import re
import secrets
import sys
from typing import Any, Dict, List, Sequence

from absl import app
from absl import flags
from absl import logging

# Vertex runs TPU VMs under these machine types; they take tpu_topology.
TPU_MACHINE_PREFIXES = ('cloud-tpu', 'ct')
_ENV_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
_ACCELERATOR = re.compile(r'^[A-Z][A-Z0-9_]*$')
_TOPOLOGY = re.compile(r'^\d+(x\d+){1,2}$')
_TENSORBOARD = re.compile(r'^projects/[^/]+/locations/[^/]+/tensorboards/[^/]+$')
DEVICE_ENV = 'SEED_STAC_DEVICE'  # gcp.entrypoint.DEVICE_ENV
TOKEN_ENV = 'SEED_STAC_TOKEN'  # read by the learner and actor binaries
# Flags submit.py itself puts on the learner/actor command lines.
_LEARNER_OWNED = ('config', 'logdir', 'port', 'bind_address')
_ACTOR_OWNED = ('actors_per_machine', 'learner_address', 'actor_id', 'role')


class SpecError(ValueError):
  """The requested job is inconsistent; the message names the flag."""


def is_tpu_machine(machine_type: str) -> bool:
  return machine_type.startswith(TPU_MACHINE_PREFIXES)


def parse_env(pairs: Sequence[str]) -> List[Dict[str, str]]:
  """['K=V', ...] -> Vertex EnvVar list; rejects malformed and duplicate names."""
  env, seen = [], set()
  for pair in pairs:
    name, sep, value = pair.partition('=')
    if not sep or not _ENV_NAME.match(name):
      raise SpecError(f'--env expects NAME=VALUE with a valid variable name, got {pair!r}')
    if name in seen:
      raise SpecError(f'--env {name} given twice')
    seen.add(name)
    env.append({'name': name, 'value': value})
  return env


def _flag_names(args: Sequence[str]) -> set:
  return {a.lstrip('-').split('=', 1)[0] for a in args if a.startswith('-') and a != '--'}


def learner_args(config: str, overrides: Sequence[str], logdir: str,
                 extra: Sequence[str]) -> List[str]:
  """The learner's flags: config file, `--config.KEY=VALUE` overrides, logdir."""
  if not config:
    raise SpecError('--config is required (e.g. configs/atari.py:Pong)')
  args = [f'--config={config}']
  for override in overrides:
    key, sep, value = override.partition('=')
    key = key.strip()
    if key.startswith('config.'):
      key = key[len('config.'):]
    if not sep or not key or key.startswith('-'):
      raise SpecError(f'--override expects KEY=VALUE (e.g. learner.batch_size=32), '
                      f'got {override!r}')
    args.append(f'--config.{key}={value}')
  clash = sorted(_flag_names(extra) & set(_LEARNER_OWNED))
  if clash:
    raise SpecError(f'extra learner args must not set {clash}: use --config/--logdir; '
                    'the entrypoint sets the port from CLUSTER_SPEC')
  return args + [f'--logdir={logdir}'] + list(extra)


def machine_spec(machine_type: str,
                 accelerator_type: str = '',
                 accelerator_count: int = 0,
                 tpu_topology: str = '',
                 what: str = 'learner') -> Dict[str, Any]:
  """A MachineSpec dict in REST (camelCase) form, with consistency checks."""
  if not machine_type:
    raise SpecError(f'--{what}_machine_type is required')
  if bool(accelerator_type) != (accelerator_count > 0):
    raise SpecError(f'--{what}_accelerator_type and --{what}_accelerator_count go together '
                    f'(got {accelerator_type!r} x {accelerator_count})')
  if accelerator_type and not _ACCELERATOR.match(accelerator_type):
    raise SpecError(f'--{what}_accelerator_type must be a Vertex AcceleratorType name like '
                    f'NVIDIA_L4 or TPU_V3, got {accelerator_type!r}')
  tpu = is_tpu_machine(machine_type)
  if tpu_topology and not tpu:
    raise SpecError(f'--{what}_tpu_topology needs a TPU machine type (cloud-tpu, ct5lp-*, '
                    f'...), got {machine_type!r}')
  if tpu_topology and not _TOPOLOGY.match(tpu_topology):
    raise SpecError(f'--{what}_tpu_topology must look like 2x2 or 2x2x1, got {tpu_topology!r}')
  if tpu and accelerator_type.startswith('NVIDIA'):
    raise SpecError(f'TPU machine type {machine_type!r} cannot take GPU {accelerator_type}')
  if machine_type == 'cloud-tpu' and not accelerator_type.startswith('TPU_'):
    raise SpecError('machine type cloud-tpu needs a TPU_* --learner_accelerator_type and count')
  spec = {'machineType': machine_type}
  if accelerator_type:
    spec['acceleratorType'] = accelerator_type
    spec['acceleratorCount'] = accelerator_count
  if tpu_topology:
    spec['tpuTopology'] = tpu_topology
  return spec


def learner_device(machine_type: str, accelerator_type: str, accelerator_count: int) -> str:
  """The learner.device a learner machine must provide (gcp.entrypoint's SEED_STAC_DEVICE)."""
  if is_tpu_machine(machine_type):
    return 'tpu'
  if accelerator_type.startswith('NVIDIA') and accelerator_count > 0:
    return 'gpu'
  return 'cpu'


def build_job(*,
              display_name: str,
              learner_image: str,
              actor_image: str,
              config: str,
              overrides: Sequence[str],
              logdir: str,
              learner_machine_type: str,
              learner_accelerator_type: str = '',
              learner_accelerator_count: int = 0,
              learner_tpu_topology: str = '',
              actor_machines: int = 1,
              actor_machine_type: str = 'n2-standard-8',
              actors_per_machine: int = 8,
              env: Sequence[str] = (),
              extra_learner_args: Sequence[str] = (),
              extra_actor_args: Sequence[str] = (),
              service_account: str = '',
              network: str = '',
              spot: bool = False,
              timeout_hours: float = 0,
              boot_disk_gb: int = 100,
              tensorboard: str = '',
              token: str = '') -> Dict[str, Any]:
  """A Vertex AI CustomJob as a REST/JSON dict (camelCase field names).

  The learner binds its cluster address and refuses to serve it without a
  shared token: `token` (the binary generates one) goes to every machine as
  SEED_STAC_TOKEN unless `env` sets that already.

  Parses with `aiplatform_v1.CustomJob.from_json`. Raises SpecError naming the
  offending flag for inconsistent requests, before anything is sent.
  """
  if not display_name:
    raise SpecError('--display_name must not be empty')
  for flag, image in (('learner_image', learner_image), ('actor_image', actor_image)):
    if not image:
      raise SpecError(f'--{flag} is required (an Artifact Registry image URI)')
  if not logdir.startswith('gs://') or len(logdir.rstrip('/')) <= len('gs://'):
    raise SpecError(f'--logdir must be a gs://BUCKET/PATH URI (Vertex machines share no '
                    f'disk), got {logdir!r}')
  if actor_machines < 1:
    raise SpecError(f'--actor_machines must be >= 1, got {actor_machines}')
  if actors_per_machine < 1:
    raise SpecError(f'--actors_per_machine must be >= 1, got {actors_per_machine}')
  if timeout_hours < 0:
    raise SpecError(f'--timeout_hours must be >= 0, got {timeout_hours}')
  clash = sorted(_flag_names(extra_actor_args) & set(_ACTOR_OWNED))
  if clash:
    raise SpecError(f'--actor_arg must not set {clash}: the entrypoint derives them')
  if tensorboard and not _TENSORBOARD.match(tensorboard):
    raise SpecError('--tensorboard must be a Vertex AI TensorBoard resource name, '
                    f'projects/P/locations/R/tensorboards/ID, got {tensorboard!r}')
  if tensorboard and not service_account:
    raise SpecError('--tensorboard needs --service_account (Vertex AI writes '
                    'TensorBoard logs only for jobs run as a service account)')
  env_vars = parse_env(env)
  if not any(v['name'] == TOKEN_ENV for v in env_vars):
    if not token:
      raise SpecError(f'the learner needs a shared token: pass --env={TOKEN_ENV}=... '
                      '(the binary generates one otherwise)')
    env_vars.append({'name': TOKEN_ENV, 'value': token})
  learner_env = env_vars
  if not any(v['name'] == DEVICE_ENV for v in env_vars):
    learner_env = env_vars + [{
        'name':
            DEVICE_ENV,
        'value':
            learner_device(learner_machine_type, learner_accelerator_type,
                           learner_accelerator_count)
    }]
  disk = {'bootDiskType': 'pd-ssd', 'bootDiskSizeGb': boot_disk_gb}

  learner = {
      'machineSpec':
          machine_spec(learner_machine_type, learner_accelerator_type, learner_accelerator_count,
                       learner_tpu_topology),
      'replicaCount':
          1,  # CLUSTER_SPEC workerpool0 must hold exactly the learner.
      'containerSpec': {
          'imageUri': learner_image,
          'args': learner_args(config, overrides, logdir, extra_learner_args),
          'env': learner_env,
      },
  }
  # TPU VMs on Vertex take no diskSpec.
  if not is_tpu_machine(learner_machine_type):
    learner['diskSpec'] = dict(disk)
  actors = {
      'machineSpec': machine_spec(actor_machine_type, what='actor'),
      'replicaCount': actor_machines,
      'containerSpec': {
          'imageUri': actor_image,
          'args': [f'--actors_per_machine={actors_per_machine}'] + list(extra_actor_args),
          'env': env_vars,
      },
      'diskSpec': dict(disk),
  }
  job_spec: Dict[str, Any] = {
      'workerPoolSpecs': [learner, actors],
      'baseOutputDirectory': {
          'outputUriPrefix': logdir
      },
      # Never restart the whole job when one (spot) actor machine restarts:
      # actors reconnect on their own and the learner keeps going.
      'scheduling': {
          'restartJobOnWorkerRestart': False
      },
  }
  if spot:
    job_spec['scheduling']['strategy'] = 'SPOT'
  if timeout_hours:
    job_spec['scheduling']['timeout'] = f'{int(timeout_hours * 3600)}s'
  if service_account:
    job_spec['serviceAccount'] = service_account
  if network:
    job_spec['network'] = network
  if tensorboard:
    job_spec['tensorboard'] = tensorboard
  return {'displayName': display_name, 'jobSpec': job_spec}


def submit_job(job: Dict[str, Any], project: str, region: str, client=None):
  """Creates the CustomJob. google-cloud-aiplatform is imported only here."""
  if not project:
    raise SpecError('--project is required to submit (or use --dry_run)')
  if not region:
    raise SpecError('--region is required to submit')
  from google.cloud import aiplatform_v1  # pylint: disable=g-import-not-at-top
  custom_job = aiplatform_v1.CustomJob.from_json(json.dumps(job))
  if client is None:
    client = aiplatform_v1.JobServiceClient(
        client_options={'api_endpoint': f'{region}-aiplatform.googleapis.com'})
  return client.create_custom_job(parent=f'projects/{project}/locations/{region}',
                                  custom_job=custom_job)


FLAGS = flags.FLAGS


def _define_flags():
  flags.DEFINE_string('project', '', 'Google Cloud project id (not needed for --dry_run).')
  flags.DEFINE_string('region', 'us-central1', 'Vertex AI region.')
  flags.DEFINE_string('display_name', 'seed-stac', 'Job display name.')
  flags.DEFINE_string('learner_image', '', 'Learner image URI (GPU or TPU build).')
  flags.DEFINE_string('actor_image', '', 'Actor image URI (CPU build).')
  flags.DEFINE_string('config', '', 'Config file[:name], relative to the image workdir.')
  flags.DEFINE_multi_string('override', [], 'Config override KEY=VALUE -> --config.KEY=VALUE.')
  flags.DEFINE_string('logdir', '', 'gs:// log/checkpoint dir; base_output_directory too.')
  flags.DEFINE_string(
      'learner_machine_type', 'g2-standard-8',
      'e.g. g2-standard-8 (L4), a2-highgpu-1g (A100), cloud-tpu, '
      'ct5lp-hightpu-4t (TPU v5e).')
  flags.DEFINE_string('learner_accelerator_type', 'NVIDIA_L4',
                      'Vertex AcceleratorType, e.g. NVIDIA_L4, TPU_V3; "" for none.')
  flags.DEFINE_integer('learner_accelerator_count', 1, 'Accelerators; 0 for none.')
  flags.DEFINE_string('learner_tpu_topology', '', 'TPU topology, e.g. 2x2 (TPU machines).')
  flags.DEFINE_integer('actor_machines', 4, 'Actor machines (worker pool 1 replicas).')
  flags.DEFINE_string('actor_machine_type', 'n2-standard-8', 'Actor machine type (CPU).')
  flags.DEFINE_integer('actors_per_machine', 8, 'Actor processes per actor machine.')
  flags.DEFINE_multi_string('actor_arg', [], 'Extra flag for every actor process.')
  flags.DEFINE_multi_string('env', [], 'NAME=VALUE environment variable for all machines.')
  flags.DEFINE_string('service_account', '', 'Service account email the job runs as.')
  flags.DEFINE_string('network', '', 'VPC network (projects/NUM/global/networks/NAME).')
  flags.DEFINE_boolean(
      'spot', False, 'Run on Spot VMs (whole job; preemptions are '
      'survivable: actors reconnect, the learner checkpoints on SIGTERM).')
  flags.DEFINE_float('timeout_hours', 0, 'Job timeout in hours; 0 keeps the Vertex default.')
  flags.DEFINE_integer('boot_disk_gb', 100, 'Boot disk size (GPU/CPU machines).')
  flags.DEFINE_string(
      'tensorboard', '', 'Vertex AI TensorBoard for the learner\'s summaries, '
      'projects/P/locations/R/tensorboards/ID (needs --service_account).')
  flags.DEFINE_boolean('dry_run', False, 'Write the job spec JSON and exit.')
  flags.DEFINE_string('spec_out', '', 'Where --dry_run writes the spec; "" = stdout.')


def main(argv):
  try:
    job = build_job(display_name=FLAGS.display_name,
                    learner_image=FLAGS.learner_image,
                    actor_image=FLAGS.actor_image,
                    config=FLAGS.config,
                    overrides=FLAGS.override,
                    logdir=FLAGS.logdir,
                    learner_machine_type=FLAGS.learner_machine_type,
                    learner_accelerator_type=FLAGS.learner_accelerator_type,
                    learner_accelerator_count=FLAGS.learner_accelerator_count,
                    learner_tpu_topology=FLAGS.learner_tpu_topology,
                    actor_machines=FLAGS.actor_machines,
                    actor_machine_type=FLAGS.actor_machine_type,
                    actors_per_machine=FLAGS.actors_per_machine,
                    env=FLAGS.env,
                    extra_learner_args=[a for a in argv[1:] if a != '--'],
                    extra_actor_args=FLAGS.actor_arg,
                    service_account=FLAGS.service_account,
                    network=FLAGS.network,
                    spot=FLAGS.spot,
                    timeout_hours=FLAGS.timeout_hours,
                    boot_disk_gb=FLAGS.boot_disk_gb,
                    tensorboard=FLAGS.tensorboard,
                    token=secrets.token_hex(32))
    text = json.dumps(job, indent=2, sort_keys=True) + '\n'
    if FLAGS.dry_run:
      if FLAGS.spec_out:
        with open(FLAGS.spec_out, 'w') as f:
          f.write(text)
        logging.info('wrote job spec to %s', FLAGS.spec_out)
      else:
        sys.stdout.write(text)
      return 0
    created = submit_job(job, FLAGS.project, FLAGS.region)
  except SpecError as e:
    logging.error('gcp.submit: %s', e)
    return 2
  print(f'Submitted {created.name}\n'
        f'  logs: gcloud ai custom-jobs stream-logs {created.name} --region={FLAGS.region}')
  return 0


if __name__ == '__main__':
  _define_flags()
  app.run(main)
