"""`image-factory verify-rebuild`: the rebuild Stage's verification job (AnalysisTemplate `verify-rebuild`)."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import click

from analyzer.cli import EXIT_OK, EXIT_PARTIAL
from analyzer.commands.jobsetup import JOB_EPILOG, job_options, logger, registry_client, state_access, utcnow
from analyzer.config.durations import parse_duration
from analyzer.discovery.reference import InvalidReference, parse_reference
from analyzer.kargo.conventions import JOB_EXIT_INVALID, JOB_EXIT_REFUSED
from analyzer.runtime.gitstate import StateRepoError
from analyzer.runtime.verify import VerifyIO, VerifyRequest, VerifySetupError, parse_base_digests, run_verify


@click.command("verify-rebuild", epilog=JOB_EPILOG)
@click.option("--image", required=True, help="Enrolled name of the managed image.")
@click.option("--ref", required=True, help="registry/repository:tag the build pushes.")
@click.option("--base-digests", required=True,
              help="Comma-separated vetted bases, `registry/repository:tag@sha256:…`.")
@click.option("--timeout", default="90m", show_default=True, help="How long to wait for the rebuilt tag.")
@click.option("--interval", default="30s", show_default=True, help="Time between checks.")
@job_options
def command(image: str, ref: str, base_digests: str, timeout: str, interval: str, state_repo: str | None,
            state_branch: str, state_path: str, state_dir: Path | None, config_path: Path | None) -> None:
    """Wait (bounded) until REF points to a new digest built on the vetted base digests.

    Records a rebuild record (success or failure; one failure per vetted base digest set, however often
    the job is retried) in the image's state. Exit 3 on failure or timeout (definitive: the Job is not
    retried), so Kargo marks the Stage's verification failed and children are not rebuilt on a broken
    parent; 2 on invalid arguments or a missing setting; 1 when the state repository could not be used.
    """
    log = logger("verify-rebuild")
    try:
        request = VerifyRequest(image, parse_reference(ref).tracked, parse_base_digests(base_digests),
                                parse_duration(timeout), parse_duration(interval))
    except (ValueError, InvalidReference) as exc:
        log(f"FAILED: invalid argument: {exc}")
        sys.exit(JOB_EXIT_INVALID)
    try:
        with registry_client(config_path) as registry, tempfile.TemporaryDirectory(prefix="image-factory-") as tmp:
            state = state_access("verify-rebuild", state_repo, state_branch, state_path, state_dir,
                                 Path(tmp) / "state")
            io = VerifyIO(state, registry, utcnow, time.sleep, log)
            verdict = run_verify(request, io)
    except StateRepoError as exc:
        log(f"FAILED: {exc}")
        sys.exit(EXIT_PARTIAL)
    except VerifySetupError as exc:
        log(f"FAILED: {exc}")
        sys.exit(JOB_EXIT_INVALID)
    log(("PASSED: " if verdict.ok else "FAILED: ") + verdict.reason)
    sys.exit(EXIT_OK if verdict.ok else JOB_EXIT_REFUSED)
