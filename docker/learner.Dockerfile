# syntax=docker/dockerfile:1
# seed_stac learner image (GPU by default). Build from the repository root, so
# the context holds requirements.txt, pyproject.toml, seed_stac/ and configs/:
#
#   docker build -f docker/learner.Dockerfile -t seed-stac-learner .
#
# Needs BuildKit (default since Docker 23; on Cloud Build set DOCKER_BUILDKIT=1)
# for the bind mounts below and for docker/learner.Dockerfile.dockerignore.
#
# Cloud TPU VMs (Vertex AI cloud-tpu / ct5lp-*, GKE TPU node pools) need the
# TensorFlow TPU wheel instead of the CUDA build. Same Dockerfile, other base
# and TF build args (the CUDA base would only add gigabytes):
#
#   docker build -f docker/learner.Dockerfile -t seed-stac-learner-tpu \
#     --build-arg BASE_IMAGE=python:3.11-slim-bookworm \
#     --build-arg TF_PACKAGE=tensorflow-tpu==2.20.0 \
#     --build-arg TF_KERAS_PACKAGE=tf-keras==2.20.1 \
#     --build-arg TF_FIND_LINKS=https://storage.googleapis.com/libtpu-tf-releases/index.html .
#
# tensorflow-tpu lags the CUDA release (2.20.0 is the newest on PyPI while
# requirements.txt pins tensorflow==2.21.0): use the newest tensorflow-tpu and
# the tf-keras of the same minor version.
#
# Runs as root, like the TensorFlow base images: GPU/TPU device nodes and the
# TPU runtime are set up for root.

ARG BASE_IMAGE=tensorflow/tensorflow:2.21.0-gpu
FROM ${BASE_IMAGE}

# Empty = the tensorflow pin from requirements.txt (already in the GPU base).
ARG TF_PACKAGE=""
ARG TF_KERAS_PACKAGE=""
ARG TF_FIND_LINKS=""

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

# Dependencies first: this layer is rebuilt only when requirements.txt changes.
RUN --mount=type=bind,source=docker/install.sh,target=/tmp/install.sh \
    --mount=type=bind,source=requirements.txt,target=/tmp/seed_stac/requirements.txt \
    sh /tmp/install.sh deps /tmp/seed_stac

# rw: pip builds in the source tree; writes are discarded with the mount.
RUN --mount=type=bind,target=/tmp/seed_stac,rw \
    sh /tmp/seed_stac/docker/install.sh package /tmp/seed_stac

# Config paths on the command line (configs/atari.py:Pong) are relative to
# here, and gcp/ holds the entrypoint. The package itself is in site-packages.
WORKDIR /app
COPY configs/ /app/configs/
COPY gcp/ /app/gcp/
RUN mkdir -p /logdir

EXPOSE 8686 6006
ENTRYPOINT ["python3", "-m", "gcp.entrypoint"]
CMD ["--role=learner", "--logdir=/logdir", "--config=configs/cartpole.py"]
