# The two commands of the README: `make run` and `make test`. Each creates the
# virtual environment on first use (torch's CPU build first, then lossbench).
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0

# Ray's launcher pins cloudpickle 2.2.1 while joblib 1.6 needs >= 3, so the Ray
# launcher test runs in an environment of its own.
RAY_VENV ?= .venv-ray

.PHONY: run test lint test-ray

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[dev,fast]"
	touch $@

$(RAY_VENV)/.installed: pyproject.toml
	python3 -m venv $(RAY_VENV)
	$(RAY_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(RAY_VENV)/bin/python -m pip install --quiet "$(TORCH)"
	$(RAY_VENV)/bin/python -m pip install --quiet -e ".[ray]" pytest
	touch $@

run: $(VENV)/.installed
	$(VENV)/bin/lossbench run

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

test-ray: $(RAY_VENV)/.installed
	$(RAY_VENV)/bin/python -m pytest -q tests/test_launchers.py -k ray

test: lint test-ray
	$(PY) -m pytest
