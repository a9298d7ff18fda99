#!/usr/bin/env bash
# The main job on the bundled example fleet: set up, turn examples/repos/* into git repos, analyze.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x venv/bin/python ]; then python3 -m venv venv; fi
venv/bin/pip install -q --disable-pip-version-check -r requirements.txt -e .

venv/bin/python examples/make_repos.py
echo "== analyze: images.yaml + Dockerfiles -> state/"
venv/bin/image-factory analyze --cache .cache/git
echo "== dependency graph"
venv/bin/image-factory graph
echo "== render: images.yaml + state/ -> Kargo manifests in rendered/"
venv/bin/image-factory render --out rendered
echo "== check: policy rules over the rendered resources"
venv/bin/image-factory check --policy-config policy/config.json
echo "== report: a static status page"
venv/bin/image-factory report --out report
echo "open report/index.html (no server needed)"
