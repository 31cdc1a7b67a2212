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
`--config.learner.distribution=tpu`) of the learner or local run, so a cloud
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
import ipaddress
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
from typing import Callable, List, Mapping, Optional, Sequence, Tuple

from absl import app
from absl import flags
from absl import logging

from seed_stac.commands import actor_command

LEARNER_MODULE = 'seed_stac.learner'
LOCAL_MODULE = 'seed_stac.local'
DEFAULT_PORT = 8686
ARGS_ENV = 'SEED_STAC_ARGS'
# Address-derived actor ids are < 2**ACTOR_ID_BITS. The protocol's env ids are
# int32 actor_id * env_batch_size + i, so this keeps them valid for
# env_batch_size <= MAX_ENV_BATCH_SIZE.
ACTOR_ID_BITS = 22
MAX_ENV_BATCH_SIZE = (2**31 - 1) // 2**ACTOR_ID_BITS  # 511
ROLES = ('auto', 'learner', 'actor', 'local')
DEVICE_ENV = 'SEED_STAC_DEVICE'
DEVICES = ('auto', 'cpu', 'gpu', 'tpu')  # seed_stac.learner.devices.DEVICES
TENSORBOARD_ENV = 'AIP_TENSORBOARD_LOG_DIR'
JOB_INDEX_ENV = 'JOB_COMPLETION_INDEX'
# A cloud learner can take minutes to come back (preemption, a restarted
# Job pod, a resumed checkpoint); the actor binary's own default is 5 minutes.
CLOUD_RECONNECT_SECONDS = 1800

# Vertex AI CLUSTER_SPEC pool names and the TF_CONFIG task types it maps them to.
LEARNER_POOL = 'workerpool0'
ACTOR_POOL = 'workerpool1'
LEARNER_TF_TYPES = ('chief', 'master')  # 'master' is the legacy AI Platform name.
ACTOR_TF_TYPE = 'worker'


class ClusterConfigError(ValueError):
  """CLUSTER_SPEC / TF_CONFIG is missing or does not describe a learner/actor."""


class UsageError(ValueError):
  """Flags passed to the entrypoint contradict what it derives itself."""


@dataclasses.dataclass(frozen=True)
class Task:
  """This machine's place in the job.

  role: 'learner' or 'actor'.
  index: task index within its pool (replica number).
  learner_address: 'host:port' of the learner, as actors must dial it.
  own_address: this task's own 'host:port' entry in the cluster.
  source: which environment variable it came from, for messages.
  """
  role: str
  index: int
  learner_address: str
  own_address: str
  source: str


@dataclasses.dataclass(frozen=True)
class Plan:
  """What to run. `exec_single` means replace this process by commands[0]."""
  role: str
  commands: Tuple[Tuple[str, ...], ...]
  exec_single: bool
  actor_ids: Tuple[int, ...] = ()


def split_host_port(address: str, what: str = 'address') -> Tuple[str, int]:
  """'host:port' or '[v6]:port' -> (host, port), with a clear error otherwise."""
  if not isinstance(address, str):
    raise ClusterConfigError(f'{what}: expected a "host:port" string, got {address!r}')
  host, sep, port = address.rpartition(':')
  if not sep or not host or not port.isdigit():
    raise ClusterConfigError(f'{what}: expected "host:port", got {address!r}')
  port_num = int(port)
  if not 0 < port_num < 65536:
    raise ClusterConfigError(f'{what}: port {port_num} out of range in {address!r}')
  if host.startswith('[') and host.endswith(']'):
    host = host[1:-1]
  return host, port_num


def _load_json_object(text: str, source: str) -> dict:
  try:
    value = json.loads(text)
  except json.JSONDecodeError as e:
    raise ClusterConfigError(f'{source} is not valid JSON ({e}): {text[:200]!r}') from e
  if not isinstance(value, dict):
    raise ClusterConfigError(f'{source} must be a JSON object, got {type(value).__name__}')
  return value


def _cluster_and_task(spec: dict, source: str) -> Tuple[dict, str, int]:
  """Validates the shared {"cluster": {...}, "task": {"type", "index"}} shape."""
  cluster = spec.get('cluster')
  if not isinstance(cluster, dict) or not cluster:
    raise ClusterConfigError(f'{source} has no "cluster" object mapping pool names to addresses')
  for name, addresses in cluster.items():
    if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
      raise ClusterConfigError(
          f'{source}: cluster.{name} must be a list of "host:port" strings, got {addresses!r}')
  task = spec.get('task')
  if not isinstance(task, dict):
    raise ClusterConfigError(f'{source} has no "task" object with "type" and "index"')
  task_type = task.get('type')
  if not isinstance(task_type, str) or not task_type:
    raise ClusterConfigError(f'{source}: task.type must be a non-empty string, got {task_type!r}')
  index = task.get('index', 0)
  # bool is an int subclass; a JSON true is a typo, not index 1.
  if isinstance(index, bool) or not isinstance(index, int) or index < 0:
    raise ClusterConfigError(f'{source}: task.index must be a non-negative integer, got {index!r}')
  if task_type not in cluster:
    raise ClusterConfigError(
        f'{source}: task.type {task_type!r} is not in cluster (has {sorted(cluster)})')
  if index >= len(cluster[task_type]):
    raise ClusterConfigError(
        f'{source}: task.index {index} out of range: cluster.{task_type} has '
        f'{len(cluster[task_type])} entries')
  return cluster, task_type, index


def _learner_address(cluster: dict, pool: str, source: str) -> str:
  addresses = cluster.get(pool)
  if not addresses:
    raise ClusterConfigError(f'{source}: cluster.{pool} (the learner) is missing or empty')
  if len(addresses) != 1:
    raise ClusterConfigError(
        f'{source}: cluster.{pool} must have exactly 1 replica (the learner), got '
        f'{len(addresses)}: {addresses}')
  split_host_port(addresses[0], f'{source} cluster.{pool}[0]')
  return addresses[0]


def parse_cluster_spec(text: str) -> Task:
  """Parses Vertex AI's CLUSTER_SPEC: workerpool0 = learner, workerpool1 = actors."""
  source = 'CLUSTER_SPEC'
  cluster, task_type, index = _cluster_and_task(_load_json_object(text, source), source)
  if task_type == LEARNER_POOL:
    role = 'learner'
  elif task_type == ACTOR_POOL:
    role = 'actor'
  else:
    raise ClusterConfigError(
        f'{source}: task.type {task_type!r} is not supported; seed_stac uses '
        f'{LEARNER_POOL} for the learner and {ACTOR_POOL} for actor machines')
  learner_address = _learner_address(cluster, LEARNER_POOL, source)
  own = cluster[task_type][index]
  split_host_port(own, f'{source} cluster.{task_type}[{index}]')
  return Task(role, index, learner_address, own, source)


def parse_tf_config(text: str) -> Task:
  """Parses TF_CONFIG: chief (or master) = learner, worker = actors."""
  source = 'TF_CONFIG'
  cluster, task_type, index = _cluster_and_task(_load_json_object(text, source), source)
  learner_pools = [t for t in LEARNER_TF_TYPES if t in cluster]
  if len(learner_pools) != 1:
    raise ClusterConfigError(
        f'{source}: cluster must have exactly one of {list(LEARNER_TF_TYPES)} (the '
        f'learner), got {sorted(cluster)}')
  if task_type in LEARNER_TF_TYPES:
    role = 'learner'
  elif task_type == ACTOR_TF_TYPE:
    role = 'actor'
  else:
    raise ClusterConfigError(
        f'{source}: task.type {task_type!r} is not supported; seed_stac uses '
        f'"chief" for the learner and "{ACTOR_TF_TYPE}" for actor machines')
  learner_address = _learner_address(cluster, learner_pools[0], source)
  own = cluster[task_type][index]
  split_host_port(own, f'{source} cluster.{task_type}[{index}]')
  return Task(role, index, learner_address, own, source)


def parse_cluster_env(environ: Mapping[str, str]) -> Task:
  """Reads CLUSTER_SPEC, falling back to TF_CONFIG. Empty values count as unset.

  A malformed CLUSTER_SPEC is an error, not a reason to try TF_CONFIG: falling
  back would silently pick a different role layout.
  """
  spec = environ.get('CLUSTER_SPEC', '').strip()
  if spec:
    return parse_cluster_spec(spec)
  tf_config = environ.get('TF_CONFIG', '').strip()
  if tf_config:
    return parse_tf_config(tf_config)
  raise ClusterConfigError(
      'neither CLUSTER_SPEC (Vertex AI) nor TF_CONFIG is set, so the role of this '
      'machine is unknown; outside Vertex AI pass --role=learner or --role=actor')


def flag_name(arg: str) -> Optional[str]:
  """'--port=1' / '-port' / '--port' -> 'port'; positional args -> None."""
  if not arg.startswith('-') or arg in ('-', '--'):
    return None
  return arg.lstrip('-').split('=', 1)[0]


def has_flag(args: Sequence[str], name: str) -> bool:
  return any(flag_name(a) == name for a in args)


def check_reserved(args: Sequence[str], reserved: Sequence[str], why: str) -> None:
  """Rejects pass-through flags the entrypoint sets itself (they would conflict)."""
  clash = sorted({flag_name(a) for a in args} & set(reserved))
  if clash:
    raise UsageError(
        f'do not pass {", ".join("--" + c for c in clash)}: {why}')


def strip_separator(args: Sequence[str]) -> List[str]:
  """Drops the first '--', which only shields flags from this entrypoint's parser.

  Kept, it would make the child's absl parser treat the flags after it as
  positional arguments.
  """
  args = list(args)
  if '--' in args:
    args.remove('--')
  return args


def env_args(environ: Mapping[str, str]) -> List[str]:
  """Shell-splits SEED_STAC_ARGS; a broken value is an error, not dropped args."""
  text = environ.get(ARGS_ENV, '')
  try:
    return shlex.split(text)
  except ValueError as e:
    raise UsageError(f'{ARGS_ENV} is not valid shell-quoted arguments ({e}): {text!r}') from e


def actor_ids_for_task(task_index: int, actors_per_machine: int) -> List[int]:
  """Ids for the actors on one Vertex machine: unique across the actor pool."""
  return [task_index * actors_per_machine + k for k in range(actors_per_machine)]


def actor_ids_from_ip(ip: str, count: int, id_bits: int = ACTOR_ID_BITS) -> List[int]:
  """Ids for `count` actors on a container/pod with address `ip`, no ordinal needed.

  Running pods of one cluster (containers of one Compose network) have
  distinct addresses in one subnet, so the address's low bits are distinct
  too while the subnet has at most 2**(id_bits - slot_bits) addresses
  (slot_bits = bits for `count`): a /10 for one actor per pod, a /13 for 8;
  GKE's default pod range is a /14, Compose networks are /16 or smaller. A
  restarted pod that gets a dead pod's address reuses its ids, which the
  learner sees as that actor reconnecting. The ids of one pod are consecutive.
  """
  if count < 1:
    raise UsageError(f'actors per machine must be >= 1, got {count}')
  try:
    addr = ipaddress.ip_address(ip.strip())
  except ValueError as e:
    raise UsageError(
        f'cannot derive actor ids: {ip!r} is not an IP address (set POD_IP or pass '
        '--first_actor_id)') from e
  if addr.is_loopback or addr.is_unspecified:
    raise UsageError(
        f'cannot derive actor ids from {addr}: this host name resolves to loopback, '
        'so this is not a container with its own address; pass --first_actor_id')
  slot_bits = (count - 1).bit_length()
  host_bits = id_bits - slot_bits
  if host_bits < 16:
    raise UsageError(f'{count} actors per machine leave too few address bits for '
                     'unique ids; use fewer, or --first_actor_id')
  host = int(addr) & ((1 << host_bits) - 1)
  return [(host << slot_bits) + k for k in range(count)]


def own_ip(environ: Mapping[str, str], resolve: Callable[[str], str] = socket.gethostbyname,
           hostname: Optional[str] = None) -> str:
  """POD_IP (Kubernetes downward API), else the host name resolved; '' if neither."""
  if environ.get('POD_IP', '').strip():
    return environ['POD_IP'].strip()
  try:
    return resolve(hostname if hostname is not None else socket.gethostname())
  except OSError:
    return ''


def device_args(environ: Mapping[str, str], args: Sequence[str]) -> List[str]:
  """Config overrides from SEED_STAC_DEVICE, unless `args` set the device."""
  device = environ.get(DEVICE_ENV, '').strip()
  if not device or has_flag(args, 'config.learner.device'):
    return []
  if device not in DEVICES:
    raise UsageError(f'{DEVICE_ENV} must be one of {DEVICES}, got {device!r}')
  extra = [f'--config.learner.device={device}']
  if device == 'tpu' and not has_flag(args, 'config.learner.distribution'):
    extra.append('--config.learner.distribution=tpu')
  return extra


def tensorboard_args(environ: Mapping[str, str], args: Sequence[str]) -> List[str]:
  """--tensorboard_dir from Vertex AI's AIP_TENSORBOARD_LOG_DIR, unless given."""
  folder = environ.get(TENSORBOARD_ENV, '').strip()
  if not folder or has_flag(args, 'tensorboard_dir'):
    return []
  return [f'--tensorboard_dir={folder}']


def actor_ids_from_job_index(text: str, count: int) -> List[int]:
  """Ids for the actors of one pod of a Kubernetes Indexed Job."""
  if not text.strip().isdigit():
    raise UsageError(f'{JOB_INDEX_ENV} must be a non-negative integer, got {text!r}')
  return actor_ids_for_task(int(text), count)


def learner_command(python: str, args: Sequence[str], port: Optional[int] = None) -> List[str]:
  """Learner command line; `port` given means it comes from the cluster spec."""
  cmd = [python, '-m', LEARNER_MODULE]
  if port is not None:
    check_reserved(args, ('port', 'bind_address'),
                   'the learner binds 0.0.0.0 on the port of its cluster entry')
    cmd += [f'--port={port}', '--bind_address=0.0.0.0']
  elif not has_flag(args, 'bind_address'):
    # Containers are reached through their network interface, never loopback.
    cmd.append('--bind_address=0.0.0.0')
  return cmd + list(args)


def actor_commands(python: str, learner_address: str, actor_ids: Sequence[int],
                   args: Sequence[str]) -> List[List[str]]:
  """One actor command line per id, all dialing `learner_address`."""
  try:
    split_host_port(learner_address, 'learner address')
  except ClusterConfigError as e:
    raise UsageError(str(e)) from e
  check_reserved(args, ('learner_address', 'actor_id'),
                 'the entrypoint sets them per actor process')
  if len(set(actor_ids)) != len(actor_ids):
    raise UsageError(f'actor ids must be unique, got {list(actor_ids)}')
  if not has_flag(args, 'max_reconnect_seconds'):
    args = [f'--max_reconnect_seconds={CLOUD_RECONNECT_SECONDS}'] + list(args)
  if not has_flag(args, 'exit_with_parent'):
    # Actors end with this process, however it dies (they watch their parent).
    args = ['--exit_with_parent'] + list(args)
  return [actor_command(learner_address, i, args, python) for i in actor_ids]


def make_plan(role: str, args: Sequence[str], environ: Mapping[str, str], *,
              python: str, ip: str = '', actors_per_machine: int = 1,
              learner_address: str = '', first_actor_id: int = -1) -> Plan:
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
    ClusterConfigError, UsageError: with a message naming the problem.
  """
  if role not in ROLES:
    raise UsageError(f'--role must be one of {ROLES}, got {role!r}')
  if actors_per_machine < 1:
    raise UsageError(f'--actors_per_machine must be >= 1, got {actors_per_machine}')
  args = env_args(environ) + list(args)
  # Appended: config overrides only parse after the --config flag they refine.
  learner_args = args + device_args(environ, args) + tensorboard_args(environ, args)
  if role == 'auto':
    if learner_address or first_actor_id >= 0:
      raise UsageError('--learner_address and --first_actor_id are only for --role=actor; '
                       'with --role=auto they come from CLUSTER_SPEC/TF_CONFIG')
    task = parse_cluster_env(environ)
    if task.role == 'learner':
      _, port = split_host_port(task.own_address, f'{task.source} learner entry')
      return Plan('learner', (tuple(learner_command(python, learner_args, port)),), True)
    ids = actor_ids_for_task(task.index, actors_per_machine)
    cmds = actor_commands(python, task.learner_address, ids, args)
    return Plan('actor', tuple(tuple(c) for c in cmds), False, tuple(ids))
  if role == 'learner':
    return Plan('learner', (tuple(learner_command(python, learner_args)),), True)
  if role == 'local':
    return Plan('local', ((python, '-m', LOCAL_MODULE, *args, *device_args(environ, args)),),
                True)
  if not learner_address:
    raise UsageError('--role=actor needs --learner_address=HOST:PORT')
  if first_actor_id >= 0:
    ids = [first_actor_id + k for k in range(actors_per_machine)]
  elif environ.get(JOB_INDEX_ENV, '').strip():
    ids = actor_ids_from_job_index(environ[JOB_INDEX_ENV], actors_per_machine)
  else:
    ids = actor_ids_from_ip(ip, actors_per_machine)
  cmds = actor_commands(python, learner_address, ids, args)
  return Plan('actor', tuple(tuple(c) for c in cmds), False, tuple(ids))


def run_processes(commands: Sequence[Sequence[str]],
                  popen: Callable[..., subprocess.Popen] = subprocess.Popen,
                  forward_signals: Sequence[int] = (signal.SIGTERM, signal.SIGINT)
                  ) -> List[int]:
  """Starts all commands, forwards signals to them, returns their exit codes.

  A failed actor does not stop the others: actors are independent and the
  learner keeps training with fewer of them. Must run in the main thread
  (signal handlers).
  """
  procs = []

  def forward(signum, unused_frame):
    for p in procs:
      if p.poll() is None:
        p.send_signal(signum)

  previous = {s: signal.signal(s, forward) for s in forward_signals}
  try:
    try:
      for cmd in commands:
        procs.append(popen(list(cmd)))
    except BaseException:
      # Do not leave half a machine of actors running with nobody waiting.
      for p in procs:
        p.kill()
        p.wait()
      raise
    return [p.wait() for p in procs]
  finally:
    for s, handler in previous.items():
      signal.signal(s, handler)


def exit_status(codes: Sequence[int]) -> int:
  """0 if every process exited 0, else 1."""
  return 0 if all(c == 0 for c in codes) else 1


FLAGS = flags.FLAGS


def _define_flags():
  flags.DEFINE_enum('role', 'auto', ROLES,
                    'auto: from CLUSTER_SPEC/TF_CONFIG; or force learner/actor/local.')
  flags.DEFINE_integer('actors_per_machine', 1, 'Actor processes on an actor machine.',
                       lower_bound=1)
  flags.DEFINE_string('learner_address', '', 'HOST:PORT of the learner (--role=actor).')
  flags.DEFINE_integer('first_actor_id', -1,
                       'With --role=actor: ids first_actor_id+k; -1 derives them from '
                       'JOB_COMPLETION_INDEX (Kubernetes Indexed Job), else from this '
                       'container\'s IP address (POD_IP or the host name).')


def _parse_flags(argv):
  # known_only: every flag we do not define belongs to the learner/actor binary.
  return FLAGS(argv, known_only=True)


def main(argv):
  try:
    plan = make_plan(FLAGS.role, strip_separator(argv[1:]), os.environ,
                     python=sys.executable,
                     # Resolve only when needed: the learner never uses it.
                     ip=(own_ip(os.environ) if FLAGS.role == 'actor' and
                         FLAGS.first_actor_id < 0 and not os.environ.get(JOB_INDEX_ENV)
                         else ''),
                     actors_per_machine=FLAGS.actors_per_machine,
                     learner_address=FLAGS.learner_address,
                     first_actor_id=FLAGS.first_actor_id)
  except (ClusterConfigError, UsageError) as e:
    logging.error('gcp.entrypoint: %s', e)
    return 2
  if plan.exec_single:
    cmd = list(plan.commands[0])
    logging.info('%s: exec %s', plan.role, cmd)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(cmd[0], cmd)
  logging.info('starting %d actors with ids %s', len(plan.commands), list(plan.actor_ids))
  codes = run_processes(plan.commands)
  for actor_id, code in zip(plan.actor_ids, codes):
    if code != 0:
      logging.error('actor %d exited with status %d', actor_id, code)
  return exit_status(codes)


if __name__ == '__main__':
  _define_flags()
  app.run(main, flags_parser=_parse_flags)
