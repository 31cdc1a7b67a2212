# Two commands set up everything on a fresh machine:
#   make train   virtualenv + pinned deps, then the default local training (CartPole, STAC)
#   make test    the same plus dev deps, then the whole test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LOGDIR ?= runs/cartpole_stac
ARGS ?=

.PHONY: train test lint format benchmark clean

$(VENV)/.installed: requirements.txt requirements-actor.txt requirements-nodeps.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

train: $(VENV)/.installed
	$(PY) -m seed_stac.local --config=configs/cartpole.py --logdir=$(LOGDIR) $(ARGS)

# Two sessions: simulator tests (MuJoCo EGL rendering, ALE) run in a process
# without TensorFlow, as actors do; Mesa's LLVM and TensorFlow's clash in one
# process (a segfault in EGL context creation). realworldrl_suite is not on
# PyPI: the vendored copy beside the checkout is installed when present, else
# the RWRL tests skip. It is built from a temporary copy (setuptools writes
# build/ and *.egg-info into the source, and shared/ is read-only); its deps
# come with the pinned packages, so it changes none; -qq hides its setup.py's
# setuptools deprecation banner. The slowest tests are listed at the end, to
# keep the suite within CI's budget.
test: $(VENV)/.dev-installed lint
	if [ -d ../shared/vendor/realworldrl_suite ] && ! $(PY) -c 'import realworldrl_suite' 2>/dev/null; then \
	  tmp=$$(mktemp -d) && cp -R ../shared/vendor/realworldrl_suite "$$tmp/" && chmod -R u+w "$$tmp" \
	  && $(PY) -m pip install -qq "$$tmp/realworldrl_suite"; status=$$?; rm -rf "$$tmp"; exit $$status; \
	fi
	$(PY) -m pytest -q tests/envs $(ARGS)
	$(PY) -m pytest -q --ignore=tests/envs --durations=10 $(ARGS)

# pyflakes: unused or undefined names and imports; pycodestyle: the layout
# rules our Google style with 2-space indents shares with PEP 8 (lines of at
# most 100 columns, no tabs or trailing whitespace; the indentation checks
# assume 4 spaces and are off); yapf: the format itself (.style.yapf), failing
# with a diff on any file it would change. `make format` rewrites those files.
# Generated protobuf code is excluded.
LINT_FILES = $$(git ls-files '*.py' | grep -v '_pb2')
lint: $(VENV)/.dev-installed
	$(PY) -m pyflakes $(LINT_FILES)
	$(PY) -m pycodestyle --max-line-length=100 --select=E101,E501,E9,W191,W291,W293,W391,W6 $(LINT_FILES)
	$(PY) -m yapf --diff $(LINT_FILES)

format: $(VENV)/.dev-installed
	$(PY) -m yapf -i $(LINT_FILES)

benchmark: $(VENV)/.installed
	$(PY) -m benchmarks.learner_step $(ARGS)

clean:
	rm -rf $(VENV) runs .pytest_cache
