#!/usr/bin/env bash
# The main job on the bundled example fleet, on a fresh Debian machine: install what it needs, then run
# examples/demo.py (a local registry with the fleet's upstream images, the real analyze → refresh →
# status/plan → graph → render → check → report flow, and an upstream tag that moves). Report: report/.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/setup.sh
install_apt git docker-registry graphviz
install_venv
venv/bin/python examples/make_repos.py
exec venv/bin/python examples/demo.py "$@"
