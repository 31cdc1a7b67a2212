"""Tests for gcp.entrypoint: role decision, command lines, actor supervision."""

import ipaddress
import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time

import pytest

from gcp import actor_ids
from gcp import cluster
from gcp import entrypoint as ep
from gcp import passthrough
from gcp import supervise

# conftest.py puts the repository root on sys.path (gcp/ is not installed).
REPO = pathlib.Path(__file__).resolve().parents[2]

PY = '/usr/bin/python3'
RECONNECT = f'--max_reconnect_seconds={ep.CLOUD_RECONNECT_SECONDS}'
# What every actor command gets before the pass-through flags; actors of a
# Vertex AI job or a Kubernetes Job never give up on their learner.
ACTOR_DEFAULTS = ('--exit_with_parent', RECONNECT)
JOB_ACTOR_DEFAULTS = ('--exit_with_parent', f'--max_reconnect_seconds={ep.JOB_RECONNECT_SECONDS}')
# What every cloud learner command gets after the pass-through flags.
IDLE = f'--config.learner.idle_exit_s={ep.CLOUD_IDLE_EXIT_SECONDS}'

# What Vertex AI sets on a 1 learner + 2 actor machine job (extra keys included).
VERTEX_CLUSTER = {
    'workerpool0': ['cmle-training-workerpool0-abc-0:2222'],
    'workerpool1': ['cmle-training-workerpool1-abc-0:2222', 'cmle-training-workerpool1-abc-1:2222'],
}


def cluster_spec(task_type, index, cluster=None):
  return json.dumps({
      'cluster': cluster or VERTEX_CLUSTER,
      'environment': 'cloud',
      'task': {
          'type': task_type,
          'index': index
      },
      'job': '{}'
  })


def tf_config(task_type, index, cluster=None):
  cluster = cluster or {'chief': ['chief-0:2222'], 'worker': ['w-0:2222', 'w-1:2222']}
  return json.dumps({'cluster': cluster, 'task': {'type': task_type, 'index': index}})


def plan(role='auto', args=(), environ=None, **kw):
  kw.setdefault('python', PY)
  kw.setdefault('ip', '10.0.0.2')
  return ep.make_plan(role, list(args), environ or {}, **kw)


class TestParsing:

  def test_cluster_spec_learner(self):
    task = cluster.parse_cluster_spec(cluster_spec('workerpool0', 0))
    assert task == cluster.Task('learner', 0, 'cmle-training-workerpool0-abc-0:2222',
                                'cmle-training-workerpool0-abc-0:2222', 'CLUSTER_SPEC')

  def test_cluster_spec_actor(self):
    task = cluster.parse_cluster_spec(cluster_spec('workerpool1', 1))
    assert task.role == 'actor'
    assert task.index == 1
    assert task.learner_address == 'cmle-training-workerpool0-abc-0:2222'
    assert task.own_address == 'cmle-training-workerpool1-abc-1:2222'

  def test_tf_config_chief_and_worker(self):
    chief = cluster.parse_tf_config(tf_config('chief', 0))
    assert (chief.role, chief.own_address, chief.source) == ('learner', 'chief-0:2222', 'TF_CONFIG')
    worker = cluster.parse_tf_config(tf_config('worker', 1))
    assert (worker.role, worker.index, worker.learner_address) == ('actor', 1, 'chief-0:2222')

  def test_tf_config_legacy_master(self):
    task = cluster.parse_tf_config(tf_config('worker', 0, {'master': ['m:1'], 'worker': ['w:2']}))
    assert task.learner_address == 'm:1'

  def test_cluster_spec_wins_over_tf_config(self):
    env = {'CLUSTER_SPEC': cluster_spec('workerpool1', 0), 'TF_CONFIG': tf_config('chief', 0)}
    assert cluster.parse_cluster_env(env).source == 'CLUSTER_SPEC'

  def test_empty_cluster_spec_falls_back_to_tf_config(self):
    env = {'CLUSTER_SPEC': '  ', 'TF_CONFIG': tf_config('worker', 0)}
    task = cluster.parse_cluster_env(env)
    assert (task.source, task.role) == ('TF_CONFIG', 'actor')

  def test_ipv6_and_host_port(self):
    assert cluster.split_host_port('[::1]:2222') == ('::1', 2222)
    assert cluster.split_host_port('localhost:8686') == ('localhost', 8686)

  @pytest.mark.parametrize('env, message', [
      ({}, r'neither CLUSTER_SPEC \(Vertex AI\) nor TF_CONFIG is set.*--role=learner'),
      ({
          'CLUSTER_SPEC': '{"cluster": '
      }, r'CLUSTER_SPEC is not valid JSON'),
      ({
          'CLUSTER_SPEC': '[1]'
      }, r'CLUSTER_SPEC must be a JSON object, got list'),
      ({
          'CLUSTER_SPEC': '{"task": {"type": "workerpool0"}}'
      }, r'CLUSTER_SPEC has no "cluster"'),
      ({
          'CLUSTER_SPEC': json.dumps({'cluster': VERTEX_CLUSTER})
      }, r'has no "task" object'),
      ({
          'CLUSTER_SPEC': json.dumps({
              'cluster': VERTEX_CLUSTER,
              'task': {
                  'index': 0
              }
          })
      }, r'task.type must be a non-empty string'),
      ({
          'CLUSTER_SPEC':
              json.dumps({
                  'cluster': {
                      'workerpool0': 'h:1'
                  },
                  'task': {
                      'type': 'workerpool0'
                  }
              })
      }, r'cluster.workerpool0 must be a list'),
      ({
          'CLUSTER_SPEC': cluster_spec('workerpool1', -1)
      }, r'task.index must be a non-negative'),
      ({
          'CLUSTER_SPEC': cluster_spec('workerpool1', True)
      }, r'task.index must be a non-negative'),
      ({
          'CLUSTER_SPEC': cluster_spec('workerpool1', '0')
      }, r'task.index must be a non-negative'),
      ({
          'CLUSTER_SPEC': cluster_spec('workerpool1', 2)
      }, r'task.index 2 out of range: cluster.workerpool1 has 2 entries'),
      ({
          'CLUSTER_SPEC': cluster_spec('workerpool3', 0)
      }, r"task.type 'workerpool3' is not in"),
      ({
          'CLUSTER_SPEC': cluster_spec('workerpool2', 0, dict(VERTEX_CLUSTER, workerpool2=['p:1']))
      }, r"'workerpool2' is not supported.*workerpool0 for the learner"),
      ({
          'CLUSTER_SPEC': cluster_spec('workerpool1', 0, {'workerpool1': ['a:1']})
      }, r'cluster.workerpool0 \(the learner\) is missing'),
      ({
          'CLUSTER_SPEC':
              cluster_spec('workerpool1', 0, dict(VERTEX_CLUSTER, workerpool0=['a:1', 'b:1']))
      }, r'workerpool0 must have exactly 1 replica'),
      ({
          'CLUSTER_SPEC': cluster_spec('workerpool0', 0, {'workerpool0': ['nohost']})
      }, r'expected "host:port", got \'nohost\''),
      ({
          'CLUSTER_SPEC': cluster_spec('workerpool0', 0, {'workerpool0': ['h:70000']})
      }, r'port 70000 out of range'),
      ({
          'TF_CONFIG': 'nope'
      }, r'TF_CONFIG is not valid JSON'),
      ({
          'TF_CONFIG': tf_config('evaluator', 0, {
              'chief': ['c:1'],
              'evaluator': ['e:1']
          })
      }, r"TF_CONFIG: task.type 'evaluator' is not supported"),
      ({
          'TF_CONFIG': tf_config('worker', 0, {'worker': ['w:1']})
      }, r"exactly one of \['chief', 'master'\]"),
      ({
          'TF_CONFIG':
              tf_config('worker', 0, {
                  'chief': ['c:1'],
                  'master': ['m:1'],
                  'worker': ['w:1']
              })
      }, r"exactly one of \['chief', 'master'\]"),
  ])
  def test_errors_name_the_problem(self, env, message):
    with pytest.raises(cluster.ClusterConfigError, match=message):
      cluster.parse_cluster_env(env)

  def test_malformed_cluster_spec_does_not_fall_back(self):
    env = {'CLUSTER_SPEC': '{bad', 'TF_CONFIG': tf_config('chief', 0)}
    with pytest.raises(cluster.ClusterConfigError, match='CLUSTER_SPEC'):
      cluster.parse_cluster_env(env)


class TestPlan:

  def test_vertex_learner_binds_port_of_own_entry(self):
    p = plan(args=[
        '--config=configs/atari.py:Pong', '--config.learner.batch_size=32', '--logdir=gs://b/run'
    ],
             environ={'CLUSTER_SPEC': cluster_spec('workerpool0', 0)})
    assert p.role == 'learner' and p.exec_single
    assert p.commands == ((PY, '-m', 'seed_stac.learner', '--port=2222', '--bind_address=0.0.0.0',
                           '--config=configs/atari.py:Pong', '--config.learner.batch_size=32',
                           '--logdir=gs://b/run', IDLE),)

  def test_vertex_actor_machine_ids_and_address(self):
    p = plan(args=['--foo=1'],
             environ={'CLUSTER_SPEC': cluster_spec('workerpool1', 1)},
             actors_per_machine=3)
    assert p.role == 'actor' and not p.exec_single
    assert p.actor_ids == (3, 4, 5)
    assert p.commands == tuple(
        (PY, '-m', 'seed_stac.actor', '--learner_address=cmle-training-workerpool0-abc-0:2222',
         f'--actor_id={i}', *JOB_ACTOR_DEFAULTS, '--foo=1') for i in (3, 4, 5))

  def test_ids_unique_across_machines(self):
    ids = []
    for index in range(2):
      ids += plan(environ={
          'CLUSTER_SPEC': cluster_spec('workerpool1', index)
      },
                  actors_per_machine=4).actor_ids
    assert sorted(ids) == list(range(8))

  def test_tf_config_worker(self):
    p = plan(environ={'TF_CONFIG': tf_config('worker', 1)}, actors_per_machine=2)
    assert p.actor_ids == (2, 3)
    assert p.commands[0][3] == '--learner_address=chief-0:2222'

  def test_loopback_cluster_spec(self):
    spec = json.dumps({
        'cluster': {
            'workerpool0': ['localhost:8686'],
            'workerpool1': ['localhost:8687']
        },
        'task': {
            'type': 'workerpool1',
            'index': 0
        }
    })
    p = plan(environ={'CLUSTER_SPEC': spec})
    assert p.commands == ((PY, '-m', 'seed_stac.actor', '--learner_address=localhost:8686',
                           '--actor_id=0', *JOB_ACTOR_DEFAULTS),)

  @pytest.mark.parametrize('task_type, arg, message', [
      ('workerpool0', '--port=1234', r'do not pass --port'),
      ('workerpool0', '--bind_address=127.0.0.1', r'do not pass --bind_address'),
      ('workerpool1', '--learner_address=x:1', r'do not pass --learner_address'),
      ('workerpool1', '--actor_id=7', r'do not pass --actor_id'),
  ])
  def test_reserved_flags_rejected_in_cluster_mode(self, task_type, arg, message):
    with pytest.raises(passthrough.UsageError, match=message):
      plan(args=[arg], environ={'CLUSTER_SPEC': cluster_spec(task_type, 0)})

  def test_auto_rejects_actor_only_flags(self):
    with pytest.raises(passthrough.UsageError, match='only for --role=actor'):
      plan(environ={'CLUSTER_SPEC': cluster_spec('workerpool1', 0)}, learner_address='h:1')

  def test_explicit_learner_binds_all_interfaces_unless_told(self):
    p = plan('learner', ['--port=9000'])
    assert p.commands[0] == (PY, '-m', 'seed_stac.learner', '--bind_address=0.0.0.0', '--port=9000',
                             IDLE)
    p = plan('learner', ['--bind_address=10.0.0.1'])
    assert p.commands[0] == (PY, '-m', 'seed_stac.learner', '--bind_address=10.0.0.1', IDLE)

  def test_local_role(self):
    p = plan('local', ['--config=configs/cartpole.py', '--num_actors=4'])
    assert p.commands == ((PY, '-m', 'seed_stac.local', '--config=configs/cartpole.py',
                           '--num_actors=4'),) and p.exec_single

  def test_explicit_actor_ids_from_pod_ip(self):
    a = plan('actor', learner_address='learner:8686', ip='10.8.3.17', actors_per_machine=2)
    host = (8 << 16) + (3 << 8) + 17  # low 21 bits of 10.8.3.17 (1 bit for 2 slots)
    assert a.actor_ids == (host * 2, host * 2 + 1)
    assert a.commands[1][4] == f'--actor_id={a.actor_ids[1]}'
    again = plan('actor', learner_address='learner:8686', ip='10.8.3.17', actors_per_machine=2)
    assert a.actor_ids == again.actor_ids  # a restart on the same address keeps them

  def test_ip_ids_unique_within_gke_pod_range(self):
    # Every address of a /14 (GKE's default pod range), with 8 actors per pod.
    ids = set()
    base = int(ipaddress.ip_address('10.8.0.0'))
    for offset in range(0, 2**18, 61):
      ids.update(actor_ids.from_ip(str(ipaddress.ip_address(base + offset)), 8))
    assert len(ids) == 8 * len(range(0, 2**18, 61))
    # ...and every id keeps the int32 env ids of the protocol valid.
    assert max(ids) < 2**actor_ids.ACTOR_ID_BITS
    assert (max(ids) + 1) * actor_ids.MAX_ENV_BATCH_SIZE <= 2**31 - 1

  def test_ipv6_pod_address(self):
    (i,) = actor_ids.from_ip('2600:1900:4000::a:1f', 1)
    assert i == 0xa001f & (2**actor_ids.ACTOR_ID_BITS - 1)

  def test_own_ip(self):
    assert actor_ids.own_ip({'POD_IP': ' 10.0.0.5 '}, resolve=None) == '10.0.0.5'
    assert actor_ids.own_ip({}, resolve=lambda h: '172.18.0.4', hostname='abc') == '172.18.0.4'

    def fail(host):
      raise OSError(f'cannot resolve {host}')

    assert actor_ids.own_ip({}, resolve=fail, hostname='abc') == ''

  def test_explicit_first_actor_id(self):
    p = plan('actor', learner_address='h:1', first_actor_id=10, actors_per_machine=3)
    assert p.actor_ids == (10, 11, 12)

  @pytest.mark.parametrize('kw, args, message', [
      (dict(), [], r'--role=actor needs --learner_address'),
      (dict(learner_address='nohost'), [], r'learner address: expected "host:port"'),
      (dict(learner_address='h:1'), ['--actor_id=3'], r'do not pass --actor_id'),
      (dict(learner_address='h:1', ip=''), [], r"'' is not an IP address.*POD_IP"),
      (dict(learner_address='h:1', ip='pod-7'), [], r"'pod-7' is not an IP address"),
      (dict(learner_address='h:1', ip='127.0.1.1'), [], r'resolves to loopback.*--first_actor_id'),
      (dict(learner_address='h:1', ip='10.0.0.1',
            actors_per_machine=128), [], r'too few address bits'),
      (dict(learner_address='h:1', actors_per_machine=0), [], r'actors_per_machine must be >= 1'),
  ])
  def test_explicit_actor_errors(self, kw, args, message):
    with pytest.raises(passthrough.UsageError, match=message):
      plan('actor', args, **kw)

  def test_unknown_role(self):
    with pytest.raises(passthrough.UsageError, match='--role must be one of'):
      plan('ps')

  def test_env_args_then_command_line(self):
    env = {
        'SEED_STAC_ARGS': "--config=configs/atari.py:Pong '--config.env.name=Space Invaders'",
        'SEED_STAC_TOKEN': 's3cret'
    }
    p = plan('learner', ['--config.learner.batch_size=32'], environ=env)
    assert p.commands[0][4:] == ('--config=configs/atari.py:Pong',
                                 '--config.env.name=Space Invaders',
                                 '--config.learner.batch_size=32', IDLE)
    # The token stays in the inherited environment, out of `ps`.
    assert not any('s3cret' in a for a in p.commands[0])

  def test_broken_env_args(self):
    with pytest.raises(passthrough.UsageError, match='SEED_STAC_ARGS is not valid shell-quoted'):
      plan('learner', environ={'SEED_STAC_ARGS': "--config='unclosed"})

  def test_image_device_reaches_the_learner_after_its_config(self):
    env = {'SEED_STAC_DEVICE': 'gpu', 'SEED_STAC_ARGS': '--config=configs/cartpole.py'}
    p = plan('learner', ['--logdir=/l'], environ=env)
    assert p.commands[0][-4:] == ('--config=configs/cartpole.py', '--logdir=/l',
                                  '--config.learner.device=gpu', IDLE)
    p = plan(environ=dict(env, CLUSTER_SPEC=cluster_spec('workerpool0', 0)))
    assert p.commands[0][-2] == '--config.learner.device=gpu'
    p = plan('local', environ=env)
    assert p.commands[0][-1] == '--config.learner.device=gpu'

  def test_tpu_device_also_selects_the_tpu_strategy(self):
    p = plan('learner', ['--config=c.py'], environ={'SEED_STAC_DEVICE': 'tpu'})
    assert p.commands[0][-3:-1] == ('--config.learner.device=tpu', '--config.learner.strategy=tpu')
    p = plan('learner', ['--config=c.py', '--config.learner.strategy=none'],
             environ={'SEED_STAC_DEVICE': 'tpu'})
    assert p.commands[0][-2] == '--config.learner.device=tpu'

  def test_device_on_the_command_line_wins(self):
    p = plan('learner', ['--config=c.py', '--config.learner.device=cpu'],
             environ={'SEED_STAC_DEVICE': 'gpu'})
    assert not any(a.endswith('=gpu') for a in p.commands[0])
    assert plan('learner', ['--config=c.py'], environ={'SEED_STAC_DEVICE': ''}).commands[0][-2] \
        == '--config=c.py'

  def test_cloud_learners_exit_when_idle_unless_told_otherwise(self):
    assert plan('learner', ['--config=c.py']).commands[0][-1] == IDLE
    mine = plan('learner', ['--config=c.py', '--config.learner.idle_exit_s=0']).commands[0]
    assert mine[-1] == '--config.learner.idle_exit_s=0' and IDLE not in mine
    assert IDLE not in plan('local', ['--config=c.py']).commands[0]

  def test_bad_device(self):
    with pytest.raises(passthrough.UsageError, match=r"SEED_STAC_DEVICE must be one of .*'GPU'"):
      plan('learner', ['--config=c.py'], environ={'SEED_STAC_DEVICE': 'GPU'})

  def test_device_contract_matches_the_learner(self):
    from seed_stac.learner import devices  # pylint: disable=import-outside-toplevel
    assert ep.DEVICES == devices.DEVICES

  def test_vertex_tensorboard_folder(self):
    env = {
        'CLUSTER_SPEC': cluster_spec('workerpool0', 0),
        'AIP_TENSORBOARD_LOG_DIR': 'gs://b/tb/logs'
    }
    assert plan(environ=env).commands[0][-2] == '--tensorboard_dir=gs://b/tb/logs'
    mine = plan(args=['--tensorboard_dir=gs://b/mine'], environ=env).commands[0]
    assert [a for a in mine if a.startswith('--tensorboard_dir')
           ] == ['--tensorboard_dir=gs://b/mine']
    actor_env = dict(env, CLUSTER_SPEC=cluster_spec('workerpool1', 0))
    assert not any('tensorboard' in a for a in plan(environ=actor_env).commands[0])

  def test_actor_reconnect_window_can_be_set(self):
    p = plan('actor', ['--max_reconnect_seconds=60'], learner_address='h:1', first_actor_id=0)
    assert [a for a in p.commands[0] if 'reconnect' in a] == ['--max_reconnect_seconds=60']

  def test_indexed_job_actor_ids(self):
    env = {'JOB_COMPLETION_INDEX': '3'}
    p = plan('actor', environ=env, learner_address='learner:8686', ip='', actors_per_machine=2)
    assert p.actor_ids == (6, 7)
    ids = [
        i for k in range(4) for i in plan('actor',
                                          environ={
                                              'JOB_COMPLETION_INDEX': str(k)
                                          },
                                          ip='',
                                          learner_address='h:1',
                                          actors_per_machine=2).actor_ids
    ]
    assert sorted(ids) == list(range(8))
    # An explicit first id still wins.
    assert plan('actor', environ=env, learner_address='h:1', first_actor_id=40).actor_ids == (40,)
    with pytest.raises(passthrough.UsageError, match="JOB_COMPLETION_INDEX must be a non-negative"):
      plan('actor', environ={'JOB_COMPLETION_INDEX': '-1'}, learner_address='h:1')

  def test_strip_separator(self):
    assert passthrough.strip_separator(['--a', '--', '--v=1', '--']) == ['--a', '--v=1', '--']


class FakeProc:
  """Popen stand-in for the start-failure path."""

  def __init__(self, cmd):
    self.cmd = cmd
    self.killed = False

  def poll(self):
    return None if not self.killed else -9

  def kill(self):
    self.killed = True

  def wait(self):
    return -9 if self.killed else 0


class TestRunProcesses:

  def test_exit_codes_and_status(self):
    codes = supervise.run_processes([[sys.executable, '-c', 'raise SystemExit(0)'],
                                     [sys.executable, '-c', 'raise SystemExit(3)']])
    assert codes == [0, 3]
    assert supervise.exit_status(codes) == 1
    assert supervise.exit_status([0, 0]) == 0

  def test_start_failure_kills_started_processes(self):
    started = []

    def popen(cmd):
      if cmd[0] == 'boom':
        raise OSError('no such binary')
      started.append(FakeProc(cmd))
      return started[-1]

    with pytest.raises(OSError):
      supervise.run_processes([['ok'], ['boom']], popen=popen)
    assert len(started) == 1 and started[0].killed

  def test_sigterm_is_forwarded_to_children(self, tmp_path):
    child = ('import signal, sys, time, pathlib\n'
             'signal.signal(signal.SIGTERM, lambda *a: sys.exit(7))\n'
             'pathlib.Path(sys.argv[1]).touch()\n'
             'time.sleep(60)\n')
    ready = [tmp_path / 'a', tmp_path / 'b']

    def send_sigterm_when_ready():
      deadline = time.time() + 30
      while not all(r.exists() for r in ready) and time.time() < deadline:
        time.sleep(0.05)
      os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    threading.Thread(target=send_sigterm_when_ready, daemon=True).start()
    start = time.time()
    codes = supervise.run_processes([[sys.executable, '-c', child, str(r)] for r in ready])
    assert codes == [7, 7]
    assert time.time() - start < 30
    assert signal.getsignal(signal.SIGTERM) is before  # handler restored


FAKE_BINARY = '''
import json, os, sys
role = sys.argv[0]
out = os.environ['FAKE_OUT']
with open(os.path.join(out, os.path.basename(role) + '-' + str(os.getpid())), 'w') as f:
  json.dump(sys.argv[1:], f)
if os.environ.get('FAKE_EXPECT_TOKEN', '') != os.environ.get('SEED_STAC_TOKEN', ''):
  sys.exit(9)
fail_id = os.environ.get('FAKE_FAIL_ACTOR_ID')
if fail_id and '--actor_id=' + fail_id in sys.argv:
  sys.exit(4)
sys.exit(int(os.environ.get('FAKE_EXIT', '0')))
'''


class TestMain:
  """`python -m gcp.entrypoint` against fake seed_stac binaries in a temp dir.

  The child runs with cwd = tmp, so `python -m seed_stac.actor` finds the fake
  package there before anything installed; gcp comes from PYTHONPATH.
  """

  @pytest.fixture
  def run(self, tmp_path):
    pkg = tmp_path / 'work' / 'seed_stac'
    pkg.mkdir(parents=True)
    (pkg / '__init__.py').write_text('')
    for name in ('learner', 'actor', 'local'):
      (pkg / f'{name}.py').write_text(FAKE_BINARY)
    # The real command builder, which the entrypoint imports.
    (pkg / 'commands.py').write_text((REPO / 'seed_stac' / 'commands.py').read_text())
    out = tmp_path / 'out'
    out.mkdir()

    def run(args, **env):
      environ = {
          k: v
          for k, v in os.environ.items()
          if k not in ('CLUSTER_SPEC', 'TF_CONFIG', 'SEED_STAC_ARGS', 'SEED_STAC_TOKEN', 'POD_IP')
      }
      environ.update(PYTHONPATH=str(REPO), FAKE_OUT=str(out), **env)
      proc = subprocess.run([sys.executable, '-m', 'gcp.entrypoint'] + args,
                            cwd=tmp_path / 'work',
                            env=environ,
                            capture_output=True,
                            text=True,
                            timeout=120)
      calls = {}
      for f in sorted(out.iterdir()):
        calls.setdefault(f.name.split('-')[0], []).append(json.loads(f.read_text()))
        f.unlink()
      return proc, calls

    return run

  def test_actor_machine_runs_all_actors(self, run):
    spec = json.dumps({
        'cluster': {
            'workerpool0': ['localhost:8686'],
            'workerpool1': ['localhost:1', 'localhost:2']
        },
        'task': {
            'type': 'workerpool1',
            'index': 1
        }
    })
    proc, calls = run(['--actors_per_machine=2', '--', '--v=1'],
                      CLUSTER_SPEC=spec,
                      SEED_STAC_TOKEN='t0k',
                      FAKE_EXPECT_TOKEN='t0k')
    assert proc.returncode == 0, proc.stderr
    assert sorted(calls['actor.py']) == [[
        '--learner_address=localhost:8686', '--actor_id=2', *JOB_ACTOR_DEFAULTS, '--v=1'
    ], ['--learner_address=localhost:8686', '--actor_id=3', *JOB_ACTOR_DEFAULTS, '--v=1']]

  def test_actor_machine_fails_if_one_actor_fails(self, run):
    spec = json.dumps({
        'cluster': {
            'workerpool0': ['localhost:8686'],
            'workerpool1': ['localhost:1']
        },
        'task': {
            'type': 'workerpool1',
            'index': 0
        }
    })
    proc, calls = run(['--actors_per_machine=3'], CLUSTER_SPEC=spec, FAKE_FAIL_ACTOR_ID='1')
    assert proc.returncode == 1
    assert len(calls['actor.py']) == 3  # the others still ran
    assert 'actor 1 exited with status 4' in proc.stderr

  def test_learner_is_execed_with_cluster_port(self, run):
    spec = json.dumps({
        'cluster': {
            'workerpool0': ['localhost:2222']
        },
        'task': {
            'type': 'workerpool0',
            'index': 0
        }
    })
    proc, calls = run(['--config=configs/cartpole.py'], CLUSTER_SPEC=spec, FAKE_EXIT='5')
    assert proc.returncode == 5  # the learner's own status: it replaced the entrypoint
    assert calls['learner.py'] == [[
        '--port=2222', '--bind_address=0.0.0.0', '--config=configs/cartpole.py', IDLE
    ]]

  def test_explicit_actor_role_uses_pod_ip(self, run):
    proc, calls = run(
        ['--role=actor', '--learner_address=seed-stac-learner:8686', '--actors_per_machine=2'],
        POD_IP='10.4.0.3')
    assert proc.returncode == 0, proc.stderr
    host = (4 << 16) + 3  # low 21 bits of 10.4.0.3
    assert sorted(calls['actor.py']) == [[
        '--learner_address=seed-stac-learner:8686', f'--actor_id={2 * host}', *ACTOR_DEFAULTS
    ], ['--learner_address=seed-stac-learner:8686', f'--actor_id={2 * host + 1}', *ACTOR_DEFAULTS]]

  def test_indexed_job_actor_needs_no_address(self, run):
    proc, calls = run(['--role=actor', '--learner_address=seed-stac-learner:8686'],
                      JOB_COMPLETION_INDEX='5')
    assert proc.returncode == 0, proc.stderr
    assert calls['actor.py'] == [[
        '--learner_address=seed-stac-learner:8686', '--actor_id=5', *JOB_ACTOR_DEFAULTS
    ]]

  def test_no_cluster_env_is_a_clear_error(self, run):
    proc, calls = run(['--config=configs/cartpole.py'])
    assert proc.returncode == 2
    assert 'neither CLUSTER_SPEC (Vertex AI) nor TF_CONFIG is set' in proc.stderr
    assert not calls

  def test_malformed_tf_config(self, run):
    proc, _ = run([], TF_CONFIG='{"cluster": {}}')
    assert proc.returncode == 2
    assert 'TF_CONFIG has no "cluster" object' in proc.stderr
