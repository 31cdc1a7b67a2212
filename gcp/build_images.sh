#!/usr/bin/env bash
# Builds and pushes the seed_stac images: REGISTRY/learner:TAG (GPU),
# REGISTRY/actor:TAG (CPU) and, with --tpu, REGISTRY/learner-tpu:TAG.
#
# Usage: gcp/build_images.sh [--cloud-build | --docker] [--tpu] [--tag TAG] REGISTRY
#   REGISTRY       Artifact Registry repo, e.g. us-central1-docker.pkg.dev/PROJECT/seed-stac
#   --cloud-build  build remotely with `gcloud builds submit` (default; no local Docker)
#   --docker       build locally with docker build + docker push (needs BuildKit and
#                  `gcloud auth configure-docker REGION-docker.pkg.dev` once)
#   --tpu          also build the TPU learner (docker/learner-tpu.Dockerfile)
#   --tag TAG      image tag (default: git short hash, else "latest")
#   --project P    gcloud project for --cloud-build (default: gcloud's configured
#                  one); --project=P works too
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"

usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "build_images.sh: $*" >&2; exit 2; }

mode=cloud-build
tpu=0
tag=""
project=()
registry=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cloud-build) mode=cloud-build; shift ;;
    --docker) mode=docker; shift ;;
    --tpu) tpu=1; shift ;;
    --tag) [[ $# -ge 2 ]] || die "--tag needs a value"; tag="$2"; shift 2 ;;
    --tag=*) tag="${1#*=}"; shift ;;
    --project) [[ $# -ge 2 ]] || die "--project needs a value"; project=(--project "$2"); shift 2 ;;
    --project=*) [[ -n "${1#*=}" ]] || die "--project needs a value"; project=(--project "${1#*=}"); shift ;;
    -h|--help) usage; exit 0 ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) [[ -z "$registry" ]] || die "only one REGISTRY expected, got '$registry' and '$1'"
       registry="${1%/}"; shift ;;
  esac
done
[[ -n "$registry" ]] || { usage >&2; die "REGISTRY is required"; }
[[ "$registry" == */* ]] || die "REGISTRY must look like HOST/PROJECT/REPO, got '$registry'"
if [[ -z "$tag" ]]; then
  tag="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo latest)"
fi
[[ "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "invalid image tag '$tag'"

if [[ $mode == cloud-build ]]; then
  gcloud builds submit ${project[@]+"${project[@]}"} --config="$here/cloudbuild.yaml" \
    --substitutions="_REGISTRY=$registry,_TAG=$tag,_TPU=$tpu" "$root"
else
  export DOCKER_BUILDKIT=1
  docker build --platform=linux/amd64 -f "$root/docker/learner.Dockerfile" \
    -t "$registry/learner:$tag" "$root"
  docker build --platform=linux/amd64 -f "$root/docker/actor.Dockerfile" \
    -t "$registry/actor:$tag" "$root"
  docker push "$registry/learner:$tag"
  docker push "$registry/actor:$tag"
  if [[ $tpu -eq 1 ]]; then
    docker build --platform=linux/amd64 -f "$root/docker/learner-tpu.Dockerfile" \
      -t "$registry/learner-tpu:$tag" "$root"
    docker push "$registry/learner-tpu:$tag"
  fi
fi

echo "images:"
echo "  $registry/learner:$tag"
echo "  $registry/actor:$tag"
if [[ $tpu -eq 1 ]]; then echo "  $registry/learner-tpu:$tag"; fi
