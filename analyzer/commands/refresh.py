"""`image-factory refresh`: resolve every tracked tag and record new digests in state/."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from analyzer.cli import EXIT_PARTIAL
from analyzer.commands.options import config_option, json_option, now, state_option
from analyzer.config.loader import load_fleet
from analyzer.registry.client import RegistryClient
from analyzer.registry.credentials import CredentialStore
from analyzer.registry.refresh import refresh_all
from analyzer.state.store import load_states, save_state


@click.command("refresh")
@config_option("Root enrollment file (for registry settings and credentials).", name="config_path")
@state_option("State directory written by `analyze`.")
@json_option("Print a JSON report.")
def command(config_path: Path, state_dir: Path, as_json: bool) -> None:
    """Resolve every tracked base/external tag (one HEAD each when unchanged) and update its history.

    Exit 1 when some registry failed; those images keep their history untouched.
    """
    fleet = load_fleet(config_path)
    states = load_states(state_dir)
    credentials = CredentialStore.from_environment(fleet.defaults.registry_credentials)
    at = now()  # whole seconds, as `plan` and `record` read "now"
    with RegistryClient(fleet.registries, credentials) as client:
        outcomes = refresh_all(client, states, at, fleet.registries.history_limit)
    written = []
    for updated, result in outcomes:
        if result.error is None and save_state(state_dir, updated):
            written.append(updated.ref)
    failed = [result for _, result in outcomes if result.failed]
    if as_json:
        click.echo(json.dumps({"at": at.isoformat(), "images": [r.as_dict() for _, r in outcomes],
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
        sys.exit(EXIT_PARTIAL)


def _without_ref(error: str | None, ref: str) -> str:
    """Registry errors start with the reference they concern; the line already does, so say it once."""
    return (error or "").removeprefix(f"{ref}: ")
