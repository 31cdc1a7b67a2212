#!/bin/sh
# Installs seed_stac into the image's Python: pinned requirements, then the package.
# Shared by learner.Dockerfile and actor.Dockerfile so both images get the same
# dependency set (the one tested in CI).
#
# Usage: install.sh deps|package SRC_DIR
#   deps:    requirements.txt from SRC_DIR (a separate step, so Docker caches
#            this slow layer until requirements.txt changes).
#   package: the seed_stac package from SRC_DIR (pyproject.toml, seed_stac/).
# Environment (Docker build args):
#   TF_PACKAGE     Replaces the tensorflow pin, e.g. "tensorflow-tpu==2.20.0" for
#                  Cloud TPU VMs. Empty (default): requirements.txt as is.
#   TF_KERAS_PACKAGE  tf-keras pin matching TF_PACKAGE (tf-keras tracks the TF
#                  minor version), e.g. "tf-keras==2.20.1".
#   TF_FIND_LINKS  Extra pip --find-links page for TF_PACKAGE (libtpu wheels).
set -eu

step="${1:?usage: install.sh deps|package SRC_DIR}"
src="${2:?usage: install.sh deps|package SRC_DIR}"
# The TF images put TF in the system interpreter; installing beside it is the
# point, also on bases that mark it externally managed (PEP 668).
export PIP_BREAK_SYSTEM_PACKAGES=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
pip="python3 -m pip"

case "$step" in
  deps)
    if [ -z "${TF_PACKAGE:-}" ]; then
      $pip install -r "$src/requirements.txt"
    else
      if [ -z "${TF_KERAS_PACKAGE:-}" ]; then
        echo "install.sh: TF_PACKAGE=$TF_PACKAGE needs TF_KERAS_PACKAGE (the matching tf-keras pin)" >&2
        exit 2
      fi
      # tensorflow and e.g. tensorflow-tpu both provide the `tensorflow` module
      # and must never be installed together, so drop the tensorflow/tf-keras pins.
      grep -v -E '^[[:space:]]*(tensorflow|tf-keras|tf_keras)[[:space:]]*(==|>=|~=|$)' \
        "$src/requirements.txt" > /tmp/requirements-no-tf.txt
      if [ -n "${TF_FIND_LINKS:-}" ]; then
        $pip install "$TF_PACKAGE" -f "$TF_FIND_LINKS"
      else
        $pip install "$TF_PACKAGE"
      fi
      $pip install -r /tmp/requirements-no-tf.txt
      # tf-keras declares a dependency on the name "tensorflow", which pip would
      # satisfy by installing the second TF build.
      $pip install --no-deps "$TF_KERAS_PACKAGE"
      rm -f /tmp/requirements-no-tf.txt
    fi
    ;;
  package)
    # Dependencies came from requirements.txt (the tested pins); --no-deps also
    # keeps pip from pulling "tensorflow" next to a tensorflow-tpu build.
    $pip install --no-deps "$src"
    # Packages whose declared dependencies we do not need (see the file).
    if [ -f "$src/requirements-nodeps.txt" ]; then
      $pip install --no-deps -r "$src/requirements-nodeps.txt"
    fi
    # Report, do not fail: TPU builds knowingly lack the "tensorflow" name.
    $pip check || echo "install.sh: pip check reported conflicts (see above)" >&2
    ;;
  *)
    echo "install.sh: unknown step '$step' (expected deps or package)" >&2
    exit 2
    ;;
esac
