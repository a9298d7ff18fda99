"""Run the real Pulumi program (infra.program.build) under mocks for a given fleet; prints the count.

Used by bench/run.py in a fresh process, so its wall time and peak RSS are the program's own.

    python bench/pulumi_program.py IMAGES_YAML STATE_DIR [--teams FILE ...] [--shared all|none|K/N]

`--teams`/`--shared` are the per-team stack settings (analyzer/kargo/stacks.py): the program builds the
whole project and registers that stack's part only.
"""

from __future__ import annotations

import argparse
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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", type=Path)
    parser.add_argument("state", type=Path)
    parser.add_argument("--teams", nargs="*", help="enrollment files whose rebuild Stages this stack renders")
    parser.add_argument("--shared", default="all", help="all, none or a shard K/N of the shared objects")
    args = parser.parse_args()
    pulumi.runtime.set_mocks(_Echo(), project="image-factory", stack="bench", preview=False)
    from analyzer.kargo.settings import Settings
    from infra.program import build, collect_cycles_rarely, drop_sdk_debug_messages, start_registrations

    collect_cycles_rarely()  # as infra/program.py's main() does
    drop_sdk_debug_messages()
    settings = Settings(teams=args.teams, shared=args.shared)

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def run() -> pulumi.Output[Any]:
        program = build(args.config, args.state, settings)
        start_registrations()
        return pulumi.Output.all(*[r.urn for r in program.resources.values()])

    run()
    print(f"{_Echo.count} resources registered")


if __name__ == "__main__":
    main()
