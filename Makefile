# Two commands for a fresh machine: `make demo` (set up + film the bundled brains) and `make test` (set up + tests).
VENV ?= .venv
PYTHON ?= python3
# torch first: a bare `torch` requirement would pull a multi-GB CUDA build. Override for other machines,
# e.g. make TORCH="torch --index-url https://download.pytorch.org/whl/cpu".
TORCH ?= torch==2.13.0
PY := $(VENV)/bin/python
export MUJOCO_GL ?= egl

.PHONY: setup demo test lint

# constraints.txt pins every package to the versions the bundled brains and golden files were checked under.
$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt $(TORCH)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev,sweeps]"
	touch $@

setup: $(VENV)/.installed

# One filmed episode per bundled brain in its test env (500 steps; the switching brain through its schedule's walk,
# jump, walk and jump), two brains at a time, each on one core (one torch and one renderer thread).
demo: setup
	@$(PY) -m agents brains film

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

test: lint
	$(PY) -m pytest
