"""The CVE fast path: write an `expedite` override into images.yaml as a small, reviewable edit.

The edit is round-trip (ruamel.yaml): comments, key order and quoting of the enrollment file are
kept, so the pull request shows only the override. A base that was only discovered in Dockerfiles
gets a minimal external entry in the root file, because the override needs an entry to live on.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.util import load_yaml_guess_indent

from analyzer.config.model import EnrolledImage, Fleet, ImagesFile
from analyzer.discovery.reference import InvalidReference, parse_reference
from analyzer.errors import InputError
from analyzer.names import with_hash
from analyzer.state.model import ImageState
from analyzer.yamlio import write_atomic


@dataclass(frozen=True)
class ExpediteTarget:
    """Where the override goes: an existing entry (file + index), or a new entry in the root file."""

    ref: str
    file: Path
    index: int | None
    name: str


def _label(ref: str, taken: set[str]) -> str:
    parsed = parse_reference(ref)
    text = f"{parsed.repository.rsplit('/', 1)[-1]}-{parsed.tag or 'latest'}".lower()
    label = re.sub(r"[^a-z0-9-]+", "-", text).strip("-")[:56].strip("-") or "base"
    if label in taken:
        label = with_hash(label, ref)
    return label


def find_target(fleet: Fleet, states: Mapping[str, ImageState], base: str) -> ExpediteTarget:
    """Resolve BASE (enrolled name or image reference) to the entry the override is written on."""
    root = Path(fleet.root)
    by_name = fleet.by_name()
    enrolled: EnrolledImage | None = by_name.get(base)
    if enrolled is None:
        try:
            ref = parse_reference(base).tracked
        except InvalidReference as exc:
            raise InputError.single(root, f"{base!r} is neither an enrolled name nor an image reference: {exc}",
                                    field_name="expedite") from None
        enrolled = next((i for i in fleet.images if i.ref.tracked == ref), None)
        if enrolled is None:
            state = states.get(ref)
            if state is None or state.kind != "external":
                raise InputError.single(root, f"{ref} is not enrolled and was not discovered as a base "
                                        "(run `image-factory analyze` first)", field_name="expedite")
            return ExpediteTarget(ref=ref, file=root, index=None, name=_label(ref, set(by_name)))
    if enrolled.managed:
        raise InputError.single(root.parent / enrolled.file, f"{enrolled.name} is a managed image; expedite "
                                "the external base it is built on instead", enrolled.line, "expedite")
    file = root.parent / enrolled.file
    return ExpediteTarget(ref=enrolled.ref.tracked, file=file, index=_entry_index(file, enrolled.name),
                          name=enrolled.name)


def _mapping_indent(text: str) -> int:
    """Indent of nested mapping keys (`defaults:` → `  delay:`), which ruamel does not guess."""
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    for parent, child in itertools.pairwise(lines):
        if parent.rstrip().endswith(":") and not parent.lstrip().startswith("-"):
            step = (len(child) - len(child.lstrip())) - (len(parent) - len(parent.lstrip()))
            if step > 0 and not child.lstrip().startswith("-"):
                return step
    return 2


def _load(file: Path) -> tuple[Any, YAML]:
    text = file.read_text(encoding="utf-8")
    _, sequence_indent, offset = load_yaml_guess_indent(text)
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=_mapping_indent(text), sequence=sequence_indent or 2, offset=offset or 0)
    return yaml.load(text), yaml


def _take_trailing_comment(node: Any) -> Any:
    """Detach the comment/blank lines that follow a mapping's last value (they belong after it)."""
    if not isinstance(node, CommentedMap) or not node:
        return None
    last = list(node.keys())[-1]
    inner = _take_trailing_comment(node[last])
    if inner is not None:
        return inner
    return node.ca.items.pop(last, None)


def _entry_index(file: Path, name: str) -> int:
    data, _ = _load(file)
    for index, entry in enumerate(data.get("images") or []):
        if isinstance(entry, Mapping) and entry.get("name") == name:
            return index
    raise InputError.single(file, f"entry {name!r} not found", field_name="images")


def expedite_text(file: Path, target: ExpediteTarget, reason: str, expires: date) -> str:
    """The file's new text with the override set (replacing an earlier one); everything else kept."""
    data, yaml = _load(file)
    if data is None:
        data = CommentedMap()
    images = data.get("images")
    if images is None:
        images = data["images"] = CommentedSeq()
    if target.index is None:
        override = CommentedMap([("reason", reason), ("expires", expires)])
        images.append(CommentedMap([("name", target.name), ("image", target.ref), ("expedite", override)]))
    else:
        entry = images[target.index]
        existing = entry.get("expedite")
        if isinstance(existing, CommentedMap):  # update in place: its comments stay where they are
            existing["reason"], existing["expires"] = reason, expires
        else:
            trailing = _take_trailing_comment(entry)
            override = CommentedMap([("reason", reason), ("expires", expires)])
            entry["expedite"] = override
            if trailing is not None:
                override.ca.items["expires"] = trailing
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def write_expedite(target: ExpediteTarget, reason: str, expires: date) -> bool:
    """Write the edit only if the edited file still validates (nothing is written otherwise)."""
    text = expedite_text(target.file, target, reason, expires)
    try:
        ImagesFile.model_validate(yaml.safe_load(text) or {})
    except ValidationError as exc:
        raise InputError.single(target.file, f"the override would make the file invalid: {exc}",
                                field_name="expedite") from None
    return write_atomic(target.file, text)
