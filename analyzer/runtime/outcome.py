"""What the rebuild records say about a managed image: is it failing, and what was the last good build.

A failed verify-rebuild stops the cascade at that image; `status` shows the failure's reason and the
last good digest, which is where a rollback goes back to.
"""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.registry.refresh import last_successful_rebuild
from analyzer.state.model import ImageState, RebuildRecord


@dataclass(frozen=True)
class RebuildSummary:
    last: RebuildRecord | None
    last_good: RebuildRecord | None

    @property
    def failing(self) -> bool:
        return self.last is not None and self.last.outcome == "failed"

    def as_dict(self) -> dict[str, object]:
        return {
            "lastOutcome": self.last.outcome if self.last else None,
            "lastAt": self.last.at.isoformat() if self.last else None,
            "failureReason": self.last.reason if self.last and self.failing else None,
            "lastGoodDigest": self.last_good.result_digest if self.last_good else None,
            "lastGoodAt": self.last_good.at.isoformat() if self.last_good else None,
        }

    def text(self) -> list[str]:
        if self.last is None:
            return []
        good = (f"{self.last_good.result_digest or '-'} ({self.last_good.at.isoformat()})"
                if self.last_good else "-")
        if self.failing:
            return [f"  last rebuild FAILED at {self.last.at.isoformat()}: {self.last.reason or 'no reason recorded'}",
                    f"    last good build: {good}"]
        return [f"  last rebuild succeeded at {self.last.at.isoformat()}: {good}"]


def rebuild_summary(state: ImageState) -> RebuildSummary:
    last = max(state.rebuilds, key=lambda r: r.at) if state.rebuilds else None
    return RebuildSummary(last, last_successful_rebuild(state))
