"""The discovery phase of `analyze` alone, in its own process: load the config, resolve every source ref,
read and parse every Dockerfile (cold caches under CACHE). No planning, no state. Prints the image count.

    python bench/discovery.py IMAGES_YAML CACHE
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analyzer.analyze import Sources, discover_fleet, resolve_heads  # noqa: E402
from analyzer.config.loader import load_fleet  # noqa: E402


def main() -> None:
    fleet = load_fleet(Path(sys.argv[1]))
    sources = Sources(Path(sys.argv[2]))
    discoveries = discover_fleet(fleet, sources, resolve_heads(fleet, sources))
    failed = [name for name, d in discoveries.items() if d.error]
    print(f"{len(discoveries)} Dockerfiles discovered, {len(failed)} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
