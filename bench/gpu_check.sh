#!/usr/bin/env bash
# One script, one call of at most 8 minutes, for a session lent a GPU: the default run and its export
# (the answer's seeds trained in the run, tested at export), one final's images/s, the peer on CUDA
# (2 epochs), workers 1/2/4/8 sharing the GPU, CUDA graphs against eager, and the tests on CUDA; each
# step's figures written to bench/results/gpu-check.json and bench/results/gpu-run.json as it ends.
#
#   bash bench/gpu_check.sh                              # a GPU machine: planned <= 8 minutes on an H200
#   bash bench/gpu_check.sh --out DIR                    # the same, files under DIR
#
# On the lent GPU machine, where only $OUT comes back: build .device first with pytest among its wheels,
#   DEVICE_EXTRA_WHEELS='pytest pluggy iniconfig pygments' bash ../shared/device/prepare.sh
# then run  source .device/env.sh && bash bench/gpu_check.sh --out "$OUT"
# and copy $OUT/gpu-check.json and $OUT/gpu-run.json into bench/results/.
#   bash bench/gpu_check.sh --device cpu --tiny /tmp/gc  # plumbing at tiny sizes: a 2-core CPU, <= 5 minutes
#
# On the GPU machine (see shared/device/prepare.sh) .device/env.sh is sourced first when the caller
# has not. The Python is $PYTHON, else .venv/bin/python (after `make setup`), else python3.
# Details: bench/gpu_check.py. Exit code 0 when every step ended well.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .device/env.sh ] && [ -z "${MNIST_DATA_ROOT:-}" ]; then
  # shellcheck disable=SC1091
  source .device/env.sh
fi
if [ -n "${PYTHON:-}" ]; then
  py=$PYTHON
elif [ -x .venv/bin/python ]; then
  py=.venv/bin/python
else
  py=python3
fi
# find_spec: whether they are installed, without paying for importing torch here
if ! "$py" -c 'import importlib.util as u, sys; sys.exit(not (u.find_spec("torch") and u.find_spec("optuna")))' 2>/dev/null; then
  echo "gpu_check: $py cannot import torch and optuna: run \`make setup\` or set PYTHON=/path/to/python" >&2
  exit 2
fi
exec "$py" bench/gpu_check.py "$@"
