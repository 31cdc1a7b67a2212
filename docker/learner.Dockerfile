# syntax=docker/dockerfile:1
# seed_stac learner image for NVIDIA GPUs. Build from the repository root:
#
#   docker build -f docker/learner.Dockerfile -t seed-stac-learner .
#
# Needs BuildKit (default since Docker 23; on Cloud Build set DOCKER_BUILDKIT=1)
# for the bind mount below and for docker/learner.Dockerfile.dockerignore.
# Cloud TPU learners use docker/learner-tpu.Dockerfile.
#
# CUDA and cuDNN come from the wheels TensorFlow declares for its [and-cuda]
# extra (requirements-gpu.txt: cuDNN >= 9.3 for TF 2.21), not from the base
# image: the tensorflow/tensorflow:*-gpu images ship cuDNN 8.9, with which TF
# 2.21 skips GPU registration and trains on the CPU without failing. The
# driver (libcuda) comes from the host: the NVIDIA container toolkit mounts it
# (NVIDIA_* below), GKE mounts it under /usr/local/nvidia (LD_LIBRARY_PATH).
#
# Runs as root: GPU device nodes are set up for root.

FROM python:3.11-slim-bookworm

# The learner builds one environment in a child process to read its spec, and
# DM Control renders once there: it needs the same EGL/Mesa libraries as the
# actor image (software rendering, no GPU involved).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri libglvnd0 \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MUJOCO_GL=egl \
    PYOPENGL_PLATFORM=egl \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    LD_LIBRARY_PATH=/usr/local/nvidia/lib64:/usr/local/nvidia/lib \
    PATH=/usr/local/lib/python3.11/site-packages/nvidia/cuda_nvcc/bin:$PATH

# Dependencies first: this layer is rebuilt only when a requirement file changes.
# The requirement set of this image (docker/install.sh reads it in both steps).
ARG REQUIREMENTS=requirements-gpu.txt
COPY requirements*.txt /tmp/seed_stac/
RUN --mount=type=bind,source=docker/install.sh,target=/tmp/install.sh \
    --mount=type=bind,source=docker/nvidia_libraries.py,target=/tmp/nvidia_libraries.py \
    sh /tmp/install.sh deps /tmp/seed_stac \
    && python3 /tmp/nvidia_libraries.py --ldconfig

# rw: pip builds in the source tree; writes are discarded with the mount.
RUN --mount=type=bind,target=/tmp/seed_stac,rw \
    sh /tmp/seed_stac/docker/install.sh package /tmp/seed_stac

# Fail the build, not the first run: TensorFlow imports and reads gs://, and
# a DM Control environment builds in a child process as the learner's does.
RUN --mount=type=bind,source=docker/smoke_check.py,target=/tmp/smoke_check.py \
    python3 /tmp/smoke_check.py learner

# Config paths on the command line (configs/atari.py:Pong) are relative to
# here, and gcp/ holds the entrypoint. The package itself is in site-packages.
WORKDIR /app
COPY configs/ /app/configs/
COPY gcp/ /app/gcp/
RUN mkdir -p /logdir

# gcp.entrypoint passes this to the learner as learner.device: without a
# usable GPU the run fails at start instead of training on the CPU. Set
# SEED_STAC_DEVICE=cpu (or auto) to run this image on a CPU machine on purpose.
ENV SEED_STAC_DEVICE=gpu

EXPOSE 8686 6006
ENTRYPOINT ["python3", "-m", "gcp.entrypoint"]
CMD ["--role=learner", "--logdir=/logdir", "--config=configs/cartpole.py"]
