"""Tag-selection rules for Warehouse image subscriptions (Kargo compiles tag regexes with Go's RE2)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from analyzer.regex import re2_error, re2_matches
from analyzer.rules import stages as kargo
from analyzer.rules.model import WAREHOUSE, Finding, Resource, items, text
from analyzer.rules.settings import PolicySettings

REGEX_FIELDS = ("allowTagsRegexes", "ignoreTagsRegexes")
DEPRECATED_FIELDS = ("allowTags", "ignoreTags")

_LITERAL_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
PROBE_TAGS = ("latest", "1", "1.2.3", "v2.4.0", "3.12-slim", "3.12.7-slim-bookworm", "20-alpine", "nightly",
              "edge", "sha-0a1b2c3", "x", "Z_9", "20240101", "a.b-c_d", "rc")
"""Tag-shaped strings unlike each other; a regex matching all of them admits everything."""


def _regexes(warehouse: Resource) -> Iterator[tuple[str, str, Mapping[str, Any], object]]:
    """(path of one regex entry, field, subscription, pattern) for every allow/ignore regex."""
    if warehouse.type != WAREHOUSE:
        return
    for path, image in kargo.image_subscriptions(warehouse):
        for field in REGEX_FIELDS:
            for index, pattern in enumerate(items(image.get(field))):
                yield f"{path}.{field}[{index}]", field, image, pattern


def _compiles(pattern: object) -> bool:
    return isinstance(pattern, str) and re2_error(pattern) is None


def tag_regex_re2(warehouse: Resource, settings: PolicySettings) -> list[Finding]:
    """Every allow/ignore tag regex compiles under RE2: no look-around, no back-references."""
    findings = []
    for path, _, _, pattern in _regexes(warehouse):
        if not isinstance(pattern, str):
            findings.append(warehouse.finding(f"Warehouse {warehouse.name} {path} is not a string: quote it"))
            continue
        reason = re2_error(pattern)
        if reason is not None:
            findings.append(warehouse.finding(
                f"Warehouse {warehouse.name} {path} = {pattern!r} does not compile under RE2 (Go regexp, "
                f"which Kargo uses): {reason}. RE2 has no look-around ((?=…), (?!…)) and no back-references "
                "(\\1): express it with plain alternatives, or move the exclusion to ignoreTagsRegexes"))
    return findings


def _top_level_alternation(pattern: str) -> bool:
    depth, in_class, escaped = 0, False, False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return True
    return False


def _anchored(pattern: str) -> bool:
    ends = pattern.endswith("$") and not pattern.endswith("\\$")
    ends = ends or pattern.endswith("\\z")
    return pattern.startswith(("^", "\\A")) and ends and not _top_level_alternation(pattern)


def tag_regex_anchored(warehouse: Resource, settings: PolicySettings) -> list[Finding]:
    """Tag regexes are anchored (`^…$`): Go's MatchString searches, so `3\\.12` also admits `13.12-rc`."""
    findings = []
    for path, _, _, pattern in _regexes(warehouse):
        if isinstance(pattern, str) and _compiles(pattern) and not _anchored(pattern):
            hint = "wrap alternatives in a group, e.g. ^(?:a|b)$" if _top_level_alternation(pattern) \
                else f"write ^{pattern.strip('^$')}$"
            findings.append(warehouse.finding(
                f"Warehouse {warehouse.name} {path} = {pattern!r} is not anchored at both ends, so it matches "
                f"any tag that merely contains it: {hint}"))
    return findings


def tag_regex_too_broad(warehouse: Resource, settings: PolicySettings) -> list[Finding]:
    """No tag regex matches everything (`.*`, `.+`, `^.*$`, …)."""
    findings = []
    for path, field, _, pattern in _regexes(warehouse):
        if isinstance(pattern, str) and _compiles(pattern) and all(re2_matches(pattern, t) for t in PROBE_TAGS):
            effect = "admits every tag" if field == "allowTagsRegexes" else "ignores every tag, so nothing is found"
            findings.append(warehouse.finding(
                f"Warehouse {warehouse.name} {path} = {pattern!r} matches every tag and {effect}: narrow it to "
                "the tags you mean, e.g. ^3\\.12\\.\\d+-slim$"))
    return findings


def tag_admits_latest(warehouse: Resource, settings: PolicySettings) -> list[Finding]:
    """A Warehouse does not admit or follow `latest` (it moves without a version) unless allowLatest."""
    if warehouse.type != WAREHOUSE or settings.allow_latest:
        return []
    findings = []
    fix = "(set the policy config allowLatest: true if this is deliberate)"
    for path, image in kargo.image_subscriptions(warehouse):
        strategy = kargo.strategy_of(image)
        if strategy == "Digest":
            if text(image.get("constraint")) == "latest":
                findings.append(warehouse.finding(
                    f"Warehouse {warehouse.name} {path} follows the tag `latest` by digest: follow a versioned "
                    f"tag such as 3.12-slim {fix}"))
            continue
        allow = [p for p in items(image.get("allowTagsRegexes")) if _compiles(p)]
        ignore = [p for p in items(image.get("ignoreTagsRegexes")) if _compiles(p)]
        ignored = any(re2_matches(p, "latest") for p in ignore)
        for index, pattern in enumerate(allow):
            if re2_matches(pattern, "latest") and not ignored:
                findings.append(warehouse.finding(
                    f"Warehouse {warehouse.name} {path}.allowTagsRegexes[{index}] = {pattern!r} admits the tag "
                    f"`latest`: exclude it from the regex or add '^latest$' to ignoreTagsRegexes {fix}"))
        if not allow and not ignored and strategy in ("Lexical", "NewestBuild"):
            findings.append(warehouse.finding(
                f"Warehouse {warehouse.name} {path} selects by {strategy} with no allowTagsRegexes, so `latest` "
                f"is eligible (and wins Lexical order): add allowTagsRegexes such as ['^\\d+\\.\\d+\\.\\d+$'] {fix}"))
    return findings


def digest_constraint_literal(warehouse: Resource, settings: PolicySettings) -> list[Finding]:
    """With the Digest strategy, `constraint` is the one literal tag to follow."""
    if warehouse.type != WAREHOUSE:
        return []
    findings = []
    for path, image in kargo.image_subscriptions(warehouse):
        if kargo.strategy_of(image) != "Digest":
            continue
        constraint = image.get("constraint")
        if not constraint:
            findings.append(warehouse.finding(
                f"Warehouse {warehouse.name} {path} uses imageSelectionStrategy Digest without a constraint: "
                "set constraint to the tag to follow, e.g. 3.12-slim"))
        elif not isinstance(constraint, str) or not _LITERAL_TAG.fullmatch(constraint):
            findings.append(warehouse.finding(
                f"Warehouse {warehouse.name} {path}.constraint = {constraint!r} is not a literal tag: Digest "
                "follows exactly one mutable tag; write the tag itself (e.g. 3.12-slim), or use SemVer/Lexical "
                "with allowTagsRegexes to select among tags"))
    return findings


def deprecated_tag_fields(warehouse: Resource, settings: PolicySettings) -> list[Finding]:
    """`allowTags`/`ignoreTags` break discovery on Kargo ≥ 1.11; `semverConstraint` is gone for images."""
    if warehouse.type != WAREHOUSE:
        return []
    findings = []
    for path, image in kargo.image_subscriptions(warehouse):
        for field in DEPRECATED_FIELDS:
            value = image.get(field)
            if value:
                findings.append(warehouse.finding(
                    f"Warehouse {warehouse.name} {path}.{field} is deprecated and makes discovery fail on Kargo "
                    f"v1.11+ (removed in v1.13): move the pattern to {field}Regexes as an anchored RE2 regex"))
        if "semverConstraint" in image:
            findings.append(warehouse.finding(
                f"Warehouse {warehouse.name} {path}.semverConstraint was removed for image subscriptions in "
                "Kargo v1.9: use constraint"))
    return findings
