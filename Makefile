# Two commands on a fresh machine:  `make demo`, then `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch first: a bare `torch` requirement can pull a multi-GB CUDA build.
TORCH_PIN ?= torch==2.13.0

.PHONY: install demo test bench lint gallery golden clean

$(BIN)/python:
	@echo "make: creating the virtual environment $(VENV) ($(PYTHON) -m venv) and upgrading pip"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# A stamp per layer, so that `make demo` installs only what the demo needs and `make test` adds
# the test extra once (pip -q is silent for about a minute, hence the echo before each step).
$(VENV)/.installed-base: $(BIN)/python pyproject.toml
	@echo "make: installing $(TORCH_PIN) into $(VENV) (the largest download: about a minute)"
	$(BIN)/pip install -q $(TORCH_PIN)
	@echo "make: installing llmarch (editable) and its dependencies: typer, rich, pyyaml, pydantic, fvcore, matplotlib"
	$(BIN)/pip install -q -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed-base pyproject.toml
	@echo "make: installing the test extra: pytest, pytest-xdist, jsonschema, hypothesis, transformers, hatchling, ruff"
	$(BIN)/pip install -q -e ".[test]"
	@touch $@

install: $(VENV)/.installed-test

demo: $(VENV)/.installed-base
	@echo "make: running llmarch compare qwen3-235b deepseek-v3"
	$(BIN)/llmarch compare qwen3-235b deepseek-v3

# pytest-xdist spreads the suite over the machine's cores (TEST_WORKERS=0 runs it in one process).
TEST_WORKERS ?= auto
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS)

bench: $(VENV)/.installed-base
	$(BIN)/python bench/bench.py

gallery: $(VENV)/.installed-base
	$(BIN)/python -m llmarch.gallery
	$(BIN)/python -m llmarch.render.output_schema > docs/json.md

lint: install
	$(BIN)/python -m compileall -q llmarch
	$(BIN)/ruff format --check llmarch tests bench
	$(BIN)/ruff check llmarch tests bench

clean:
	rm -rf $(VENV) build dist *.egg-info

# Rewrites tests/golden/ from the current code; never run in CI (see docs/architecture.md for when to).
golden: install
	$(BIN)/python tests/goldens.py --write
