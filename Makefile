# Two commands for a fresh machine: `make demo` (set up + film the bundled brains) and `make test` (set up + tests).
VENV ?= .venv
PYTHON ?= python3
# torch first: a bare `torch` requirement would pull a multi-GB CUDA build. Override for other machines,
# e.g. make TORCH="torch --index-url https://download.pytorch.org/whl/cpu".
TORCH ?= torch==2.13.0
PY := $(VENV)/bin/python
export MUJOCO_GL ?= egl

.PHONY: setup demo test lint

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e ".[dev,sweeps]"
	touch $@

setup: $(VENV)/.installed

demo: setup
	@for brain in $$($(PY) evaluate.py --list | cut -f1); do \
		$(PY) evaluate.py $$brain --episodes 3 --video videos/$$brain.mp4 || exit 1; \
	done

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

test: lint
	$(PY) -m pytest
