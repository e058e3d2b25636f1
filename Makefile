# The two commands of the README: `make run` and `make test`. Each creates the
# virtual environment on first use (torch's CPU build first, then lossbench).
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0

# Ray's launcher pins cloudpickle 2.2.1 while joblib 1.6 needs >= 3, so the Ray
# launcher test runs in an environment of its own.
RAY_VENV ?= .venv-ray

.PHONY: run test test-fast lint test-ray torch browser

$(VENV)/.installed: pyproject.toml setup.py
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	echo "$(TORCH)" > $(VENV)/.torch
	$(PY) -m pip install --quiet -e ".[dev,fast]"
	touch $@

# `make run TORCH="torch==X"` on an existing .venv: install that build if it is not the one
# recorded in .venv/.torch. Without TORCH on the command line the installed build stays.
torch: $(VENV)/.installed
ifneq ($(origin TORCH),file)
	@if [ "$$(cat $(VENV)/.torch 2>/dev/null)" != "$(TORCH)" ]; then \
		$(PY) -m pip install --quiet "$(TORCH)" \
		&& echo "$(TORCH)" > $(VENV)/.torch; \
	fi
endif

$(RAY_VENV)/.installed: pyproject.toml setup.py
	python3 -m venv $(RAY_VENV)
	$(RAY_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(RAY_VENV)/bin/python -m pip install --quiet "$(TORCH)"
	$(RAY_VENV)/bin/python -m pip install --quiet -e ".[ray]" pytest
	touch $@

run: torch
	$(VENV)/bin/lossbench run

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

test-ray: $(RAY_VENV)/.installed
	$(RAY_VENV)/bin/python -m pytest -q tests/test_launchers.py -k ray

# The report.html test renders the page in the system's Chromium (driven by playwright,
# which downloads no browser). Installed with apt-get where that is possible (root, Debian);
# elsewhere that one test is skipped, and nothing fails here.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	{ if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || \
	    echo "make: chromium not installed; the report.html browser test will be skipped"; \
	  else echo "make: no chromium (apt-get install chromium); the browser test will be skipped"; fi; }

# Everything: lint, the Ray launcher test, then the whole suite (slow tests included),
# one pytest worker per core (pytest-xdist; each test has its own temporary directory).
test: lint test-ray browser
	$(PY) -m pytest -n auto

# The fast tier for the edit-test loop (under a minute): no subprocess or long runs.
test-fast: $(VENV)/.installed
	$(PY) -m pytest -q -n auto -m "not slow"
