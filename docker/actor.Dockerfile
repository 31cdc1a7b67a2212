# syntax=docker/dockerfile:1
# seed_stac actor image: CPU only, no CUDA. Build from the repository root:
#
#   docker build -f docker/actor.Dockerfile -t seed-stac-actor .
#
# Needs BuildKit (bind mounts, docker/actor.Dockerfile.dockerignore).
# Installs like the learner images (docker/install.sh deps, then package), from
# requirements-actor.txt: environments, gRPC and numpy, no TensorFlow (actors
# never import it; tests/cloud checks both).
#
# Bookworm, not the moving python:3.11-slim tag: the EGL/Mesa packages below
# were checked to render DM Control pixels headless with Mesa 22.3 (llvmpipe).

FROM python:3.11-slim-bookworm

# MuJoCo/DM Control pixels render through EGL; on machines without a GPU, Mesa
# provides a software EGL device (libegl-mesa0 + libgl1-mesa-dri = llvmpipe).
# Not version-pinned: Debian stable only ships security fixes, and exact pins
# break the build whenever one lands.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri libglvnd0 \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MUJOCO_GL=egl \
    PYOPENGL_PLATFORM=egl \
    CUDA_VISIBLE_DEVICES=""

# The requirement set of this image (docker/install.sh reads it in both steps).
ARG REQUIREMENTS=requirements-actor.txt
COPY requirements*.txt /tmp/seed_stac/
RUN --mount=type=bind,source=docker/install.sh,target=/tmp/install.sh \
    sh /tmp/install.sh deps /tmp/seed_stac

RUN --mount=type=bind,target=/tmp/seed_stac,rw \
    sh /tmp/seed_stac/docker/install.sh package /tmp/seed_stac

# Fail the build, not the first run: DM Control renders pixels here, and
# TensorFlow is not importable.
RUN --mount=type=bind,source=docker/smoke_check.py,target=/tmp/smoke_check.py \
    python3 /tmp/smoke_check.py actor

WORKDIR /app
COPY configs/ /app/configs/
COPY gcp/ /app/gcp/

# Actors need no devices or shared files: run unprivileged. Numeric USER so
# Kubernetes runAsNonRoot can verify it.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin seed
USER 10001

ENTRYPOINT ["python3", "-m", "gcp.entrypoint"]
CMD ["--role=actor", "--learner_address=learner:8686"]
