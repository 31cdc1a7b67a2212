"""Role discovery end to end: `python -m gcp.entrypoint` started twice with a
Vertex-style CLUSTER_SPEC naming loopback addresses (one learner, one actor
machine with 2 actors). They find each other and train 2000 frames
with the real learner and actors."""

import csv
import json
import os
import socket
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def _entrypoint(args, task_type, port, log_path):
  spec = {
      'cluster': {
          'workerpool0': [f'127.0.0.1:{port}'],
          'workerpool1': ['127.0.0.1:1']
      },
      'task': {
          'type': task_type,
          'index': 0
      }
  }
  env = {
      k: v
      for k, v in os.environ.items()
      if k not in ('TF_CONFIG', 'SEED_STAC_ARGS', 'SEED_STAC_TOKEN', 'POD_IP')
  }
  # gcp.submit gives both pools a token: the learner binds 0.0.0.0 and
  # refuses to serve it without one.
  env.update(CLUSTER_SPEC=json.dumps(spec),
             TF_CPP_MIN_LOG_LEVEL='3',
             PYTHONPATH=ROOT,
             SEED_STAC_TOKEN='e2e-token')
  log = open(log_path, 'w')
  return subprocess.Popen([sys.executable, '-m', 'gcp.entrypoint'] + args,
                          cwd=ROOT,
                          env=env,
                          stdout=log,
                          stderr=subprocess.STDOUT)


@pytest.mark.slow
def test_learner_and_actor_machine_find_each_other(tmp_path):
  port, logdir = _free_port(), str(tmp_path / 'run')
  learner = _entrypoint([
      '--config=configs/catch.py', f'--logdir={logdir}', '--config.learner.total_frames=2000',
      '--config.learner.batch_size=2', '--config.actor.env_batch_size=2'
  ], 'workerpool0', port, tmp_path / 'learner.log')
  actors = _entrypoint(['--actors_per_machine=2'], 'workerpool1', port, tmp_path / 'actors.log')
  try:
    assert learner.wait(180) == 0, (tmp_path / 'learner.log').read_text()[-2000:]
    assert actors.wait(60) == 0, (tmp_path / 'actors.log').read_text()[-2000:]
  finally:
    for p in (learner, actors):
      if p.poll() is None:
        p.kill()
  with open(os.path.join(logdir, 'progress.csv')) as f:
    rows = list(csv.DictReader(f))
  assert float(rows[-1]['frames']) >= 2000 and float(rows[-1]['learner_steps']) >= 1
  actors_log = (tmp_path / 'actors.log').read_text()
  assert 'Actor 0 finished (training_done)' in actors_log
  assert 'Actor 1 finished (training_done)' in actors_log
