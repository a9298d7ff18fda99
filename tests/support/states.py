"""Build state fixtures directly with the state models (until `analyze` writes them)."""

from __future__ import annotations

from collections.abc import Iterable

from analyzer.config.model import Trigger, WebhookTrigger
from analyzer.state.model import (
    BaseUse,
    DigestHistory,
    ImageState,
    ManagedState,
    RebuildRecord,
    SourceState,
)


def external_state(ref: str, dependents: Iterable[str] = (),
                   digests: DigestHistory | None = None) -> ImageState:
    """An external (monitored, not built) image followed by tag."""
    return ImageState(ref=ref, kind="external", dependents=list(dependents),
                      digests=digests or DigestHistory())


def managed_state(name: str, ref: str, bases: Iterable[str], *, delay: str = "168h",
                  platforms: Iterable[str] = (), rebuilds: Iterable[RebuildRecord] = ()) -> ImageState:
    """A managed image whose Dockerfile uses `bases` (tracked refs) with FROM."""
    managed = ManagedState.model_validate({
        "source": SourceState(repo="https://git.example.com/team/app.git", ref="main",
                              dockerfile="Dockerfile"),
        "trigger": Trigger.model_validate({"webhook": WebhookTrigger(url="https://ci.example.com/build")}),
        "delay": delay, "autoRebuild": True, "platforms": list(platforms),
        "bases": [BaseUse(image=base, tracked=base, kind="external", dockerfile="Dockerfile", line=i + 1)
                  for i, base in enumerate(bases)],
    })
    return ImageState(ref=ref, kind="managed", name=name, enrolled_in="images.yaml", managed=managed,
                      rebuilds=list(rebuilds))
