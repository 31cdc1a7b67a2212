"""Where this machine sits in a Vertex AI / TF_CONFIG job: CLUSTER_SPEC and
TF_CONFIG parsing for gcp.entrypoint (pure functions; errors name the field)."""

import dataclasses
import json
from typing import Mapping, Tuple

# Vertex AI CLUSTER_SPEC pool names and the TF_CONFIG task types it maps them to.
LEARNER_POOL = 'workerpool0'
ACTOR_POOL = 'workerpool1'
LEARNER_TF_TYPES = ('chief', 'master')  # 'master' is the legacy AI Platform name.
ACTOR_TF_TYPE = 'worker'


class ClusterConfigError(ValueError):
  """CLUSTER_SPEC / TF_CONFIG is missing or does not describe a learner/actor."""


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
    raise ClusterConfigError(f'{source}: task.index {index} out of range: cluster.{task_type} has '
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
    raise ClusterConfigError(f'{source}: task.type {task_type!r} is not supported; seed_stac uses '
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
    raise ClusterConfigError(f'{source}: task.type {task_type!r} is not supported; seed_stac uses '
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
