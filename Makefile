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

# One filmed episode (500 steps) per bundled brain, two brains at a time: one core each (one torch and one renderer
# thread).
demo: setup
	@$(PY) evaluate.py --list | cut -f1 | OMP_NUM_THREADS=1 LP_NUM_THREADS=1 xargs -P 2 -I{} \
		$(PY) evaluate.py {} --episodes 1 --steps 500 --video videos/{}.mp4

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

test: lint
	$(PY) -m pytest
