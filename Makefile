# Two commands on a fresh machine:  `make demo`, then `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch first: a bare `torch` requirement can pull a multi-GB CUDA build.
TORCH_PIN ?= torch==2.13.0

.PHONY: install demo test bench lint gallery golden clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q $(TORCH_PIN)
	$(BIN)/pip install -q -e ".[test]"

demo: install
	$(BIN)/llmarch compare qwen3-235b deepseek-v3

# pytest-xdist spreads the suite over the machine's cores (TEST_WORKERS=0 runs it in one process).
TEST_WORKERS ?= auto
test: install
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS)

bench: install
	$(BIN)/python bench/bench.py

gallery: install
	$(BIN)/python -m llmarch.gallery
	$(BIN)/python -m llmarch.output_schema > docs/json.md

lint: install
	$(BIN)/python -m compileall -q llmarch
	$(BIN)/ruff format --check llmarch tests bench
	$(BIN)/ruff check llmarch tests bench

clean:
	rm -rf $(VENV) build dist *.egg-info

# Rewrites tests/golden/ from the current code; never run in CI (see docs/architecture.md for when to).
golden: install
	$(BIN)/python tests/goldens.py --write
