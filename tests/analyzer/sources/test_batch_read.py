"""The batched git reader (one `cat-file --batch` per repository commit) answers exactly what the per-file
reader (`blob_id` + `read_blob`) answers: same blob ids, texts, refusals and messages."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from analyzer.sources.git import GitCache, SourceError, SourceFile, _branch_from_ref_files

GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("batch") / "repo"
    files = {"Dockerfile": "FROM python:3.12\n", "a/Dockerfile": "FROM node:20\n",
             "a/b/c/Dockerfile.prod": "FROM alpine:3.20\n", "with space/Dockerfile": "FROM redis:7\n",
             "exec/Dockerfile": "FROM debian:12\n", "empty/Dockerfile": ""}
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    (root / "latin1").mkdir()
    (root / "latin1" / "Dockerfile").write_bytes(b"FROM caf\xe9\n")
    (root / "exec" / "Dockerfile").chmod(0o755)
    os.symlink("Dockerfile", root / "a" / "link")
    os.symlink("a", root / "dirlink")
    git(root.parent, "init", "-q", "-b", "main", str(root))
    git(root, "add", "-A")
    # a submodule entry (gitlink) without a checkout
    git(root, "update-index", "--add", "--cacheinfo", f"160000,{'1' * 40},sub/module")
    git(root, "commit", "-q", "--no-gpg-sign", "-m", "init")
    return root


PATHS = ["Dockerfile", "a/Dockerfile", "a/b/c/Dockerfile.prod", "with space/Dockerfile", "exec/Dockerfile",
         "empty/Dockerfile", "latin1/Dockerfile", "a/link", "dirlink", "dirlink/Dockerfile", "a", "a/b",
         "sub/module", "missing/Dockerfile", "a/missing", "Dockerfile/x", "./Dockerfile", "a//Dockerfile",
         "a/../Dockerfile", "a\nb"]


def per_file(cache: GitCache, url: str, commit: str, path: str) -> SourceFile | str:
    try:
        blob = cache.blob_id(url, commit, path)
        return SourceFile(text=cache.read_blob(url, commit, blob, path), commit=commit, blob=blob)
    except SourceError as exc:
        return f"error: {exc}"


def batched(found: SourceFile | SourceError) -> SourceFile | str:
    return f"error: {found}" if isinstance(found, SourceError) else found


@pytest.mark.parametrize("as_url", [False, True], ids=["local path", "file:// mirror"])
def test_batched_read_equals_per_file_read(repo: Path, tmp_path: Path, as_url: bool) -> None:
    url = repo.as_uri() if as_url else str(repo)
    commit = git(repo, "rev-parse", "HEAD")
    reference = {p: per_file(GitCache(tmp_path / "ref"), url, commit, p) for p in PATHS}
    got = GitCache(tmp_path / "batch").read_files(url, commit, PATHS)
    assert set(got) == set(PATHS)
    assert {p: batched(v) for p, v in got.items()} == reference
    # the comparison is not vacuous: files, refusals of every kind
    assert reference["a/b/c/Dockerfile.prod"] == SourceFile("FROM alpine:3.20\n", commit,
                                                            git(repo, "rev-parse", "HEAD:a/b/c/Dockerfile.prod"))
    kinds = {p: str(v).split(" ", 1)[0] if isinstance(v, str) else "file" for p, v in reference.items()}
    assert "symlink" in str(reference["a/link"]) and "not a file" in str(reference["sub/module"])
    assert "not UTF-8" in str(reference["latin1/Dockerfile"]) and "not found" in str(reference["a/missing"])
    assert list(kinds.values()).count("file") == 6


def test_local_repository_is_not_mirrored(repo: Path, tmp_path: Path) -> None:
    commit = git(repo, "rev-parse", "HEAD")
    got = GitCache(tmp_path / "cache").read_files(str(repo), commit, ["Dockerfile"])
    assert isinstance(got["Dockerfile"], SourceFile)
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())


def test_branch_from_ref_files_matches_git(repo: Path, tmp_path: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    assert _branch_from_ref_files(repo, "main") == head
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    git(bare, "pack-refs", "--all")  # the branch now lives only in packed-refs
    assert not (bare / "refs" / "heads" / "main").exists()
    assert _branch_from_ref_files(bare, "main") == head
    assert _branch_from_ref_files(bare, "nope") is None
    assert _branch_from_ref_files(repo, "../HEAD") is None  # never a path outside refs/heads
    assert GitCache(tmp_path / "c").head(str(bare), "main") == head


def test_a_git_dir_in_the_environment_does_not_redirect_the_read(repo: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "other"
    git(tmp_path, "init", "-q", "-b", "main", str(other))
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))  # what a git hook's environment carries
    commit = subprocess.run(["git", "-C", str(repo), "--git-dir", str(repo / ".git"), "rev-parse", "HEAD"],
                            capture_output=True, text=True, check=True).stdout.strip()
    got = GitCache(tmp_path / "cache").read_files(str(repo), commit, ["a/Dockerfile"])
    assert isinstance(got["a/Dockerfile"], SourceFile) and got["a/Dockerfile"].text == "FROM node:20\n"
