"""`image-factory record`: append one entry to a state file on the state branch (commit + push, retried)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import click

from analyzer.cli import EXIT_PARTIAL
from analyzer.commands.jobsetup import JOB_EPILOG, state_remote_options
from analyzer.commands.options import at_option, resolve_at
from analyzer.config.durations import format_duration, parse_duration
from analyzer.discovery.reference import InvalidReference, parse_reference
from analyzer.runtime.gitstate import Backoff, RecordConflict, StateRemote, StateRepoError, record_to_git
from analyzer.runtime.records import RebuildAppend, Record, VettedRecord
from analyzer.state.model import RebuildRecord

DIGEST_HELP = "sha256:<64 hex>"


@dataclass(frozen=True)
class RecordTarget:
    remote_url: str | None
    branch: str | None
    path: str | None
    workdir: Path | None
    attempts: int


def tracked_ref(value: str, what: str = "REF") -> str:
    """`registry/repository:tag` of a tag reference; exits 2 with the reason when it is not one."""
    try:
        ref = parse_reference(value)
    except InvalidReference as exc:
        raise click.BadParameter(f"invalid image reference {value!r}: {exc}", param_hint=what) from None
    if ref.pinned and not ref.tag:
        raise click.BadParameter(f"{value!r} names a digest, not a tag", param_hint=what)
    return ref.tracked


def check_digest(value: str, what: str = "DIGEST") -> str:
    algo, _, hexpart = value.partition(":")
    if algo != "sha256" or len(hexpart) != 64 or any(c not in "0123456789abcdef" for c in hexpart):
        raise click.BadParameter(f"{value!r} is not a digest ({DIGEST_HELP})", param_hint=what)
    return value


def land(target: RecordTarget, records: list[Record]) -> None:
    """Commit and push; exit 1 with one clear line when the state remote refuses or every attempt lost."""
    try:
        remote = StateRemote.from_env(target.remote_url, target.branch, target.path)
        result = record_to_git(remote, records, target.workdir, Backoff(attempts=target.attempts),
                               log=lambda line: click.echo(f"record: {line}", err=True))
    except (RecordConflict, StateRepoError) as exc:
        click.echo(f"record: FAILED: {exc}", err=True)
        sys.exit(EXIT_PARTIAL)
    what = "; ".join(r.describe() for r in records)
    if result.commit is None:
        click.echo(f"record: already present: {what}", err=True)
    else:
        click.echo(f"record: {what} -> {remote.branch}@{result.commit[:12]} "
                   f"(attempt {result.attempts})", err=True)


@click.group("record", epilog=JOB_EPILOG)
@state_remote_options
@click.option("--workdir", type=click.Path(path_type=Path), default=None,
              help="Reusable working copy (default: a fresh temporary clone).")
@click.option("--attempts", type=click.IntRange(1, 1000), default=25, show_default=True,
              help="Push attempts before giving up.")
@click.pass_context
def command(ctx: click.Context, state_repo: str | None, state_branch: str, state_path: str, workdir: Path | None,
            attempts: int) -> None:
    """Append an entry to a state file on the state branch; concurrent runs never lose each other's entries."""
    ctx.obj = RecordTarget(state_repo, state_branch, state_path, workdir, attempts)


@command.command("vetted", epilog=JOB_EPILOG)
@click.argument("ref")
@click.argument("digest")
@at_option("When the gate passed (default: now, UTC).")
@at_option("First-seen time, used when the digest is not in the history yet.", name="--first-seen")
@click.option("--delay", default=None,
              help="The gate's delay (e.g. 168h or 7d): also records a per-delay gate entry, which the "
                   "gate's coalescing counts as this gate's last vet.")
@click.pass_obj
def vetted(target: RecordTarget, ref: str, digest: str, at: datetime | None, first_seen: datetime | None,
           delay: str | None) -> None:
    """Record that DIGEST of the base REF passed its gate (sets vetted_at in its digest history)."""
    try:
        delay_key = format_duration(parse_duration(delay)) if delay else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--delay") from None
    record = VettedRecord(ref=tracked_ref(ref), digest=check_digest(digest), at=resolve_at(at),
                          first_seen=first_seen, delay=delay_key)
    land(target, [record])


@command.command("rebuild", epilog=JOB_EPILOG)
@click.argument("ref")
@click.option("--outcome", type=click.Choice(["succeeded", "failed"]), required=True)
@click.option("--base", "bases", multiple=True, metavar="REF@DIGEST",
              help="A vetted base digest the rebuild was triggered with (repeatable).")
@click.option("--result-digest", default=None, help="Digest the rebuilt tag points to.")
@click.option("--reason", default=None, help="Why it failed (or a note).")
@at_option("When the outcome was observed (default: now, UTC).")
@click.pass_obj
def rebuild(target: RecordTarget, ref: str, outcome: str, bases: tuple[str, ...], result_digest: str | None,
            reason: str | None, at: datetime | None) -> None:
    """Record a rebuild outcome of the managed image REF."""
    base_digests: dict[str, str] = {}
    for base in bases:
        name, sep, digest = base.rpartition("@")
        if not sep:
            raise click.BadParameter(f"{base!r} is not REF@DIGEST", param_hint="--base")
        base_digests[tracked_ref(name, "--base")] = check_digest(digest, "--base")
    record = RebuildAppend(ref=tracked_ref(ref), rebuild=RebuildRecord(
        at=resolve_at(at), outcome=outcome,  # type: ignore[arg-type]
        base_digests=base_digests,
        result_digest=check_digest(result_digest, "--result-digest") if result_digest else None,
        reason=reason))
    land(target, [record])
