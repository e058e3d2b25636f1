# The two commands of the README: `make run` and `make test`. Each creates the
# virtual environment on first use (torch's CPU build first, then lossbench).
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0

.PHONY: run test lint

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[dev,fast]"
	touch $@

run: $(VENV)/.installed
	$(VENV)/bin/lossbench run

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

test: lint
	$(PY) -m pytest
