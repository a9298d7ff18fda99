from __future__ import annotations

import pytest

from analyzer.rules.tags import (
    deprecated_tag_fields,
    digest_constraint_literal,
    tag_admits_latest,
    tag_regex_anchored,
    tag_regex_re2,
    tag_regex_too_broad,
)
from tests.analyzer.rules.builders import rebuild, settings, warehouse


def semver(**image: object) -> object:
    return warehouse("redis-7", repoURL="docker.io/library/redis", imageSelectionStrategy="SemVer",
                     constraint="^7.0.0", **image)


def msgs(findings: list) -> list[str]:
    return [f.message for f in findings]


GOOD = semver(allowTagsRegexes=[r"^7\.\d+\.\d+$"], ignoreTagsRegexes=[r"^7\.0\.0$"])


@pytest.mark.parametrize("rule", [tag_regex_re2, tag_regex_anchored, tag_regex_too_broad, tag_admits_latest,
                                  digest_constraint_literal, deprecated_tag_fields])
def test_good_warehouse_and_other_kinds_pass(rule: object) -> None:
    assert rule(GOOD, settings()) == []  # type: ignore[operator]
    assert rule(warehouse(), settings()) == []  # type: ignore[operator]
    assert rule(rebuild(), settings()) == []  # type: ignore[operator]


# --- RE2 ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("pattern", [r"^3\.12\.(?=\d)\d+$", r"^(?!rc)\w+$", r"^(?<=v)\d+$", r"^(\d+)\.\1$"])
def test_python_only_regex_features_fail_under_re2(pattern: str) -> None:
    import re
    re.compile(pattern)  # Python accepts it: exactly the pitfall
    [message] = msgs(tag_regex_re2(semver(allowTagsRegexes=[pattern]), settings()))
    assert "does not compile under RE2" in message and "allowTagsRegexes[0]" in message and "redis-7" in message


def test_re2_checks_ignore_regexes_and_non_strings() -> None:
    findings = msgs(tag_regex_re2(semver(ignoreTagsRegexes=[r"^(a)\1$", 7]), settings()))
    assert len(findings) == 2
    assert "ignoreTagsRegexes[0]" in findings[0] and "ignoreTagsRegexes[1] is not a string" in findings[1]


# --- anchored ----------------------------------------------------------------------------------

@pytest.mark.parametrize("pattern", [r"^7\.\d+$", r"^(?:7|8)\.\d+$", r"\A7\.\d+\z", r"^[|]$"])
def test_anchored_patterns_pass(pattern: str) -> None:
    assert tag_regex_anchored(semver(allowTagsRegexes=[pattern]), settings()) == []


@pytest.mark.parametrize(("pattern", "hint"), [
    (r"7\.\d+", r"write ^7\.\d+$"), (r"^7\.\d+", "write"), (r"7\.\d+$", "write"), (r"^7\.\d+\$", "write"),
    (r"^7\.1$|^8\.1$", "wrap alternatives in a group"),
])
def test_unanchored_patterns_fail(pattern: str, hint: str) -> None:
    [message] = msgs(tag_regex_anchored(semver(allowTagsRegexes=[pattern]), settings()))
    assert "not anchored" in message and hint in message


def test_uncompilable_patterns_are_left_to_the_re2_rule() -> None:
    assert tag_regex_anchored(semver(allowTagsRegexes=[r"(?=x)"]), settings()) == []


# --- too broad ---------------------------------------------------------------------------------

@pytest.mark.parametrize("pattern", [".*", ".+", "^.*$", "^.+$", r"^\S+$", "^[A-Za-z0-9_.-]+$", "^(.*)$", ""])
def test_match_everything_patterns_fail(pattern: str) -> None:
    [message] = msgs(tag_regex_too_broad(semver(allowTagsRegexes=[pattern]), settings()))
    assert "matches every tag and admits every tag" in message


def test_ignore_everything_is_reported_as_such() -> None:
    [message] = msgs(tag_regex_too_broad(semver(ignoreTagsRegexes=["^.*$"]), settings()))
    assert "ignores every tag" in message


@pytest.mark.parametrize("pattern", [r"^\d+\.\d+\.\d+$", r"^3\.12\.\d+-slim$", "^latest$"])
def test_specific_patterns_are_not_too_broad(pattern: str) -> None:
    assert tag_regex_too_broad(semver(allowTagsRegexes=[pattern]), settings()) == []


# --- latest ------------------------------------------------------------------------------------

def test_allow_regex_admitting_latest_fails_unless_ignored_or_allowed() -> None:
    admits = semver(allowTagsRegexes=[r"^(latest|\d+)$"])
    [message] = msgs(tag_admits_latest(admits, settings()))
    assert "admits the tag `latest`" in message and "allowLatest" in message
    assert tag_admits_latest(semver(allowTagsRegexes=[r"^(latest|\d+)$"], ignoreTagsRegexes=["^latest$"]),
                             settings()) == []
    assert tag_admits_latest(admits, settings(allowLatest=True)) == []


def test_lexical_without_allow_regexes_admits_latest() -> None:
    lexical = warehouse(imageSelectionStrategy="Lexical", constraint=None)
    assert "selects by Lexical with no allowTagsRegexes" in msgs(tag_admits_latest(lexical, settings()))[0]
    newest = warehouse(imageSelectionStrategy="NewestBuild", constraint=None, ignoreTagsRegexes=["^latest$"])
    assert tag_admits_latest(newest, settings()) == []
    assert tag_admits_latest(semver(), settings()) == []  # SemVer never selects `latest`


def test_digest_following_latest_fails() -> None:
    [message] = msgs(tag_admits_latest(warehouse(constraint="latest"), settings()))
    assert "follows the tag `latest` by digest" in message


# --- Digest constraint -------------------------------------------------------------------------

@pytest.mark.parametrize("constraint", ["3.12-slim", "20-alpine", "1.27", "v2_0"])
def test_literal_digest_constraints_pass(constraint: str) -> None:
    assert digest_constraint_literal(warehouse(constraint=constraint), settings()) == []


@pytest.mark.parametrize("constraint", ["3.*", r"^3\.12$", ">=3.12", "3.12 || 3.13", "-x"])
def test_non_literal_digest_constraints_fail(constraint: str) -> None:
    [message] = msgs(digest_constraint_literal(warehouse(constraint=constraint), settings()))
    assert "is not a literal tag" in message


def test_digest_without_constraint_fails() -> None:
    [message] = msgs(digest_constraint_literal(warehouse(constraint=None), settings()))
    assert "without a constraint" in message


def test_constraint_of_other_strategies_is_not_checked() -> None:
    assert digest_constraint_literal(semver(), settings()) == []


# --- deprecated fields -------------------------------------------------------------------------

@pytest.mark.parametrize(("field", "value"), [("allowTags", r"^7\.\d+$"), ("ignoreTags", ["7.0.0"])])
def test_deprecated_fields_fail(field: str, value: object) -> None:
    [message] = msgs(deprecated_tag_fields(semver(**{field: value}), settings()))
    assert f"{field} is deprecated" in message and "v1.11" in message and f"{field}Regexes" in message


def test_removed_semver_constraint_fails_and_empty_deprecated_fields_pass() -> None:
    assert "semverConstraint was removed" in msgs(deprecated_tag_fields(semver(semverConstraint="^7"), settings()))[0]
    assert deprecated_tag_fields(semver(allowTags="", ignoreTags=[]), settings()) == []
