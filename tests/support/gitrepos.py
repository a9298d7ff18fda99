"""Real git repositories for tests: a bare remote with one commit, and pushing a change to it."""

from __future__ import annotations

import shutil
from pathlib import Path

import git

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}


def make_remote(tmp_path: Path, name: str, files: dict[str, str]) -> Path:
    """A bare repository `name.git` with one commit on main holding `files`."""
    work = tmp_path / "work" / name
    repo = git.Repo.init(work, initial_branch="main")
    for path, text in files.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text(text)
    repo.git.add("--all")
    repo.git.commit("-m", "init", "--no-gpg-sign", env=GIT_ENV)
    bare = tmp_path / "remotes" / f"{name}.git"
    git.Repo.clone_from(work, bare, bare=True)
    return bare


def push_change(remote: Path, path: str, text: str) -> None:
    work = remote.parent.parent / "push" / remote.stem
    if work.exists():
        shutil.rmtree(work)
    repo = git.Repo.clone_from(remote, work)
    (work / path).write_text(text)
    repo.git.add("--all")
    repo.git.commit("-m", "change", "--no-gpg-sign", env=GIT_ENV)
    repo.git.push("origin", "main")
