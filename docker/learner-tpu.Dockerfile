# syntax=docker/dockerfile:1
# seed_stac learner image for Cloud TPU VMs (Vertex AI ct5lp-* / cloud-tpu,
# GKE TPU node pools). Build from the repository root:
#
#   docker build -f docker/learner-tpu.Dockerfile -t seed-stac-learner-tpu .
#
# Needs BuildKit (bind mounts, docker/learner-tpu.Dockerfile.dockerignore).
#
# tensorflow-tpu stops at 2.20.0 while requirements.txt pins TF 2.21, so this
# image installs requirements-tpu.txt, the 2.20 stack with libtpu pinned to
# 0.0.14 (gcp/README.md, "TPU versions"). The TPU path is opt-in: nothing uses
# it unless learner.device=tpu.

FROM python:3.11-slim-bookworm

# The learner builds one environment in a child process to read its spec, and
# DM Control renders once there: it needs the same EGL/Mesa libraries as the
# actor image (software rendering, no GPU involved).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri libglvnd0 \
    && rm -rf /var/lib/apt/lists/*

# TensorFlow on a TPU VM runs through PJRT and the libtpu pluggable device.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MUJOCO_GL=egl \
    PYOPENGL_PLATFORM=egl \
    PJRT_DEVICE=TPU \
    NEXT_PLUGGABLE_DEVICE_USE_C_API=true \
    TF_PLUGGABLE_DEVICE_LIBRARY_PATH=/usr/local/lib/python3.11/site-packages/libtpu/libtpu.so

# The requirement set of this image (docker/install.sh reads it in both steps).
ARG REQUIREMENTS=requirements-tpu.txt
COPY requirements*.txt /tmp/seed_stac/
RUN --mount=type=bind,source=docker/install.sh,target=/tmp/install.sh \
    sh /tmp/install.sh deps /tmp/seed_stac \
    && test -f "$TF_PLUGGABLE_DEVICE_LIBRARY_PATH"

RUN --mount=type=bind,target=/tmp/seed_stac,rw \
    sh /tmp/seed_stac/docker/install.sh package /tmp/seed_stac

# Fail the build, not the first run: TensorFlow imports and reads gs://, and
# a DM Control environment builds in a child process as the learner's does.
RUN --mount=type=bind,source=docker/smoke_check.py,target=/tmp/smoke_check.py \
    python3 /tmp/smoke_check.py learner

WORKDIR /app
COPY configs/ /app/configs/
COPY gcp/ /app/gcp/
RUN mkdir -p /logdir

# gcp.entrypoint passes learner.device=tpu and learner.distribution=tpu: without
# TPU cores the run fails at start instead of training on the CPU.
ENV SEED_STAC_DEVICE=tpu

EXPOSE 8686 6006
ENTRYPOINT ["python3", "-m", "gcp.entrypoint"]
CMD ["--role=learner", "--logdir=/logdir", "--config=configs/cartpole.py"]
