"""`image-factory gate`: the soak Stage's verification job (AnalysisTemplate `gate`)."""

from __future__ import annotations

import os
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
from analyzer.runtime.firstseen import KubernetesFreightSource
from analyzer.runtime.gate import GateIO, GateRequest, GateVerdict, run_gate
from analyzer.runtime.gitstate import StateRepoError
from analyzer.runtime.signature import ENV_KEYS_DIR

EXIT_CODES: dict[GateVerdict, int] = {"vetted": EXIT_OK, "retry": EXIT_PARTIAL, "misconfigured": JOB_EXIT_INVALID,
                                     "refused": JOB_EXIT_REFUSED, "skipped": JOB_EXIT_REFUSED}
"""1 is what a crash exits with too: the Job retries those pods; 2 and 3 fail the Job at once."""


def default_key(warehouse: str) -> Path | None:
    folder = os.environ.get(ENV_KEYS_DIR)
    key = Path(folder) / f"{warehouse}.pub" if folder else None
    return key if key is not None and key.is_file() else None


@click.command("gate", epilog=JOB_EPILOG)
@click.option("--warehouse", required=True, help="Kargo Warehouse the Freight came from.")
@click.option("--repository", required=True, help="Image repository (the Warehouse's repoURL).")
@click.option("--tag", required=True, help="Tag the Warehouse follows.")
@click.option("--digest", required=True, help="The held digest (the Freight's image digest).")
@click.option("--delay", required=True, help="Soak delay, e.g. 168h or 7d.")
@click.option("--cosign-key", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help=f"PEM public key to verify the digest's cosign signature with "
                   f"(default: ${ENV_KEYS_DIR}/<warehouse>.pub when present; otherwise not checked).")
@click.option("--retry-for", default="30m", show_default=True,
              help="After the soak, keep re-checking this long while a registry outage gets in the way.")
@job_options
def command(warehouse: str, repository: str, tag: str, digest: str, delay: str, cosign_key: Path | None,
            retry_for: str, state_repo: str | None, state_branch: str, state_path: str, state_dir: Path | None,
            config_path: Path | None) -> None:
    """Hold DIGEST until its first-seen time + DELAY, then vet it (exit 0) or say why not.

    First seen = the Freight's discovery time (in-cluster) or the state history. The wait is the
    *remaining* time, so a restarted pod resumes. Then the digest must still resolve, and change a
    platform the dependents build; on success `vetted_at` is recorded in the base's state history.
    A digest superseded by a newer digest of the tag that also clears is SKIPPED (recorded too).

    Exit codes: 0 vetted; 3 refused or skipped (definitive); 2 invalid argument or missing/wrong setting;
    1 an outage (registry, state repository) got in the way: worth retrying the pod.
    """
    log = logger("gate")
    try:
        request = GateRequest(warehouse, repository, tag, digest, parse_duration(delay),
                              cosign_key or default_key(warehouse), parse_duration(retry_for))
        parse_reference(f"{request.ref}@{digest}")
    except (ValueError, InvalidReference) as exc:
        log(f"FAILED: invalid argument: {exc}")
        sys.exit(JOB_EXIT_INVALID)
    try:
        with registry_client(config_path) as registry, tempfile.TemporaryDirectory(prefix="image-factory-") as tmp:
            state = state_access("gate", state_repo, state_branch, state_path, state_dir, Path(tmp) / "state")
            io = GateIO(state, registry, KubernetesFreightSource.in_cluster(), utcnow, time.sleep, log)
            outcome = run_gate(request, io)
    except StateRepoError as exc:
        log(f"FAILED: {exc}")
        sys.exit(EXIT_PARTIAL)
    label = {"vetted": "PASSED", "skipped": "SKIPPED"}.get(outcome.verdict, "FAILED")
    log(f"{label}: {outcome.reason}")
    sys.exit(EXIT_CODES[outcome.verdict])
