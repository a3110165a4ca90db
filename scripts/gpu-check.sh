#!/usr/bin/env bash
# The book on a CUDA GPU, as students run it on Colab's GPU runtime: on a machine with a CUDA build
# of PyTorch and no network,
#
#   scripts/gpu-bundle.sh            # here, with PyPI: wheels and data into .gpu/ (once)
#   scripts/gpu-check.sh [--out DIR] [--jobs N] [--allow-cpu]   # there, from the repository's root
#
# installs what is missing (from .gpu/wheels, into a folder put on PYTHONPATH, so the machine's own
# torch and JAX are the ones tested), then runs the quick test suite, executes every
# chapter and exercise notebook (solutions and student edition) with device="auto", runs the GPU
# benchmark, and prints one summary (also written to DIR/summary.md, with the logs). Exit status 0
# only if everything passed. --allow-cpu rehearses it on a machine without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
site=${GPU_CHECK_SITE:-/tmp/d2lmini-gpu-site}
[ -d .gpu/wheels ] && [ -d .gpu/data ] || {
  echo "gpu-check: .gpu/wheels and .gpu/data are missing: run scripts/gpu-bundle.sh first (where PyPI can be reached) and copy .gpu/ along." >&2
  exit 2
}
exec "$python" scripts/gpu_check.py --wheels .gpu/wheels --data .gpu/data --site "$site" "$@"
