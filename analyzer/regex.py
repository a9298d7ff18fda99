"""Go-compatible (RE2) regex checks: Kargo compiles tag regexes with Go's regexp, which is RE2."""

from __future__ import annotations

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False


def re2_error(pattern: str) -> str | None:
    """None when `pattern` compiles under RE2, else RE2's reason (e.g. look-around, back-references)."""
    try:
        re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        return reason.decode() if isinstance(reason, bytes) else str(reason)
    return None


def re2_matches(pattern: str, text: str) -> bool:
    """Whether RE2 finds `pattern` in `text` (Go's MatchString semantics: unanchored search)."""
    return re2.compile(pattern, _OPTIONS).search(text) is not None
