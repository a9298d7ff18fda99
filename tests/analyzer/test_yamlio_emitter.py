"""dump_stable's fast block emitter writes exactly PyYAML's bytes, or hands the document to PyYAML."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from analyzer.yamlio import _dump_pyyaml, _FastBlockEmitter, _NotFast, dump_stable

TRICKY = ["", "null", "Null", "yes", "No", "on", "0o12", "012", "1e3", "1_000", ".inf", ".NaN", "~", "<<", "=",
          "- a", "a: b", "#x", "x #y", "'q'", '"', "@a", "`x", "%x", "a:b", "a:", "2026-01-01T00:00:00Z",
          "2026-01-01", "3.12", "3", "-3", "+3", "0x1f", " lead", "trail ", "a  b", "?", "? x", "!tag", "&x", "*x",
          "|", ">", "{", "}", "[", "]", ",", "a,b", "a[b]", "sha256:" + "a" * 64, "https://x.example.com/a?b=c#d",
          "x" * 150, "y " * 80, "z" * 140, "q:" * 60, "@" + "w" * 130, "true", "FALSE", "1:20", "190:20:30", "-",
          "--", "---", "...", "a\tb", "é", "a\nb", ":x", "x:", "x: ", "${X}",
          "docker.io/library/python@sha256:" + "0123456789abcdef" * 4]


def _value(rng: random.Random, depth: int) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.5:
        return rng.choice([*TRICKY, 1, 0, -5, True, False, None, 10**20, 1.5])
    if roll < 0.75:
        return {rng.choice(TRICKY) if rng.random() < 0.5 else f"k{rng.randrange(9)}": _value(rng, depth + 1)
                for _ in range(rng.randrange(0, 4))}
    return [_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]


@pytest.mark.parametrize(("sort_keys", "width"), [(True, 120), (False, 1_000_000), (True, 40)])
def test_fast_emitter_output_is_pyyaml_output(sort_keys: bool, width: int) -> None:
    rng = random.Random(width)
    fast = 0
    for _ in range(3000):
        data = {f"k{j}": _value(rng, 0) for j in range(rng.randrange(1, 5))}
        assert dump_stable(data, sort_keys, width) == _dump_pyyaml(data, sort_keys, width), data
        try:
            _FastBlockEmitter(sort_keys, width).dump(data)
            fast += 1
        except _NotFast:
            pass
    assert fast > 1000  # the fast path is really exercised, not always handed over


def test_a_state_like_document_takes_the_fast_path_and_round_trips() -> None:
    doc = {"ref": "docker.io/library/python:3.12-slim", "kind": "external", "dependents": ["a", "b"],
           "digests": {"current": "sha256:" + "a" * 64, "history": [{"first_seen": "2026-01-01T00:00:00Z",
                                                                   "platforms": {}}]},
           "rebuilds": [], "warehouse": {"repoURL": "docker.io/library/python", "allowTagsRegexes": []}}
    text = _FastBlockEmitter(True, 120).dump(doc)
    assert text == _dump_pyyaml(doc, True, 120)
    assert yaml.safe_load(text) == doc


def test_plain_word_shortcut_agrees_with_pyyaml() -> None:
    """The shortcut that writes a word plain without asking PyYAML gives PyYAML's answer, including for
    words the resolver reads as numbers, bools, nulls or dates (quoted)."""
    from analyzer.yamlio import _PLAIN_WORD_RE, _scalar_text, _scalar_text_by_pyyaml
    rng = random.Random(5)
    alphabet = "ab0123456789eExXoO.:_-+/@~=TZtrueyesnoNullinf"
    words = ["yes", "No", "null", "NULL", "true", "0o17", "017", "0x1F", "1_000", "1e3", "1.5e3", "6.1", "1:20",
             "190:20:30", "2026-01-01", "2026-01-01T00:00:00Z", "2026-1-1 00:00:00", "a:", "a:b", "3.12-slim",
             "0" * 40, "1234567890" * 4, "0123456701234567012345670123456701234567", "a" * 40, "e1", "1e", "Inf"]
    words += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 12))) for _ in range(20000)]
    shortcut = 0
    for word in words:
        if _PLAIN_WORD_RE.fullmatch(word):
            shortcut += 1
        assert _scalar_text(word) == _scalar_text_by_pyyaml(word), word
    assert shortcut > 1000


def _typed(value: Any) -> Any:
    """A value with every scalar's type made part of it (True != 1 here)."""
    if isinstance(value, dict):
        return {_typed(k): _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value)


@pytest.mark.parametrize("text", [
    "a: 1\nb: [x, 'y', \"z\", ~, null, Null, '', yes, No, on, OFF, true]\n",
    "ints: [0x1F, 0o17, 017, 1_000, 1:20, -3, +4, 0, 190:20:30]\nfloats: [1.5, .inf, 1e3]\n",
    "when: 2026-01-01T00:00:00Z\nday: 2026-01-01\n",
    "base: &b {x: 1}\nother: *b\n",
    "base: &b {x: 1}\nmerged:\n  <<: *b\n  y: 2\n",
    "tagged: !!str 123\nnum: !!int '12'\nflt: !!float '1'\nb: !!binary aGk=\n",
    "? [a, b]\n: 1\n",
    "plain:\n  deep:\n    - {a: [1, {b: c}]}\n    - - nested\n",
    "- just\n- a list\n",
    "scalar\n",
    "x: !!set {a, b}\n",
])
def test_load_located_builds_what_pyyaml_builds(tmp_path: Path, text: str) -> None:
    from analyzer.errors import InputError
    from analyzer.yamlio import load_located
    file = tmp_path / "doc.yaml"
    file.write_text(text)
    try:
        expected = _typed(yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    except yaml.YAMLError:
        with pytest.raises(InputError):
            load_located(file)
        return
    assert _typed(load_located(file).data) == expected
