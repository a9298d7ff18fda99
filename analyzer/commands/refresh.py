"""`image-factory refresh`: resolve every tracked tag and record new digests in state/."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from analyzer.config.loader import load_fleet
from analyzer.registry.client import RegistryClient
from analyzer.registry.credentials import CredentialStore
from analyzer.registry.refresh import refresh_all
from analyzer.state.store import load_states, save_state


@click.command("refresh")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=Path("images.yaml"),
              show_default=True, help="Root enrollment file (for registry settings and credentials).")
@click.option("--state", "state_dir", type=click.Path(path_type=Path), default=Path("state"),
              show_default=True, help="State directory written by `analyze`.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report.")
def command(config_path: Path, state_dir: Path, as_json: bool) -> None:
    """Resolve every tracked base/external tag (one HEAD each when unchanged) and update its history.

    Exit 1 when some registry failed; those images keep their history untouched.
    """
    fleet = load_fleet(config_path)
    states = load_states(state_dir)
    credentials = CredentialStore.from_environment(fleet.defaults.registry_credentials)
    now = datetime.now(UTC).replace(microsecond=0)  # whole seconds, as `plan` and `record` read "now"
    with RegistryClient(fleet.registries, credentials) as client:
        outcomes = refresh_all(client, states, now, fleet.registries.history_limit)
    written = []
    for updated, result in outcomes:
        if result.error is None and save_state(state_dir, updated):
            written.append(updated.ref)
    failed = [result for _, result in outcomes if result.failed]
    if as_json:
        click.echo(json.dumps({"at": now.isoformat(), "images": [r.as_dict() for _, r in outcomes],
                               "written": written, "failed": len(failed)}, indent=2))
    else:
        for _, result in outcomes:
            if result.not_built:
                click.echo(f"{result.ref}: not built yet ({_without_ref(result.error, result.ref)})")
            elif result.error is not None:
                click.echo(f"{result.ref}: error ({result.error_kind}): {_without_ref(result.error, result.ref)}")
            elif result.change == "moved":
                detail = f" (platforms changed: {', '.join(result.changed_platforms)})" \
                    if result.changed_platforms else ""
                click.echo(f"{result.ref}: moved {result.previous} -> {result.digest}{detail}")
            else:
                click.echo(f"{result.ref}: {result.change} {result.digest}")
        click.echo(f"{len(outcomes)} tag(s) checked, {len(written)} state file(s) written, "
                   f"{len(failed)} failed")
    if failed:
        sys.exit(1)


def _without_ref(error: str | None, ref: str) -> str:
    """Registry errors start with the reference they concern; the line already does, so say it once."""
    return (error or "").removeprefix(f"{ref}: ")
