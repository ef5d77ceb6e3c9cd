# Two commands set up and run everything on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin
# The robosuite adapter's venv: robosuite pins numpy<2 and mujoco<3.10 (see README).
ROBOSUITE_VENV ?= .venv-robosuite
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl

.PHONY: setup demo test lint typecheck unit clean robosuite-venv test-robosuite

setup:
	@VENV=$(VENV) scripts/bootstrap.sh

# the pipeline, then its policy in real time on the sim twin (vitac run)
demo: setup
	@out=runs/demo/$$(date +%Y%m%d-%H%M%S) && \
	$(BIN)/vitac demo --out $$out && \
	$(BIN)/vitac run launch/demo.toml --checkpoint $$out/train --out $$out/run

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest

test: setup lint typecheck unit

robosuite-venv:
	@VENV=$(ROBOSUITE_VENV) EXTRAS=dev,robosuite scripts/bootstrap.sh

# VITAC_REQUIRE_ROBOSUITE=1: a robosuite test fails, instead of skipping, if robosuite is missing.
test-robosuite: robosuite-venv
	VITAC_REQUIRE_ROBOSUITE=1 $(ROBOSUITE_VENV)/bin/pytest -m robosuite

clean:
	rm -rf $(VENV) $(ROBOSUITE_VENV) runs .mypy_cache .ruff_cache .pytest_cache
