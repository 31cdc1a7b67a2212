#!/usr/bin/env bash
# Installs each image's requirement set into a fresh virtualenv and runs
# `pip check`, as the image builds do (docker/install.sh). Needs network
# access to PyPI and a few GB of disk; run it after changing any pin:
#
#   docker/check_requirement_sets.sh [actor] [gpu] [tpu]   (default: all three)
#
# The actor set must also leave TensorFlow out; the GPU set's CUDA wheels must
# satisfy what TensorFlow declares (docker/nvidia_libraries.py --check). Prints one line per set and
# exits non-zero if any set fails.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
sets=("$@")
[[ ${#sets[@]} -gt 0 ]] || sets=(actor gpu tpu)

# A copy of the tracked files: pip builds the package inside its source tree.
source_copy() {
  local dest="$1"
  git -C "$root" ls-files -z | (cd "$root" && xargs -0 cp --parents -t "$dest")
}

check_set() {
  local name="$1" venv src
  venv="$(mktemp -d)" src="$(mktemp -d)"
  trap 'rm -rf "$venv" "$src"' RETURN
  # Each step's status is checked: `set -e` does not apply inside a function
  # called from an `if`.
  source_copy "$src" || return 1
  "$python" -m venv "$venv" || return 1
  "$venv/bin/python" -m pip install --quiet --upgrade pip || return 1
  export PYTHON="$venv/bin/python" REQUIREMENTS="requirements-$name.txt"
  sh "$src/docker/install.sh" deps "$src" || return 1
  sh "$src/docker/install.sh" package "$src" || return 1
  if [[ $name == gpu ]]; then
    "$venv/bin/python" "$src/docker/nvidia_libraries.py" --check || return 1
  fi
  if [[ $name == actor ]] && "$venv/bin/python" -c 'import tensorflow' 2>/dev/null; then
    echo "actor: tensorflow is installed, but the actor set must not pull it in" >&2
    return 1
  fi
}

status=0
for name in "${sets[@]}"; do
  [[ -f "$root/requirements-$name.txt" ]] || { echo "no requirements-$name.txt" >&2; exit 2; }
  if check_set "$name"; then echo "$name: installs, pip check passes"; else echo "$name: FAILED"; status=1; fi
done
exit $status
