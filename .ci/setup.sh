#!/usr/bin/env bash
# Shared set-up for the two README commands (examples/demo.sh, tests/run.sh): Debian packages the caller
# names (installed only when missing), then venv/ with requirements.txt and the project.
#   source .ci/setup.sh; install_apt git docker-registry; install_venv
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

install_apt() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing apt packages: ${missing[*]}"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

install_venv() {
  if [ ! -x venv/bin/python ]; then python3 -m venv venv; fi
  venv/bin/pip install -q --disable-pip-version-check -r requirements.txt -e .
}
