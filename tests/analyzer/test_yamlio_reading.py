"""Reading YAML fast without reading it differently: line numbers found by walking the nodes (the answer the
full line map gives), the flow-nesting bound (never below what libyaml reaches), the remembered tags of
plain scalars (PyYAML's resolver's answers)."""

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


def _deepest_flow_nesting(text: str) -> int:
    """The deepest nesting of flow collections libyaml's events reach (up to a syntax error, if any)."""
    import yaml

    from analyzer.yamlio import _SafeLoader
    stack: list[bool] = []
    deepest = 0
    try:
        for event in yaml.parse(text, Loader=_SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                stack.append(bool(event.flow_style))
                deepest = max(deepest, sum(stack))
            elif isinstance(event, yaml.CollectionEndEvent):
                stack.pop()
    except yaml.YAMLError:
        pass
    return deepest


def test_the_flow_depth_bound_is_never_below_what_the_parser_reaches() -> None:
    """`check_depth` skips counting the parser's events when `_flow_depth_bound` says the nesting is
    shallow; a bound below the real nesting would let a deep document reach libyaml's recursive composer.
    Random documents built from the characters that matter (brackets, quotes, comments, indicators, breaks)
    and the usual shapes."""
    import random

    from analyzer.yamlio import _flow_depth_bound
    pieces = ["[", "]", "{", "}", "'", '"', "''", "\\", "#", " #", ": ", ":", "- ", "? ", ",", ", ", "a", "b c",
              " ", "\t", "\n", "\n  ", "\n- ", "\r", "&x ", "!t ", "|\n  ", ">\n  ", "key: ", "'s", "it's",
              "{url: 'x'}", "[a, [b]]", '"q\\" ["', "'p '' ['", "\u2028", "\x85", "---\n", "*x", "-", "?",
              "\r\n", "\\\n", '"a\\\n b"']
    rng = random.Random(20261130)
    bounded = 0
    for _ in range(30_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 24)))
        bound = _flow_depth_bound(text)
        if bound is not None:
            bounded += 1
            assert _deepest_flow_nesting(text) <= bound, repr(text)
    assert bounded > 5_000  # the bound answers for most lines, not only for empty ones
    assert _flow_depth_bound("webhook: {url: 'https://ci.example.com/x'}\n" * 1000) == 1
    assert _flow_depth_bound("platforms: [linux/amd64, linux/arm64]  # both\n" * 1000) == 2


def test_remembered_tags_of_plain_scalars_are_the_resolvers() -> None:
    import yaml

    from analyzer.yamlio import _SafeLoader
    values = ["", "~", "null", "Null", "yes", "No", "on", "OFF", "y", "true", "0", "-0", "012", "0o17", "0x1F",
              "0b101", "1_000", "1:20", "190:20:30", "1.5", ".5", "1e3", "1.0e+3", ".inf", "-.Inf", ".nan",
              "2001-12-14", "2001-12-14t21:59:43.10-05:00", "2026-11-30T00:00:00Z", "=", "<<", "a", "main",
              "sha256:" + "a" * 64, "docker.io/library/python:3.12-slim", "7d", "1.36", "3.12", "x" * 70]
    reference = yaml.SafeLoader("")
    for implicit in ((True, False), (False, True), (False, False)):
        for _ in range(2):  # the second time from memory
            loader = _SafeLoader("")
            for value in values:
                assert loader.resolve(yaml.ScalarNode, value, implicit) == \
                    reference.resolve(yaml.ScalarNode, value, implicit), (value, implicit)  # type: ignore[no-untyped-call]
            loader.dispose()
