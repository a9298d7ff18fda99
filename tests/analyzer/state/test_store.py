"""State files: stable, atomic, validated with file/line/field errors."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from analyzer.errors import InputError
from analyzer.state.model import DigestHistory, DigestRecord, ImageState, WarehouseState, state_filename
from analyzer.state.store import images_dir, load_states, render_state, save_state, save_states
from analyzer.yamlio import write_atomic

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def external(ref: str = "docker.io/library/python:3.12-slim") -> ImageState:
    return ImageState(ref=ref, kind="external",
                      warehouse=WarehouseState(repoURL="docker.io/library/python", constraint="3.12-slim"),
                      digests=DigestHistory(current="sha256:" + "a" * 64, history=[
                          DigestRecord(digest="sha256:" + "a" * 64, first_seen=T0, last_seen=T0)]))


def test_file_names_are_unique_and_readable() -> None:
    assert state_filename("python:3.12-slim") == "docker.io~library~python@3.12-slim.yaml"
    assert state_filename("localhost:5000/a/b-c") == "localhost:5000~a~b-c@latest.yaml"
    assert state_filename("localhost:5000/a-b/c") != state_filename("localhost:5000/a/b-c")


def test_round_trip_is_stable(tmp_path: Path) -> None:
    assert save_state(tmp_path, external()) is True
    loaded = load_states(tmp_path)
    assert loaded["docker.io/library/python:3.12-slim"] == external()
    assert save_state(tmp_path, loaded["docker.io/library/python:3.12-slim"]) is False  # identical: untouched
    text = render_state(external())
    assert "repoURL: docker.io/library/python" in text and "allowTags:" not in text
    assert text.index("digests:") < text.index("kind:") < text.index("ref:")  # sorted keys


def test_invalid_state_file_names_file_line_and_field(tmp_path: Path) -> None:
    folder = images_dir(tmp_path)
    folder.mkdir(parents=True)
    bad = folder / "docker.io~library~python@3.12-slim.yaml"
    bad.write_text("ref: docker.io/library/python:3.12-slim\nkind: external\ndigests:\n  current: 5\n  surprise: 1\n")
    with pytest.raises(InputError) as info:
        load_states(tmp_path)
    found = {(p.line, p.field) for p in info.value.problems}
    assert (5, "digests.surprise") in found and (4, "digests.current") in found
    assert all(p.file == str(bad) for p in info.value.problems)


def test_file_name_must_match_ref(tmp_path: Path) -> None:
    save_state(tmp_path, external())
    (images_dir(tmp_path) / "docker.io~library~python@3.12-slim.yaml").rename(images_dir(tmp_path) / "x@y.yaml")
    with pytest.raises(InputError, match="does not match ref"):
        load_states(tmp_path)


def test_atomic_write_leaves_no_temp_files_and_replaces_whole(tmp_path: Path) -> None:
    target = tmp_path / "f.yaml"
    assert write_atomic(target, "one\n")
    assert write_atomic(target, "two\n")
    assert target.read_text() == "two\n"
    assert sorted(os.listdir(tmp_path)) == ["f.yaml"]


def test_failed_write_keeps_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f.yaml"
    write_atomic(target, "previous\n")

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        write_atomic(target, "new\n")
    assert target.read_text() == "previous\n"
    assert sorted(os.listdir(tmp_path)) == ["f.yaml"]


def test_save_states_reports_only_changed(tmp_path: Path) -> None:
    states = [external(), external("docker.io/library/node:20-alpine")]
    assert len(save_states(tmp_path, states)) == 2
    assert save_states(tmp_path, states) == []


def test_batch_write_syncs_once_before_any_rename_and_never_tears(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """write_atomic_many: all temp files are written and made durable by one sync, then renamed; a failure
    part-way leaves every target whole (old or new), and no temp file behind."""
    import analyzer.yamlio as yamlio
    targets = [tmp_path / f"f{i}.yaml" for i in range(5)]
    for target in targets:
        target.write_text("old\n")
    events: list[str] = []
    real_replace, real_syncfs = os.replace, yamlio._syncfs

    def syncfs(fd: int) -> None:
        temps = sorted(p.name for p in tmp_path.glob(".*.tmp"))
        assert len(temps) == 5 and all((tmp_path / t).read_text() == "new\n" for t in temps)
        events.append("sync")
        real_syncfs(fd)

    def replace(src: str, dst: str) -> None:
        if len([e for e in events if e == "rename"]) == 3:
            raise OSError("disk gone")
        events.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(yamlio, "_syncfs", syncfs)
    monkeypatch.setattr(os, "replace", replace)
    fsyncs: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (fsyncs.append(fd), real_fsync(fd)))
    with pytest.raises(OSError, match="disk gone"):
        yamlio.write_atomic_many([(t, b"new\n") for t in targets])
    assert events == ["sync", "rename", "rename", "rename"]
    assert sorted(t.read_text() for t in targets) == ["new\n"] * 3 + ["old\n"] * 2
    assert sorted(os.listdir(tmp_path)) == sorted(t.name for t in targets)  # temp files removed
    monkeypatch.setattr(os, "replace", real_replace)
    events.clear()
    yamlio.write_atomic_many([(t, b"new\n") for t in targets])
    assert events == ["sync"] and all(t.read_text() == "new\n" for t in targets)
    assert len(fsyncs) == 1  # no per-file fsync: the directory once, after the renames


def test_save_states_writes_only_changed_files_in_one_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import analyzer.state.store as store
    states = [external(), external("docker.io/library/node:20-alpine")]
    batches: list[list[str]] = []
    real = store.commit_temp_files
    monkeypatch.setattr(store, "commit_temp_files",
                        lambda temps: (batches.append([p.name for _, p in temps]), real(temps))[1])
    save_states(tmp_path, states)
    changed = states[1].model_copy(update={"dependents": ["x"]})
    assert save_states(tmp_path, [states[0], changed]) == [images_dir(tmp_path) / state_filename(changed.ref)]
    assert batches == [[state_filename(s.ref) for s in states], [state_filename(changed.ref)]]
    assert load_states(tmp_path)[changed.ref] == changed
