"""Read images.yaml and its includes into a Fleet; every problem names its file, line and field."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pydantic import ValidationError

from analyzer.config.model import EnrolledImage, Fleet, ImagesFile
from analyzer.errors import InputError, Problem, validation_problems
from analyzer.names import is_dns_label
from analyzer.yamlio import LocatedDocument, load_located


def _parse_file(file: Path) -> tuple[LocatedDocument, ImagesFile]:
    doc = load_located(file)
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise InputError.single(file, "top level must be a mapping with an `images:` list", 1)
    try:
        return doc, ImagesFile.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(doc.file, exc.errors(), doc.line_of)
        raise InputError([dataclasses.replace(p, field=_by_name(p.field, data)) for p in problems]) from None


def _by_name(field: str | None, data: dict[str, object]) -> str | None:
    """`images.2.delay` → `images[name=payments-api].delay`: people know their images by name."""
    head, _, rest = (field or "").partition(".")
    index, _, tail = rest.partition(".")
    images = data.get("images")
    if head != "images" or not index.isdigit() or not isinstance(images, list) or int(index) >= len(images):
        return field
    entry = images[int(index)]
    name = entry.get("name") if isinstance(entry, dict) else None
    if not isinstance(name, str) or not is_dns_label(name):
        return field  # a broken name is itself the problem: keep the position
    return f"images[name={name}]" + (f".{tail}" if tail else "")


def include_matches(root: Path, pattern: str) -> list[Path]:
    """Files an `include:` pattern of the root file matches, sorted (the root itself excluded), as the
    user reaches them: beside the root path as given (`images.d/web.yaml`, `../images.d/web.yaml`), so
    error messages name them the way the user named the root."""
    base = root.parent.resolve()
    return sorted(root.parent / p.relative_to(base) for p in base.glob(pattern)
                  if p.is_file() and p.resolve() != root.resolve())


def _expand_includes(root: Path, doc: LocatedDocument, patterns: list[str]) -> list[Path]:
    files: list[Path] = []
    base = root.parent.resolve()
    for index, pattern in enumerate(patterns):
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            raise InputError.single(root, f"include {pattern!r} must stay inside {base}",
                                    doc.line_of(("include", index)), f"include.{index}")
        matches = include_matches(root, pattern)
        if not matches:
            raise InputError.single(root, f"include {pattern!r} matches no file",
                                    doc.line_of(("include", index)), f"include.{index}")
        files.extend(m for m in matches if m not in files)
    return files


def _relative_to(file: Path, root: Path) -> str:
    """Enrollment file name as recorded in state: relative to the root file's folder, stable across cwd."""
    try:
        return file.resolve().relative_to(root.resolve().parent).as_posix()
    except ValueError:
        return file.as_posix()


def load_fleet(path: str | Path) -> Fleet:
    """Load the root enrollment file and every included file, apply defaults, and check uniqueness."""
    root = Path(path)
    root_doc, root_file = _parse_file(root)
    problems: list[Problem] = []
    parsed: list[tuple[LocatedDocument, ImagesFile]] = [(root_doc, root_file)]
    for include in _expand_includes(root, root_doc, root_file.include):
        try:
            doc, images_file = _parse_file(include)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        for key in ("defaults", "include", "registries"):
            if key in (doc.data or {}):
                problems.append(Problem(str(include), doc.line_of((key,)), key,
                                        f"{key} is allowed only in the root file {root}"))
        parsed.append((doc, images_file))

    defaults = root_file.defaults
    seen_names: dict[str, tuple[str, int | None]] = {}
    seen_refs: dict[str, tuple[str, str, int | None]] = {}
    images: list[EnrolledImage] = []
    for doc, images_file in parsed:
        relative = _relative_to(doc.file, root)
        for index, entry in enumerate(images_file.images):
            line = doc.line_of(("images", index))
            where = f"{doc.file}:{line}"
            if entry.name in seen_names:
                other_file, other_line = seen_names[entry.name]
                problems.append(Problem(str(doc.file), line, f"images.{index}.name",
                                        f"duplicate image name {entry.name!r}, "
                                        f"also enrolled at {other_file}:{other_line}"))
                continue
            seen_names[entry.name] = (str(doc.file), line)
            tracked = entry.ref.tracked
            if tracked in seen_refs:
                other_name, other_file, other_line = seen_refs[tracked]
                problems.append(Problem(str(doc.file), line, f"images.{index}.image",
                                        f"image {tracked} is enrolled twice: as {entry.name!r} ({where}) "
                                        f"and as {other_name!r} ({other_file}:{other_line})"))
                continue
            seen_refs[tracked] = (entry.name, str(doc.file), line)
            images.append(EnrolledImage(
                entry=entry, file=relative, line=line,
                delay=entry.delay if entry.delay is not None else defaults.delay,
                auto_rebuild=entry.auto_rebuild if entry.auto_rebuild is not None else defaults.auto_rebuild,
                platforms=list(entry.platforms if entry.platforms is not None else defaults.platforms),
            ))
    if problems:
        raise InputError(problems)
    return Fleet(root=str(root), files=[str(doc.file) for doc, _ in parsed], include=list(root_file.include),
                 defaults=defaults, images=images, registries=root_file.registries)
