"""Where the jobs read state from and append records to: the git state branch, or a local directory."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from analyzer.runtime.gitstate import Backoff, StateRemote, fetch_states, record_to_git
from analyzer.runtime.records import Record, apply_record
from analyzer.state.model import ImageState, state_filename
from analyzer.state.store import images_dir, load_state_file, load_states, save_state


class StateAccess(Protocol):
    def load(self) -> dict[str, ImageState]: ...

    def record(self, records: Sequence[Record]) -> str:
        """Append the records; return a short description of where they landed."""
        ...


@dataclass
class GitStateAccess:
    """The state branch of a git remote (in-cluster); records are committed and pushed, race-safe."""

    remote: StateRemote
    workdir: Path | None = None
    backoff: Backoff = field(default_factory=Backoff)
    log: Callable[[str], None] = print

    def load(self) -> dict[str, ImageState]:
        return fetch_states(self.remote, self.workdir)

    def record(self, records: Sequence[Record]) -> str:
        result = record_to_git(self.remote, records, self.workdir, self.backoff, self.log)
        if result.commit is None:
            return f"already recorded on {self.remote.branch}"
        return f"recorded on {self.remote.branch}@{result.commit[:12]}"


@dataclass
class LocalStateAccess:
    """A state directory on disk (local runs and tests); each file is written atomically."""

    state_dir: Path

    def load(self) -> dict[str, ImageState]:
        return load_states(self.state_dir)

    def record(self, records: Sequence[Record]) -> str:
        for record in records:
            file = images_dir(self.state_dir) / state_filename(record.ref)
            previous = load_state_file(file) if file.exists() else None
            save_state(self.state_dir, apply_record(previous, record))
        return f"recorded in {self.state_dir}"
