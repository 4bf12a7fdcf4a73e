# The README's two commands: `make demo` (the main job) and `make test`. Both set up first;
# set-up is idempotent: it reruns only when pyproject.toml changes.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: setup demo test

setup: $(INSTALLED)

# torch==2.13.0 goes in before anything that depends on torch: any other torch request
# (bare, or a range installed first) would pull several GB of CUDA packages.
$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,train,postgres,cuda]'
	touch $@

demo: setup
	$(BIN)/lianju poem 月

# The static checks first: they take seconds (mypy keeps a cache in .mypy_cache/), the tests minutes.
test: setup
	PYTHON=$(BIN)/python bash scripts/check.sh
	bash scripts/with-postgres.sh $(BIN)/python -m pytest
