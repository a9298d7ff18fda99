"""Issue 16: hostile Dockerfiles end as problems of the file, in linear time, never as exceptions."""

from __future__ import annotations

import time

import pytest

from analyzer.discovery.dockerfile import analyze_dockerfile
from analyzer.discovery.instructions import _DIRECTIVE_RE, directive, parse_dockerfile
from analyzer.discovery.shell_lex import MAX_NESTING, ExpansionError, Value, expand_word


def timed(text: str, limit: float = 2.0) -> tuple[object, float]:
    start = time.perf_counter()
    result = analyze_dockerfile(text)
    elapsed = time.perf_counter() - start
    assert elapsed < limit, f"took {elapsed:.1f}s"
    return result, elapsed


def test_deeply_nested_substitution_is_a_problem_not_a_recursion_error() -> None:
    text = "ARG X=1\nFROM " + "${X:-" * 300 + "a" + "}" * 300 + "\n"
    analysis, _ = timed(text)
    assert [s.source for s in analysis.stages] == ["invalid"]  # type: ignore[attr-defined]
    assert "nested more than" in analysis.invalid[0].reason  # type: ignore[attr-defined]


def test_nesting_up_to_the_bound_still_expands() -> None:
    depth = MAX_NESTING - 1
    word = "${X:-" * depth + "img" + "}" * depth
    assert expand_word(word, {}).text == "img"
    with pytest.raises(ExpansionError):
        expand_word("${X:-" * (MAX_NESTING + 1) + "img" + "}" * (MAX_NESTING + 1), {})


def test_run_with_thousands_of_brackets_is_shell_form() -> None:
    analysis, _ = timed("FROM alpine\nRUN " + "[" * 5000 + "\n")
    assert [s.source for s in analysis.stages] == ["docker.io/library/alpine:latest"]  # type: ignore[attr-defined]


def test_copy_from_with_4301_digits_is_an_image_name_problem() -> None:
    analysis, _ = timed("FROM alpine\nCOPY --from=" + "9" * 4301 + " / /\n")
    problems = analysis.problems  # type: ignore[attr-defined]
    assert len(problems) == 1 and "neither a stage nor a valid image reference" in problems[0].reason


def test_copy_from_index_still_works_at_int64_edges() -> None:
    analysis, _ = timed("FROM alpine\nCOPY --from=9223372036854775807 / /\nCOPY --from=+0 / /\n")
    assert [p.reason for p in analysis.problems] == ["invalid stage index 9223372036854775807"]  # type: ignore[attr-defined]


def test_directive_line_of_200kb_spaces_is_linear() -> None:
    start = time.perf_counter()
    parsed = parse_dockerfile("#syntax=a" + " " * 200_000 + "b\nFROM a\n")
    assert time.perf_counter() - start < 1
    assert parsed.syntax == "a"


def test_directive_parser_agrees_with_buildkit_regex() -> None:
    import random
    rnd = random.Random(16)
    alphabet = ["#", " ", "\t", "=", "a", "Z", "1", "\r", "\v", "é", "-", "\n", "\f"]
    for _ in range(20_000):
        token = "#" * rnd.randint(0, 1) + "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 10)))
        match = _DIRECTIVE_RE.match(token)
        assert directive(token) == ((match.group(1), match.group(2)) if match else None), token


@pytest.mark.parametrize("form", ["${X#*a*a*a*a*a*a*a*a*a*a*a*a*c}", "${X##*a*a*a*a*a*a*a*a*a*a*c}",
                                  "${X%a*a*a*a*a*a*a*a*a*a*a*c*}", "${X/*a*a*a*a*a*a*a*a*a*a*a*c/z}",
                                  "${X//a*a*a*a*a*a*a*a*a*a*a*c/z}"])
def test_shell_patterns_are_linear(form: str) -> None:
    value = "a" * 3000 + "b"
    start = time.perf_counter()
    assert expand_word(form, {"X": Value(value)}).text == value  # no `c`: nothing matches
    assert time.perf_counter() - start < 1
    timed(f"ARG X={value}\nFROM img{form}\n")


def test_shell_pattern_semantics_follow_go_regexp() -> None:
    env = {"X": Value("a/b/c.tar.gz"), "N": Value("a\nb")}
    assert expand_word("${X#*/}", env).text == "b/c.tar.gz"
    assert expand_word("${X##*/}", env).text == "c.tar.gz"
    assert expand_word("${X%.*}", env).text == "a/b/c.tar"
    assert expand_word("${X%%.*}", env).text == "a/b/c"
    assert expand_word("${X/\\*/-}", {"X": Value("a*b")}).text == "a-b"
    assert expand_word("${X//[/(}", {"X": Value("[a][b]")}).text == "(a](b]"
    assert expand_word("${N#*b}", env).text == "a\nb"  # Go's `.` does not match a newline


def test_twenty_thousand_froms_are_linear() -> None:
    text = "".join(f"FROM img{i} AS s{i}\n" for i in range(20_000)) + "FROM s5\n"
    analysis, _ = timed(text, limit=5)
    assert len(analysis.bases) == 20_000  # type: ignore[attr-defined]
    assert analysis.stages[-1].source == "stage:s5"  # type: ignore[attr-defined]


def test_oversized_shell_pattern_is_an_expansion_error() -> None:
    analysis, _ = timed("ARG X=abc\nFROM alpine${X#" + "*a" * 100_000 + "}\n")
    assert "too large" in analysis.invalid[0].reason  # type: ignore[attr-defined]
