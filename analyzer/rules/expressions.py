"""Kargo expressions that Kargo itself would cut short or re-type (found running Kargo's own engine).

Kargo (pkg/expressions, v1.11) ends a `${{ … }}` expression at the FIRST `}}` in the text, without
parsing it: a nested map literal (`{"a": {"b": 1}}`) or a `}}` inside a string literal ends it early and
the Promotion errors ("unexpected token EOF"), never to be retried for that Freight. And when a value is
one whole expression, Kargo re-types the result: `1.36` becomes a number, `true` a bool; verification
args must be strings, so an unquoted tag means no AnalysisRun is ever created.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from analyzer.rules.model import STAGE, Finding, Resource, items, mapping
from analyzer.rules.settings import PolicySettings

START, END = "${{", "}}"
_PAIRS = {")": "(", "]": "[", "}": "{"}


def split_expressions(template: str) -> Iterator[str | None]:
    """Each expression as Kargo cuts it out of `template`; None for an expression with no closing `}}`."""
    rest = template
    while (start := rest.find(START)) >= 0:
        end = rest.find(END, start + len(START))
        if end < 0:
            yield None
            return
        yield rest[start + len(START):end]
        rest = rest[end + len(END):]


def unbalanced(expression: str) -> str | None:
    """Why `expression` cannot be a whole expr-lang expression (open bracket or string), or None."""
    stack: list[str] = []
    quote: str | None = None
    escaped = False
    for char in expression:
        if quote is not None:
            if escaped:
                escaped = False
            elif char == "\\" and quote != "`":
                escaped = True
            elif char == quote:
                quote = None
            continue
        if char in "\"'`":
            quote = char
        elif char in "([{":
            stack.append(char)
        elif char in _PAIRS and (not stack or stack.pop() != _PAIRS[char]):
            return f"an unmatched {char!r}"
    if quote is not None:
        return "a string literal left open"
    if stack:
        return f"{len(stack)} bracket(s) left open ({''.join(stack)})"
    return None


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")
    else:
        for index, item in enumerate(items(value)):
            yield from _strings(item, f"{path}[{index}]")


def _cut_short(path: str, value: str) -> str | None:
    for expression in split_expressions(value):
        if expression is None:
            return f"{path}: a `${{{{` has no closing `}}}}`"
        problem = unbalanced(expression)
        if problem is not None:
            return (f"{path}: Kargo ends a `${{{{ … }}}}` expression at the first `}}}}`, which leaves "
                    f"{problem} in `{expression.strip()[:80]}`; close nested maps as `}} }}` and write `}}` "
                    "inside string literals as \\u007d")
    return None


def kargo_expressions(resource: Resource, settings: PolicySettings) -> list[Finding]:
    """Every Stage expression survives Kargo's template scanner; whole-expression verification args are
    quote()d so they stay strings."""
    if resource.type != STAGE:
        return []
    findings = [Finding(resource, problem) for path, value in _strings(resource.spec, "spec")
                if (problem := _cut_short(path, value)) is not None]
    verification = mapping(resource.spec.get("verification"))
    for index, arg in enumerate(items(verification.get("args"))):
        value = str(mapping(arg).get("value") or "").strip()
        whole = value.startswith(START) and value.endswith(END) and value.count(START) == 1
        if whole and not value[len(START):-len(END)].strip().startswith("quote("):
            name = mapping(arg).get("name")
            findings.append(Finding(resource, (
                f"spec.verification.args[{index}] ({name}): Kargo re-types a value that is one whole "
                "expression (a tag like 1.36 becomes a number) and verification args must be strings: "
                "write `${{ quote(…) }}`")))
    return findings
