"""docs/performance.md's table from `bench/run.py --json` output:

    python bench/run.py --suite analyze --peer renovate --json > analyze.json
    python bench/run.py --suite render --json > render.json
    python bench/table.py analyze.json render.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import Result, print_comparison, table  # noqa: E402


def main() -> None:
    results: list[Result] = []
    peer = None
    for name in sys.argv[1:]:
        report = json.loads(Path(name).read_text())
        print(f"<!-- {name}: {report['cores']} cores, load average before {report['load_average']['before']}, "
              f"after {report['load_average']['after']} -->")
        results += [Result(**r) for r in report["results"]]
        peer = report.get("peer", peer)
    for line in table(results):
        print(line)
    if peer:
        print_comparison(peer)


if __name__ == "__main__":
    main()
