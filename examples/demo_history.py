"""Add a made-up but consistent digest history and rebuild records to the example fleet's state/.

DEMO DATA, not from any registry or build: it lets `plan`, `graph` and `report` show every status on
the bundled example without network access. Run after `image-factory analyze`, then plan as of DEMO_AT:

    python examples/demo_history.py && image-factory report --at 2026-11-20T09:00:00Z --out report
"""

from __future__ import annotations

import hashlib
import sys
from datetime import UTC, datetime
from pathlib import Path

from analyzer.state.model import DigestHistory, DigestRecord, ImageState, RebuildRecord
from analyzer.state.store import load_states, save_states

DEMO_AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
PY = "docker.io/library/python:3.12-slim"
NODE = "docker.io/library/node:20-alpine"
NGINX = "docker.io/library/nginx:1.27-alpine"
BUSYBOX = "docker.io/library/busybox:1.36"
DISTROLESS = "gcr.io/distroless/static-debian12:nonroot"
REDIS = "docker.io/library/redis:7"


def digest(label: str) -> str:
    return "sha256:" + hashlib.sha256(f"image-factory demo {label}".encode()).hexdigest()


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# ref → (label, first seen, last seen) oldest first; the last one is current.
HISTORY: dict[str, list[tuple[str, str, str]]] = {
    PY: [("python-1", "2026-10-01T06:00", "2026-11-06T06:00"), ("python-2", "2026-11-06T06:00", "2026-11-16T06:00"),
         ("python-3", "2026-11-16T06:00", "2026-11-20T08:00")],
    NODE: [("node-1", "2026-10-20T12:00", "2026-11-10T12:00"), ("node-2", "2026-11-10T12:00", "2026-11-20T08:00")],
    NGINX: [("nginx-1", "2026-10-15T00:00", "2026-11-20T08:00")],
    BUSYBOX: [("busybox-1", "2026-09-01T00:00", "2026-11-20T08:00")],
    DISTROLESS: [("distroless-1", "2026-09-10T00:00", "2026-11-18T03:00"),
                 ("distroless-2", "2026-11-18T03:00", "2026-11-20T08:00")],
    REDIS: [("redis-1", "2026-10-01T00:00", "2026-11-20T08:00")],
}

# image name → (at, outcome, {ref: label}, reason)
REBUILDS: dict[str, list[tuple[str, str, dict[str, str], str | None]]] = {
    "base-python": [("2026-10-08T06:10", "succeeded", {PY: "python-1"}, None),
                    ("2026-11-13T06:10", "succeeded", {PY: "python-2"}, None)],
    "ml-runtime": [("2026-10-08T06:40", "succeeded", {PY: "python-1"}, None),
                   ("2026-11-13T06:40", "succeeded", {PY: "python-2"}, None)],
    "payments-api": [("2026-10-08T06:35", "succeeded", {PY: "python-1"}, None),
                     ("2026-11-13T06:35", "succeeded", {PY: "python-2"}, None)],
    "payments-worker": [("2026-10-15T06:00", "succeeded", {PY: "python-1", BUSYBOX: "busybox-1"}, None),
                        ("2026-11-13T07:05", "failed", {PY: "python-2", BUSYBOX: "busybox-1"},
                         "verify: smoke test `python -m payments.worker --check` exited 1")],
    "base-node": [("2026-10-27T12:20", "succeeded", {NODE: "node-1"}, None)],
    "web-frontend": [("2026-10-27T12:50", "succeeded", {NODE: "node-1", NGINX: "nginx-1"}, None)],
    "edge-proxy": [("2026-09-17T00:30", "succeeded", {DISTROLESS: "distroless-1"}, None)],
}


def with_demo_history(states: dict[str, ImageState]) -> dict[str, ImageState]:
    """A copy of `states` with the demo digests and rebuild records (refs missing from state are skipped)."""
    out = dict(states)
    for ref, records in HISTORY.items():
        if ref in out:
            history = [DigestRecord(digest=digest(label), first_seen=t(first), last_seen=t(last))
                       for label, first, last in records]
            out[ref] = out[ref].model_copy(update={"digests": DigestHistory(current=history[-1].digest,
                                                                            history=history)})
    by_name = {s.name: ref for ref, s in out.items() if s.kind == "managed" and s.name}
    for name, rebuilds in REBUILDS.items():
        if name in by_name:
            records = [RebuildRecord(at=t(at), outcome=outcome,  # type: ignore[arg-type]
                                     base_digests={ref: digest(label) for ref, label in bases.items()},
                                     result_digest=digest(f"{name} {at}") if outcome == "succeeded" else None,
                                     reason=reason)
                       for at, outcome, bases, reason in rebuilds]
            out[by_name[name]] = out[by_name[name]].model_copy(update={"rebuilds": records})
    return out


def main(state_dir: Path = Path("state")) -> int:
    states = load_states(state_dir)
    if not states:
        print(f"no state in {state_dir}: run `image-factory analyze` first", file=sys.stderr)
        return 2
    changed = save_states(state_dir, with_demo_history(states).values())
    print(f"demo history written to {len(changed)} state file(s); plan as of {DEMO_AT.isoformat()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("state")))
