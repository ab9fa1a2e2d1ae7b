# Watchkeeper: `make run` (the product, embedded default) and `make test` (the whole suite).
SHELL := /bin/bash
VENV := .venv
VENV_PY := $(VENV)/bin/python
LOCK := requirements-dev.lock
STAMP := $(VENV)/.installed-$(shell sha1sum $(LOCK) 2>/dev/null | cut -c1-12)

.PHONY: run test lint format bench lab lab-down lock venv system-deps clean

run: venv
	@scripts/system-deps.sh lab
	$(VENV_PY) -m watchkeeper.runner

test: venv
	@scripts/system-deps.sh lab browser backup
	@scripts/ensure-services.sh
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV_PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: venv
	@scripts/ensure-services.sh
	$(VENV_PY) -m bench $(BENCH)

venv: $(STAMP)

$(STAMP): $(LOCK)
	@PY=$$(scripts/find-python.sh) || exit 1; \
	if [ ! -x $(VENV_PY) ] || ! $(VENV_PY) -c 'import sys; sys.exit(sys.version_info < (3, 13))'; then \
	  rm -rf $(VENV); echo "Creating $(VENV) with $$PY"; PYENV_VERSION=3.13.0 $$PY -m venv $(VENV) || exit 1; \
	fi
	$(VENV_PY) -m pip install -q --disable-pip-version-check --require-hashes -r $(LOCK)
	$(VENV_PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	@rm -f $(VENV)/.installed-*; touch $@

# Re-resolve the pinned dependencies after editing pyproject.toml.
lock: venv
	$(VENV)/bin/uv pip compile pyproject.toml --python-version 3.13 --generate-hashes -q -o requirements.lock
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --python-version 3.13 --generate-hashes -q -o requirements-dev.lock

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

-include lab.mk
