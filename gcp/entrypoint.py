r"""Container entrypoint: decides whether this machine runs the learner or actors.

Used by both images (`ENTRYPOINT ["python3", "-m", "gcp.entrypoint"]`), on
Vertex AI, GKE, Docker Compose, or a plain machine:

  --role=auto (default): read Vertex AI's CLUSTER_SPEC, else TF_CONFIG.
      workerpool0 / chief  -> learner, bound to 0.0.0.0 on the port of its own
                              cluster entry (Vertex assigns it, usually 2222).
      workerpool1 / worker -> `--actors_per_machine` actor processes pointed at
                              workerpool0[0] (chief[0]), with actor ids
                              task_index * actors_per_machine + k.
  --role=learner: run the learner; binds 0.0.0.0 unless --bind_address is given.
  --role=actor:   run `--actors_per_machine` actors against --learner_address.
                  Ids come from --first_actor_id; else, in a Kubernetes
                  Indexed Job, from JOB_COMPLETION_INDEX * actors_per_machine
                  + k; else from the low bits of this container's IP address
                  (POD_IP, else the host name resolved), unique among the
                  running replicas of a Compose service, which have no ordinal.
  --role=local:   run the all-in-one `seed_stac.local`.

The images set SEED_STAC_DEVICE (gpu in the GPU learner image, tpu in the TPU
one), which becomes `--config.learner.device` (and, for tpu,
`--config.learner.strategy=tpu`) of the learner or local run, so a cloud
learner without its accelerator fails at start instead of training on the
CPU; set it to cpu or auto to run an accelerator image on a CPU on purpose.
On Vertex AI with a TensorBoard instance, the learner writes its summaries to
AIP_TENSORBOARD_LOG_DIR. Actors wait up to 30 minutes for a learner that is
gone (preempted, restarting) before giving up, unless
--max_reconnect_seconds says otherwise.

Every flag this entrypoint does not define is passed through unchanged to the
binary it starts (e.g. `--config=configs/atari.py:Pong
--config.learner.batch_size=32 --logdir=gs://b/run`). absl's own flags (`--v`,
`--flagfile`, ...) are taken by this entrypoint; put them after `--` to pass
them on. Arguments in the SEED_STAC_ARGS environment variable (shell-quoted,
e.g. from a Kubernetes ConfigMap or Docker Compose) go before the command-line
ones, so the command line wins where both set a flag. SEED_STAC_TOKEN is left
in the environment the binaries inherit (they read it themselves), not turned
into --token, which would show the secret in `ps` and job consoles.

The learner replaces this process (exec), so SIGTERM from Vertex/Kubernetes
reaches it directly and it can write its checkpoint. Actors run as child
processes; SIGTERM/SIGINT are forwarded to them, and this process exits
non-zero if any of them failed.
"""

import dataclasses
import os
import sys
from typing import List, Mapping, Optional, Sequence, Tuple

from absl import app
from absl import flags
from absl import logging

from gcp import actor_ids
from gcp import cluster
from gcp import passthrough
from gcp import supervise
from seed_stac.commands import actor_command

LEARNER_MODULE = 'seed_stac.learner'
LOCAL_MODULE = 'seed_stac.local'
DEFAULT_PORT = 8686
ROLES = ('auto', 'learner', 'actor', 'local')
DEVICE_ENV = 'SEED_STAC_DEVICE'
DEVICES = ('auto', 'cpu', 'gpu', 'tpu')  # seed_stac.learner.devices.DEVICES
TENSORBOARD_ENV = 'AIP_TENSORBOARD_LOG_DIR'
# A cloud learner can take minutes to come back (preemption, a restarted
# Job pod, a resumed checkpoint); the actor binary's own default is 5 minutes.
CLOUD_RECONNECT_SECONDS = 1800
# Actors of a Vertex AI job or a Kubernetes Job live exactly as long as their
# job: they wait for their learner however late it comes (0: never give up).
JOB_RECONNECT_SECONDS = 0
# A cloud learner with no environment step for this long checkpoints, names
# the missing actors and exits 3, instead of idling on a billed machine.
CLOUD_IDLE_EXIT_SECONDS = 3600


@dataclasses.dataclass(frozen=True)
class Plan:
  """What to run. `exec_single` means replace this process by commands[0]."""
  role: str
  commands: Tuple[Tuple[str, ...], ...]
  exec_single: bool
  actor_ids: Tuple[int, ...] = ()


def device_args(environ: Mapping[str, str], args: Sequence[str]) -> List[str]:
  """Config overrides from SEED_STAC_DEVICE, unless `args` set the device."""
  device = environ.get(DEVICE_ENV, '').strip()
  if not device or passthrough.has_flag(args, 'config.learner.device'):
    return []
  if device not in DEVICES:
    raise passthrough.UsageError(f'{DEVICE_ENV} must be one of {DEVICES}, got {device!r}')
  extra = [f'--config.learner.device={device}']
  if device == 'tpu' and not passthrough.has_flag(args, 'config.learner.strategy'):
    extra.append('--config.learner.strategy=tpu')
  return extra


def tensorboard_args(environ: Mapping[str, str], args: Sequence[str]) -> List[str]:
  """--tensorboard_dir from Vertex AI's AIP_TENSORBOARD_LOG_DIR, unless given."""
  folder = environ.get(TENSORBOARD_ENV, '').strip()
  if not folder or passthrough.has_flag(args, 'tensorboard_dir'):
    return []
  return [f'--tensorboard_dir={folder}']


def idle_exit_args(args: Sequence[str]) -> List[str]:
  """The cloud learner's idle exit, unless `args` set it."""
  if passthrough.has_flag(args, 'config.learner.idle_exit_s'):
    return []
  return [f'--config.learner.idle_exit_s={CLOUD_IDLE_EXIT_SECONDS}']


def learner_command(python: str, args: Sequence[str], port: Optional[int] = None) -> List[str]:
  """Learner command line; `port` given means it comes from the cluster spec."""
  cmd = [python, '-m', LEARNER_MODULE]
  if port is not None:
    passthrough.check_reserved(args, ('port', 'bind_address'),
                               'the learner binds 0.0.0.0 on the port of its cluster entry')
    cmd += [f'--port={port}', '--bind_address=0.0.0.0']
  elif not passthrough.has_flag(args, 'bind_address'):
    # Containers are reached through their network interface, never loopback.
    cmd.append('--bind_address=0.0.0.0')
  return cmd + list(args)


def actor_commands(python: str,
                   learner_address: str,
                   ids: Sequence[int],
                   args: Sequence[str],
                   reconnect_seconds: float = CLOUD_RECONNECT_SECONDS) -> List[List[str]]:
  """One actor command line per id, all dialing `learner_address`; they give
  up after `reconnect_seconds` without a learner (0: never) unless `args` say."""
  try:
    cluster.split_host_port(learner_address, 'learner address')
  except cluster.ClusterConfigError as e:
    raise passthrough.UsageError(str(e)) from e
  passthrough.check_reserved(args, ('learner_address', 'actor_id'),
                             'the entrypoint sets them per actor process')
  if len(set(ids)) != len(ids):
    raise passthrough.UsageError(f'actor ids must be unique, got {list(ids)}')
  if not passthrough.has_flag(args, 'max_reconnect_seconds'):
    args = [f'--max_reconnect_seconds={reconnect_seconds:g}'] + list(args)
  if not passthrough.has_flag(args, 'exit_with_parent'):
    # Actors end with this process, however it dies (they watch their parent).
    args = ['--exit_with_parent'] + list(args)
  return [actor_command(learner_address, i, args, python) for i in ids]


def make_plan(role: str,
              args: Sequence[str],
              environ: Mapping[str, str],
              *,
              python: str,
              ip: str = '',
              actors_per_machine: int = 1,
              learner_address: str = '',
              first_actor_id: int = -1) -> Plan:
  """Decides what this container runs. Pure: all inputs are arguments.

  Args:
    role: one of ROLES.
    args: pass-through arguments for the binary (already without '--').
    environ: environment (CLUSTER_SPEC, TF_CONFIG, SEED_STAC_ARGS,
      SEED_STAC_DEVICE, AIP_TENSORBOARD_LOG_DIR, JOB_COMPLETION_INDEX).
    python: interpreter for the child processes.
    ip: this container's IP address, for address-derived actor ids.
    actors_per_machine: actor processes per actor machine.
    learner_address: 'host:port' of the learner for role='actor'.
    first_actor_id: for role='actor', ids first_actor_id + k; -1 = from
      JOB_COMPLETION_INDEX when set, else from `ip`.
  Returns:
    A Plan.
  Raises:
    cluster.ClusterConfigError, passthrough.UsageError: with a message naming the problem.
  """
  if role not in ROLES:
    raise passthrough.UsageError(f'--role must be one of {ROLES}, got {role!r}')
  if actors_per_machine < 1:
    raise passthrough.UsageError(f'--actors_per_machine must be >= 1, got {actors_per_machine}')
  args = passthrough.env_args(environ) + list(args)
  # Appended: config overrides only parse after the --config flag they refine.
  learner_args = (args + device_args(environ, args) + tensorboard_args(environ, args)
                  + idle_exit_args(args))
  if role == 'auto':
    if learner_address or first_actor_id >= 0:
      raise passthrough.UsageError(
          '--learner_address and --first_actor_id are only for --role=actor; '
          'with --role=auto they come from CLUSTER_SPEC/TF_CONFIG')
    task = cluster.parse_cluster_env(environ)
    if task.role == 'learner':
      _, port = cluster.split_host_port(task.own_address, f'{task.source} learner entry')
      return Plan('learner', (tuple(learner_command(python, learner_args, port)),), True)
    ids = actor_ids.for_task(task.index, actors_per_machine)
    cmds = actor_commands(python, task.learner_address, ids, args, JOB_RECONNECT_SECONDS)
    return Plan('actor', tuple(tuple(c) for c in cmds), False, tuple(ids))
  if role == 'learner':
    return Plan('learner', (tuple(learner_command(python, learner_args)),), True)
  if role == 'local':
    return Plan('local', ((python, '-m', LOCAL_MODULE, *args, *device_args(environ, args)),), True)
  if not learner_address:
    raise passthrough.UsageError('--role=actor needs --learner_address=HOST:PORT')
  reconnect_seconds = CLOUD_RECONNECT_SECONDS  # Compose, a VM: restarted by hand
  if first_actor_id >= 0:
    ids = [first_actor_id + k for k in range(actors_per_machine)]
  elif environ.get(actor_ids.JOB_INDEX_ENV, '').strip():
    ids = actor_ids.from_job_index(environ[actor_ids.JOB_INDEX_ENV], actors_per_machine)
    reconnect_seconds = JOB_RECONNECT_SECONDS  # a Kubernetes Job's pod
  else:
    ids = actor_ids.from_ip(ip, actors_per_machine)
  cmds = actor_commands(python, learner_address, ids, args, reconnect_seconds)
  return Plan('actor', tuple(tuple(c) for c in cmds), False, tuple(ids))


FLAGS = flags.FLAGS


def _define_flags():
  flags.DEFINE_enum('role', 'auto', ROLES,
                    'auto: from CLUSTER_SPEC/TF_CONFIG; or force learner/actor/local.')
  flags.DEFINE_integer('actors_per_machine',
                       1,
                       'Actor processes on an actor machine.',
                       lower_bound=1)
  flags.DEFINE_string('learner_address', '', 'HOST:PORT of the learner (--role=actor).')
  flags.DEFINE_integer(
      'first_actor_id', -1, 'With --role=actor: ids first_actor_id+k; -1 derives them from '
      'JOB_COMPLETION_INDEX (Kubernetes Indexed Job), else from this '
      'container\'s IP address (POD_IP or the host name).')


def _parse_flags(argv):
  # known_only: every flag we do not define belongs to the learner/actor binary.
  return FLAGS(argv, known_only=True)


def main(argv):
  try:
    plan = make_plan(
        FLAGS.role,
        passthrough.strip_separator(argv[1:]),
        os.environ,
        python=sys.executable,
        # Resolve only when needed: the learner never uses it.
        ip=(actor_ids.own_ip(os.environ) if FLAGS.role == 'actor' and FLAGS.first_actor_id < 0
            and not os.environ.get(actor_ids.JOB_INDEX_ENV) else ''),
        actors_per_machine=FLAGS.actors_per_machine,
        learner_address=FLAGS.learner_address,
        first_actor_id=FLAGS.first_actor_id)
  except (cluster.ClusterConfigError, passthrough.UsageError) as e:
    logging.error('gcp.entrypoint: %s', e)
    return 2
  if plan.exec_single:
    cmd = list(plan.commands[0])
    logging.info('%s: exec %s', plan.role, cmd)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(cmd[0], cmd)
  logging.info('starting %d actors with ids %s', len(plan.commands), list(plan.actor_ids))
  codes = supervise.run_processes(plan.commands)
  for actor_id, code in zip(plan.actor_ids, codes):
    if code != 0:
      logging.error('actor %d exited with status %d', actor_id, code)
  return supervise.exit_status(codes)


if __name__ == '__main__':
  _define_flags()
  app.run(main, flags_parser=_parse_flags)
