#!/usr/bin/env bash
# Build the real engines the tests run (Go programs, each from a Go module of ours under
# tests/engines/<engine>/), once, into an ignored cache keyed by everything that pins them.
#
#   tests/engines/build.sh ENGINE...          prints "ENGINE /abs/path/to/bin" per engine
#   tests/engines/build.sh --find ENGINE...   the same for engines already built; exit 3 (nothing built) if one is not
#
# Each engine folder holds go.mod/go.sum (the pins), optional Go sources, and `targets`: one line per
# binary, "<output-name> <package> [go build flags]", and an optional executable post-build.sh run in the
# engine folder with the bin dir as $1. The cache key hashes those files and `go version`, so the build
# runs again only when a pin changes. Cache: $IMAGE_FACTORY_ENGINES_CACHE or .cache/engines.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${IMAGE_FACTORY_ENGINES_CACHE:-$root/.cache/engines}"
mkdir -p "$cache"
find_only=0
if [ "${1:-}" = "--find" ]; then find_only=1; shift; fi

if ! command -v go >/dev/null 2>&1; then
  echo "engines: Go is not installed (the engines are built from Go modules)" >&2
  exit 2
fi

engine_key() {
  local dir="$1"
  {
    go version
    (cd "$dir" && find . -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' -o -name targets -o -name post-build.sh \) \
      -not -path './.build/*' | LC_ALL=C sort | xargs sha256sum)
  } | sha256sum | cut -c1-12
}

for engine in "$@"; do
  dir="$here/$engine"
  [ -f "$dir/targets" ] || { echo "engines: unknown engine '$engine' (no $dir/targets)" >&2; exit 2; }
  key="$(engine_key "$dir")"
  out="$cache/$engine-$key"
  if [ ! -f "$out/.complete" ] && [ "$find_only" = 1 ]; then
    echo "engines: $engine ($key) is not built" >&2
    exit 3
  fi
  if [ ! -f "$out/.complete" ]; then
    # One build at a time per engine, even from parallel test processes.
    exec 9>"$cache/$engine.lock"
    flock 9
    if [ ! -f "$out/.complete" ]; then
      start=$(date +%s)
      echo "engines: building $engine ($key); this takes a while only the first time" >&2
      tmp="$cache/.tmp-$engine-$key-$$"
      rm -rf "$tmp"; mkdir -p "$tmp/bin"
      while read -r name pkg extra; do
        [ -z "${name:-}" ] || [ "${name:0:1}" = "#" ] && continue
        (cd "$dir" && env CGO_ENABLED="${CGO_ENABLED:-0}" go build -trimpath ${extra:+$extra} \
            -o "$tmp/bin/$name" "$pkg") >&2
      done < "$dir/targets"
      if [ -x "$dir/post-build.sh" ]; then (cd "$dir" && ./post-build.sh "$tmp/bin") >&2; fi
      echo "$(( $(date +%s) - start ))" > "$tmp/build-seconds"
      touch "$tmp/.complete"
      rm -rf "$out"; mv "$tmp" "$out"
      # Older builds of this engine are stale pins: drop them.
      find "$cache" -maxdepth 1 -name "$engine-*" -not -name "$engine-$key" -exec rm -rf {} + 2>/dev/null || true
      echo "engines: built $engine in $(cat "$out/build-seconds") s" >&2
    fi
    exec 9>&-
  fi
  echo "$engine $out/bin"
done
