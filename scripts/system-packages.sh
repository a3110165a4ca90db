#!/usr/bin/env bash
# Install the Debian packages named as arguments, if any is missing and we can.
# Used by `make book` / `make test`; prints what to do where it cannot install.
set -euo pipefail
missing=()
for pkg in "$@"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "Installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
elif command -v apt-get >/dev/null; then
  echo "Missing Debian packages: ${missing[*]}. Install them with:"
  echo "  sudo apt-get install ${missing[*]}"
  echo "(Without dataset-fashion-mnist the data is downloaded instead; chromium is needed by the browser tests.)"
else
  echo "Not a Debian-like system: the dataset will be downloaded; the browser tests need Chromium at /usr/bin/chromium."
fi
