"""Build realistic state/ contents by hand: managed images with bases, digest histories, rebuild records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from analyzer.config.model import Trigger, WebhookTrigger
from analyzer.state.model import (
    BaseUse,
    DigestHistory,
    DigestRecord,
    ImageState,
    ManagedState,
    RebuildRecord,
    SourceState,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
PY = "docker.io/library/python:3.12-slim"
NODE = "docker.io/library/node:20-alpine"


def digest(label: str) -> str:
    """A valid-looking, readable digest: `sha256:` + label hex-encoded and padded to 64 digits."""
    return "sha256:" + label.encode().hex().ljust(64, "0")[:64]


def registry_ref(name: str) -> str:
    return f"registry.example.com/platform/{name}:main"


@dataclass
class Fleet:
    """A hand-made fleet. `managed(...)` / `external(...)` / `seen(...)` / `built(...)` then `.states`."""

    states: dict[str, ImageState] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    def managed(self, name: str, *uses: str, delay: str = "168h", via: str = "from",
                auto_rebuild: bool = True, platforms: tuple[str, ...] = ()) -> Fleet:
        """`uses`: external refs (containing '/' or ':') or names of managed images declared before."""
        bases = []
        for line, use in enumerate(uses, start=1):
            if use in self.names:
                bases.append(BaseUse(image=self.names[use], tracked=self.names[use], kind="managed", parent=use,
                                     via=via, dockerfile="Dockerfile", line=line))  # type: ignore[arg-type]
            else:
                self.external(use)
                bases.append(BaseUse(image=use, tracked=use, kind="external", via=via,  # type: ignore[arg-type]
                                     dockerfile="Dockerfile", line=line))
                self.states[use].dependents = sorted({*self.states[use].dependents, name})
        ref = registry_ref(name)
        self.names[name] = ref
        self.states[ref] = ImageState(
            ref=ref, kind="managed", name=name,
            managed=ManagedState(
                source=SourceState(repo="https://git.example.com/platform.git", ref="main",
                                   dockerfile=f"{name}/Dockerfile"),
                trigger=Trigger(webhook=WebhookTrigger(url=f"https://ci.example.com/{name}")),
                delay=delay, auto_rebuild=auto_rebuild, bases=bases, platforms=list(platforms),
                parents=sorted(u for u in uses if u in self.names)))
        for use in uses:
            if use in self.names and use != name:
                parent = self.states[self.names[use]]
                assert parent.managed is not None
                parent.managed.children = sorted({*parent.managed.children, name})
                parent.dependents = sorted({*parent.dependents, name})
        return self

    def external(self, ref: str) -> Fleet:
        self.states.setdefault(ref, ImageState(ref=ref, kind="external"))
        return self

    def seen(self, ref: str, label: str, first_seen: datetime, platforms: dict[str, str] | None = None) -> Fleet:
        """The registry saw a new digest `label` behind `ref` at `first_seen` (platform → manifest label)."""
        state = self.states[ref]
        record = DigestRecord(digest=digest(label), first_seen=first_seen, last_seen=first_seen,
                              platforms={p: digest(m) for p, m in (platforms or {}).items()})
        state.digests = DigestHistory(current=record.digest, history=[*state.digests.history, record])
        return self

    def built(self, name: str, at: datetime, outcome: str = "succeeded", **bases: str) -> Fleet:
        """A rebuild record of `name`; keyword args map 'py'/'node' or a full ref to a digest label."""
        aliases = {"py": PY, "node": NODE}
        state = self.states[self.names[name]]
        state.rebuilds.append(RebuildRecord(
            at=at, outcome=outcome,  # type: ignore[arg-type]
            base_digests={aliases.get(k, k): digest(v) for k, v in bases.items()},
            result_digest=digest(f"{name}@{at:%m%d%H}") if outcome == "succeeded" else None,
            reason=None if outcome == "succeeded" else "build failed: exit status 1"))
        return self
