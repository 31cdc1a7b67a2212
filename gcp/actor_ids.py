"""Actor ids for the actors of one machine: from the Vertex task index, a
Kubernetes Indexed Job's completion index, or this container's IP address."""

import ipaddress
import socket
from typing import Callable, List, Mapping, Optional

from gcp.passthrough import UsageError

JOB_INDEX_ENV = 'JOB_COMPLETION_INDEX'
# Address-derived actor ids are < 2**ACTOR_ID_BITS. The protocol's env ids are
# int32 actor_id * env_batch_size + i, so this keeps them valid for
# env_batch_size <= MAX_ENV_BATCH_SIZE.
ACTOR_ID_BITS = 22
MAX_ENV_BATCH_SIZE = (2**31 - 1) // 2**ACTOR_ID_BITS  # 511


def for_task(task_index: int, actors_per_machine: int) -> List[int]:
  """Ids for the actors on one Vertex machine: unique across the actor pool."""
  return [task_index * actors_per_machine + k for k in range(actors_per_machine)]


def from_ip(ip: str, count: int, id_bits: int = ACTOR_ID_BITS) -> List[int]:
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
    raise UsageError(f'cannot derive actor ids: {ip!r} is not an IP address (set POD_IP or pass '
                     '--first_actor_id)') from e
  if addr.is_loopback or addr.is_unspecified:
    raise UsageError(f'cannot derive actor ids from {addr}: this host name resolves to loopback, '
                     'so this is not a container with its own address; pass --first_actor_id')
  slot_bits = (count - 1).bit_length()
  host_bits = id_bits - slot_bits
  if host_bits < 16:
    raise UsageError(f'{count} actors per machine leave too few address bits for '
                     'unique ids; use fewer, or --first_actor_id')
  host = int(addr) & ((1 << host_bits) - 1)
  return [(host << slot_bits) + k for k in range(count)]


def own_ip(environ: Mapping[str, str],
           resolve: Callable[[str], str] = socket.gethostbyname,
           hostname: Optional[str] = None) -> str:
  """POD_IP (Kubernetes downward API), else the host name resolved; '' if neither."""
  if environ.get('POD_IP', '').strip():
    return environ['POD_IP'].strip()
  try:
    return resolve(hostname if hostname is not None else socket.gethostname())
  except OSError:
    return ''


def from_job_index(text: str, count: int) -> List[int]:
  """Ids for the actors of one pod of a Kubernetes Indexed Job."""
  if not text.strip().isdigit():
    raise UsageError(f'{JOB_INDEX_ENV} must be a non-negative integer, got {text!r}')
  return for_task(int(text), count)
