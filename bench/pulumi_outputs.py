"""Size of the stack outputs at fleet scale: the real program (infra.program.build) under Pulumi's mocks on a
generated fleet, its exported outputs as JSON, against what it exported before they were cut to counts
(render's whole summary plus `status`), which is now the details file (`image-factory render --json`).

    python bench/pulumi_outputs.py --bases 2000 --managed 5000 [--teams 20]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pulumi

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class _Echo(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[Any, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[Any, Any], None]:
        return {}, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bases", type=int, default=2000)
    parser.add_argument("--managed", type=int, default=5000)
    parser.add_argument("--teams", type=int, default=0, help="split the fleet into this many include files")
    args = parser.parse_args()
    pulumi.runtime.set_mocks(_Echo(), project="image-factory", stack="bench", preview=False)
    from analyzer.kargo.settings import Settings
    from analyzer.planning.timeline import status_summary
    from analyzer.state.store import load_states
    from bench.kargo_fleet import write_render_fleet
    from bench.pulumi_teams import split_into_teams
    from infra.program import build

    with tempfile.TemporaryDirectory(prefix="image-factory-bench-outputs-") as tmp:
        config = write_render_fleet(Path(tmp) / "fleet", args.bases, args.managed)
        if args.teams:
            split_into_teams(config, args.teams)
        start = time.monotonic()
        holder: dict[str, Any] = {}

        @pulumi.runtime.test  # type: ignore[untyped-decorator]
        def run() -> pulumi.Output[Any]:
            program = build(config, config.parent / "state", Settings())
            holder["program"] = program
            return pulumi.Output.all(*[r.urn for r in program.resources.values()])

        run()
        seconds = time.monotonic() - start
        program = holder["program"]
        after = len(json.dumps(program.outputs, sort_keys=True))
        before = len(json.dumps({**program.project.summary,
                                 "status": status_summary(load_states(config.parent / "state"))}, sort_keys=True))
    print(f"{args.bases} base tags, {args.managed} managed images, {len(program.resources)} resources "
          f"({seconds:.1f} s under mocks)")
    print(f"stack outputs as JSON: {after:,} bytes (teams: {len(program.outputs['teams'])}); "
          f"before (render's summary + status, now the details file): {before:,} bytes")


if __name__ == "__main__":
    main()
