"""Line numbers of values: in a plain document they are found by walking the nodes along the path; the
answer must be the one the full line map (`_positions`) gives, for every path, also below and beside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.yamlio import LocatedDocument, _positions, load_located
from tests.support import ROOT

DOCUMENTS = [ROOT / "images.yaml", *sorted((ROOT / "images.d").glob("*.yaml")),
             *sorted((ROOT / "state" / "images").glob("*.yaml"))[:5]]


@pytest.mark.parametrize("file", DOCUMENTS, ids=lambda p: p.name)
def test_walking_gives_the_line_the_full_map_gives(file: Path) -> None:
    doc = load_located(file)
    assert doc._plain, "the repository's own files are plain documents"
    mapped = LocatedDocument(file, doc.data, doc._root, plain=False)
    paths = list(_positions(doc._root)) if doc._root is not None else []
    assert len(paths) > 10
    probes = [*paths, *[(*p, "no-such-key") for p in paths], *[(*p, 10_000) for p in paths],
              *[(*p, 0, "x") for p in paths], ("images", -1), ()]
    for path in probes:
        assert doc.line_of(path) == mapped.line_of(path), path


def test_a_document_with_anchors_keeps_the_full_map(tmp_path: Path) -> None:
    file = tmp_path / "anchors.yaml"
    file.write_text("a: &x\n  b: 1\nc: *x\n")
    doc = load_located(file)
    assert not doc._plain and doc._root is not None
    positions = _positions(doc._root)
    assert all(doc.line_of(path) == line for path, line in positions.items())
