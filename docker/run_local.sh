#!/usr/bin/env bash
# Builds the images and runs learner + N actors + TensorBoard with Docker Compose.
#
# Usage: docker/run_local.sh [-n NUM_ACTORS] [-r RUN] [--gpu] [--no-build] [-d] [-- LEARNER_ARGS...]
#   -n, --actors N   actor containers (default 4); each runs one actor process
#   -r, --run NAME   the run's directory in the logdir volume (default: default,
#                    or $SEED_STAC_RUN); the same name resumes that run
#   --gpu            give the learner the host's NVIDIA GPUs (compose.gpu.yaml)
#   --no-build       use the images already built
#   -d, --detach     run in the background (docker compose -f docker/compose.yaml logs -f)
#   LEARNER_ARGS     learner flags, default --config=configs/cartpole.py, e.g.
#                    -- --config=configs/atari.py:Pong --config.learner.batch_size=32
#
# Logs and checkpoints go to /logdir/RUN in the `seed-stac_logdir` volume, so
# running again with the same run name resumes from its checkpoint; a learner
# started on a run of another config refuses, naming the difference. `docker
# compose -f docker/compose.yaml down -v` stops and deletes the volume.
# TensorBoard (every run): http://localhost:6006 (TENSORBOARD_PORT).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

usage() { sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "run_local.sh: $*" >&2; exit 2; }

num_actors=4
gpu=0
build=1
detach=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -n|--actors)
      [[ $# -ge 2 ]] || die "$1 needs a number"
      num_actors="$2"; shift 2 ;;
    --actors=*) num_actors="${1#*=}"; shift ;;
    -r|--run)
      [[ $# -ge 2 ]] || die "$1 needs a name"
      export SEED_STAC_RUN="$2"; shift 2 ;;
    --run=*) export SEED_STAC_RUN="${1#*=}"; shift ;;
    --gpu) gpu=1; shift ;;
    --no-build) build=0; shift ;;
    -d|--detach) detach=(--detach); shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    *) die "unknown option '$1' (learner flags go after --; see --help)" ;;
  esac
done
[[ "$num_actors" =~ ^[0-9]+$ && "$num_actors" -ge 1 ]] \
  || die "number of actors must be a positive integer, got '$num_actors'"

files=(-f "$here/compose.yaml")
if [[ $gpu -eq 1 ]]; then
  files+=(-f "$here/compose.gpu.yaml")
fi
if [[ $# -gt 0 ]]; then
  # gcp.entrypoint shell-splits SEED_STAC_ARGS, so quote each argument.
  SEED_STAC_ARGS="$(printf '%q ' "$@")"
  export SEED_STAC_ARGS="${SEED_STAC_ARGS% }"
fi

if [[ $build -eq 1 ]]; then
  docker compose "${files[@]}" build
fi
exec docker compose "${files[@]}" up ${detach[@]+"${detach[@]}"} --scale "actor=$num_actors"
