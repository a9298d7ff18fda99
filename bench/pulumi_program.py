"""Run the real Pulumi program (infra.program.build) under mocks for a given fleet; prints the count.

Used by bench/run.py in a fresh process, so its wall time and peak RSS are the program's own.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pulumi

ROOT = Path(__file__).resolve().parents[1]


class _Echo(pulumi.runtime.Mocks):
    count = 0

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[Any, Any]]:
        _Echo.count += 1
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[Any, Any], None]:
        return {}, None


def main() -> None:
    config, state = Path(sys.argv[1]), Path(sys.argv[2])
    pulumi.runtime.set_mocks(_Echo(), project="image-factory", stack="bench", preview=False)
    from analyzer.kargo.settings import Settings
    from infra.program import build

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def run() -> pulumi.Output[Any]:
        program = build(config, state, Settings())
        return pulumi.Output.all(*[r.urn for r in program.resources.values()])

    run()
    print(f"{_Echo.count} resources registered")


if __name__ == "__main__":
    main()
