# Two commands do everything on a fresh machine with Python 3.11 and pip:
#   make demo   — create .venv, install, run the offline demo (the main job)
#   make test   — create .venv, install with dev tools, run lint, types and the whole test suite
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# torch goes in first as the CPU build (a local wheel on this project's machines), so nothing
# later pulls a multi-GB CUDA build.
TORCH  := 2.13.0

.PHONY: install demo test test-long test-all lint rules bench clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "vlm-car needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==$(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/vlmcar demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Two workers (the project's machines have 2 cores); one test file per worker at a time, so a
# file's module fixtures (a Ray instance, a trained run) are built once. The benchmark scripts'
# smoke runs (marker `long`, a few minutes) run under `make test-long`; `make test-all` runs both.
test: lint
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not long"

test-long: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -m long

test-all: lint
	$(BIN)/python -m pytest -n 2 --dist loadfile

rules: $(STAMP)
	$(BIN)/vlmcar audit --rules > docs/rules.md

bench: $(STAMP)
	$(BIN)/python benchmarks/sandbox_overhead.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
