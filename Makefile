# Two commands set up and run everything on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl

.PHONY: setup demo test lint typecheck unit clean

setup:
	@VENV=$(VENV) scripts/bootstrap.sh

demo: setup
	$(BIN)/vitac demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest

test: setup lint typecheck unit

clean:
	rm -rf $(VENV) runs .mypy_cache .ruff_cache .pytest_cache
