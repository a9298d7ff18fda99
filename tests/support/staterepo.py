"""A real bare git repository acting as the state remote, seeded with state files on branch `state`."""

from __future__ import annotations

from pathlib import Path

import git

from analyzer.state.model import ImageState
from analyzer.state.store import load_states, save_state


def make_state_remote(tmp: Path, states: list[ImageState], branch: str = "state") -> Path:
    """Bare repo at tmp/remote.git whose `branch` holds `state/images/*.yaml` for `states`."""
    remote = tmp / "remote.git"
    git.Repo.init(remote, bare=True)
    seed = git.Repo.init(tmp / "seed")
    with seed.config_writer() as config:
        config.set_value("user", "name", "seed")
        config.set_value("user", "email", "seed@localhost")
    (tmp / "seed" / "README.md").write_text("state\n")
    for state in states:
        save_state(tmp / "seed" / "state", state)
    seed.git.add("--all")
    seed.git.commit("-m", "seed")
    seed.git.push(str(remote), f"HEAD:refs/heads/{branch}")
    return remote


def read_remote_states(remote: Path, into: Path, branch: str = "state") -> dict[str, ImageState]:
    """Clone the remote's branch fresh and load (validate) every state file on it."""
    git.Repo.clone_from(str(remote), into, branch=branch)
    return load_states(into / "state")


def remote_head(remote: Path, branch: str = "state") -> str:
    return git.Repo(remote).commit(f"refs/heads/{branch}").hexsha
