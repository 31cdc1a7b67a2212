#!/bin/sh
# Installs seed_stac into the image's Python: one pinned requirement set, then
# the package. Shared by the three Dockerfiles and by
# docker/check_requirement_sets.sh, so every image gets a tested set.
#
# Usage: install.sh deps|package SRC_DIR
#   deps:    SRC_DIR/$REQUIREMENTS, then with --no-deps requirements-nodeps.txt,
#            requirements-rwrl-nodeps.txt and the set's own <name>-nodeps.txt
#            when there is one (a separate
#            step, so Docker caches this slow layer until a requirement file
#            changes).
#   package: the seed_stac package from SRC_DIR, then `pip check`, which fails
#            the build. The one kind of line it may report is a dependency
#            that a package installed with --no-deps declares and we left out
#            on purpose.
# Environment (Docker build args; give both steps the same):
#   REQUIREMENTS  requirements-actor.txt | requirements.txt | requirements-gpu.txt
#                 | requirements-tpu.txt (default requirements.txt).
#   PYTHON        Interpreter to install into (default python3).
set -eu

step="${1:?usage: install.sh deps|package SRC_DIR}"
src="${2:?usage: install.sh deps|package SRC_DIR}"
requirements="${REQUIREMENTS:-requirements.txt}"
# Slim Python bases mark the system interpreter externally managed (PEP 668);
# installing into it is the point of an image.
export PIP_BREAK_SYSTEM_PACKAGES=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
pip="${PYTHON:-python3} -m pip"

# The files installed with --no-deps: for every set (the Real-World RL
# suite, not on PyPI, included), then for this one.
nodeps_files() {
  echo "$src/requirements-nodeps.txt"
  echo "$src/requirements-rwrl-nodeps.txt"
  if [ "$requirements" != requirements.txt ]; then
    echo "$src/${requirements%.txt}-nodeps.txt"
  fi
}

# Names of the packages installed with --no-deps, for `pip check`: their
# declared dependencies are missing by design (see the -nodeps files).
nodeps_names() {
  for f in $(nodeps_files); do
    if [ -f "$f" ]; then
      sed -e 's/#.*//' -n -e 's/^[[:space:]]*\([A-Za-z0-9_.-][A-Za-z0-9_.-]*\).*/\1/p' "$f"
    fi
  done
}

# `pip check` lines those packages produce: "NAME VERSION requires DEP, which
# is not installed." (pip spells - _ . alike; any other line is a conflict).
left_out_pattern() {
  names="$(nodeps_names | sed 's/[-_.]/[-_.]/g' | paste -s -d '|' -)"
  if [ -z "$names" ]; then echo '^$'; return; fi
  echo "^($names) [^ ]+ requires [^ ,]+, which is not installed\.\$"
}

case "$step" in
  deps)
    if [ ! -f "$src/$requirements" ]; then
      echo "install.sh: no requirement set $src/$requirements" >&2
      exit 2
    fi
    $pip install -r "$src/$requirements"
    # Packages whose declared dependencies we do not need (see the files).
    for f in $(nodeps_files); do
      if [ -f "$f" ]; then
        $pip install --no-deps -r "$f"
      fi
    done
    ;;
  package)
    # Dependencies came from the requirement set (the tested pins).
    $pip install --no-deps "$src"
    if ! report="$($pip check 2>&1)"; then
      unexpected="$(printf '%s\n' "$report" | grep -v -i -E "$(left_out_pattern)" || true)"
      if [ -n "$unexpected" ]; then
        printf '%s\n' "$unexpected" >&2
        echo "install.sh: pip check failed: the installed packages conflict (above)" >&2
        exit 1
      fi
      echo "install.sh: pip check reported only accepted lines:"
      printf '%s\n' "$report"
    fi
    ;;
  *)
    echo "install.sh: unknown step '$step' (expected deps or package)" >&2
    exit 2
    ;;
esac
