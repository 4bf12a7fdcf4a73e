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
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

DEMO_POEM := 国破山河在，城春草木深。感时花溅泪，恨别鸟惊心。烽火连三月，家书抵万金。白头搔更短，浑欲不胜簪。

demo: setup
	@echo "Generation (lianju poem 月) is coming with the engine. Until then, the prosody checker reads 杜甫《春望》:"
	$(BIN)/lianju check "$(DEMO_POEM)"

# The storage tests run on SQLite and on PostgreSQL: the script installs PostgreSQL when missing
# and starts a throwaway server on 127.0.0.1 for the length of the run.
test: setup
	bash scripts/with-postgres.sh $(BIN)/python -m pytest
