"""Turn the plain folders under examples/repos/ into real git repositories under examples/.repos/.

Commits use a fixed author and date, so the commit ids (recorded in state) are the same on every
machine and re-running changes nothing. A folder whose content changed gets one new commit.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import git

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "repos"
TARGET = HERE / ".repos"
FIXED_ENV = {
    "GIT_AUTHOR_NAME": "Image Factory Example", "GIT_AUTHOR_EMAIL": "examples@image-factory.invalid",
    "GIT_COMMITTER_NAME": "Image Factory Example", "GIT_COMMITTER_EMAIL": "examples@image-factory.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
}


def sync_repo(source: Path, target: Path) -> str:
    """Make `target` a git repo on branch main whose HEAD tree equals `source`; return HEAD."""
    if not (target / ".git").exists():
        target.mkdir(parents=True, exist_ok=True)
        git.Repo.init(target, initial_branch="main")
    repo = git.Repo(target)
    for child in target.iterdir():
        if child.name != ".git":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    shutil.copytree(source, target, dirs_exist_ok=True)
    repo.git.add("--all")
    if repo.head.is_valid() and not repo.index.diff("HEAD"):
        return repo.head.commit.hexsha
    with repo.git.custom_environment(**FIXED_ENV):
        repo.git.commit("--quiet", "--no-gpg-sign", "-m", f"{source.name}: example sources")
    return repo.head.commit.hexsha


def main() -> int:
    for source in sorted(p for p in SOURCES.iterdir() if p.is_dir()):
        head = sync_repo(source, TARGET / source.name)
        print(f"{source.name}: {head[:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
