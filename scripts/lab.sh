#!/usr/bin/env bash
# Open the book's notebooks in JupyterLab, in the book's environment (.venv).
#
#   scripts/lab.sh [jupyter lab options]      e.g. --no-browser, --port=9000
#   LAB_ROOT=/some/folder scripts/lab.sh      serve another folder (the tests serve copies)
#
# `make lab` runs this after `make setup` (LAB_ARGS are passed on), and
# tests/test_lab.py starts its server with it. It registers the environment as
# a named kernel, "Python 3 (MLP book)", so that other front ends (VS Code, a
# JupyterLab installed elsewhere) can run the notebooks in it too, and then
# starts JupyterLab on the book's folder, listening on 127.0.0.1 only.
# JupyterLab prints the address to open, with its access token, once it is up.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/.venv/bin"
serve="${LAB_ROOT:-$root}"

if [[ ! -x "$bin/jupyter-lab" ]]; then
  echo "lab.sh: JupyterLab is not installed in $root/.venv." >&2
  echo "Run 'make lab' (it sets up the environment first) or 'make setup', then try again." >&2
  exit 1
fi

"$bin/python" -m ipykernel install --user --name mlp-book --display-name "Python 3 (MLP book)" >/dev/null

cat <<EOF
Starting JupyterLab on $serve
  chapters/            the chapters
  student/exercises/   the exercises without solutions: students open these
  exercises/           the same exercises with worked solutions
Open the http://127.0.0.1:.../lab?token=... address printed below; Ctrl-C stops JupyterLab.
EOF

options=(--ServerApp.root_dir="$serve" --ServerApp.ip=127.0.0.1)
if [[ $(id -u) -eq 0 ]]; then
  options+=(--allow-root)  # containers and CI run as root; the server still listens on 127.0.0.1 only
fi
exec "$bin/jupyter-lab" "${options[@]}" "$@"
