#!/usr/bin/env bash
# Prepare what `scripts/gpu-check.sh` needs on a CUDA machine that has PyTorch but no network:
#
#   scripts/gpu-bundle.sh [--python 3.12] [--without "numpy matplotlib ..."]
#
# Run it here, where PyPI can be reached. It fills the ignored folder .gpu/ with
#   .gpu/wheels/  wheels (for Linux x86-64 and the GPU machine's Python) of everything the tests and
#                 the notebooks import besides torch and JAX: the notebook runner (nbclient, ipykernel,
#                 nbval), plotly, ipywidgets, pytest and their dependencies;
#   .gpu/data/    the Fashion-MNIST and MNIST files, in the layout D2LMINI_DATA expects.
# Copy the repository with .gpu/ to the GPU machine and run scripts/gpu-check.sh there.
#
# --without NAMES leaves out wheels of packages the GPU machine already has (to keep the copy small);
# gpu-check.sh installs only what is missing there anyway. Left out always, because nothing the book
# runs needs them and they are large: debugpy (ipykernel's debugger), jedi/parso (IPython's tab
# completion) and widgetsnbextension (the classic Notebook's widget front end).
set -euo pipefail
cd "$(dirname "$0")/.."

python_version=3.12
without=""
while [ $# -gt 0 ]; do
  case "$1" in
    --python) python_version=$2; shift 2 ;;
    --without) without=$2; shift 2 ;;
    *) echo "usage: $0 [--python 3.12] [--without \"numpy matplotlib ...\"]" >&2; exit 2 ;;
  esac
done
abi="cp${python_version/./}"

rm -rf .gpu/wheels && mkdir -p .gpu/wheels .gpu/data
echo "Downloading wheels for CPython $python_version (Linux x86-64) into .gpu/wheels ..."
python3 -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
  --python-version "$python_version" --implementation cp --abi "$abi" --abi abi3 --abi none \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_26_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
  -d .gpu/wheels \
  nbval nbclient ipykernel pytest pytest-xdist pytest-timeout pyyaml \
  "plotly>=5.18" "ipywidgets>=8" "numpy>=1.24" "matplotlib>=3.7" 2>&1 | grep -v "is ignored" || true

for name in debugpy jedi parso widgetsnbextension $without; do
  pattern=$(echo "$name" | tr '-' '_')
  rm -f .gpu/wheels/"$pattern"-*.whl .gpu/wheels/"$name"-*.whl
done

# The data: Fashion-MNIST (Debian's package or the d2lmini cache) and MNIST (the d2lmini cache).
.venv/bin/python - <<'PY'
import shutil
from pathlib import Path

from d2lmini.data import DATASETS

for name, dataset in DATASETS.items():
    found = dataset(batch_size=256)            # finds the files (or downloads and checks them)
    target = Path(".gpu/data") / dataset.name
    target.mkdir(parents=True, exist_ok=True)
    for spec in dataset.files.values():
        shutil.copy2(Path(found.root) / spec.name, target / spec.name)
    print(f"{name}: {target}")
PY
echo "Ready: $(du -sh .gpu | cut -f1) in .gpu/ ($(ls .gpu/wheels | wc -l) wheels). Now run scripts/gpu-check.sh on the GPU machine."
