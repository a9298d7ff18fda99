"""BuildKit word processing (shell/lex.go) as ported; cases follow lex.go's documented behaviour."""

from __future__ import annotations

import random

import pytest

from analyzer.discovery import shell_lex
from analyzer.discovery.shell_lex import ExpansionError, Value, Words, expand_word, split_words

ENV = {"FOO": Value("foo"), "EMPTY": Value(""), "IMG": Value("alpine:3.19"),
       "ARCH": Value("", frozenset({"TARGETARCH"}))}


@pytest.mark.parametrize(("word", "text", "unknown"), [
    ("a\\nb", "anb", set()),
    ('"a\\nb"', "a\\nb", set()),
    ('"a\\"b\\$c"', 'a"b$c', set()),
    ("\\$FOO", "$FOO", set()),
    ("'$FOO'", "$FOO", set()),
    ('"$FOO"', "foo", set()),
    ("$FOO-${FOO}", "foo-foo", set()),
    ("$", "$", set()),
    ("$/x", "$/x", set()),
    ("${NOPE}", "", set()),  # unset expands to "" in BuildKit
    ("$1", "", set()),
    ("${NOPE:-d}", "d", set()),
    ("${NOPE-d}", "d", set()),
    ("${EMPTY:-d}", "d", set()),
    ("${EMPTY-d}", "", set()),
    ("${FOO:+x}", "x", set()),
    ("${EMPTY:+x}", "", set()),
    ("${EMPTY+x}", "x", set()),
    ("${NOPE+x}", "", set()),
    ("${NOPE:-${FOO}}", "foo", set()),
    ("${IMG%:*}", "alpine", set()),
    ("${IMG#*:}", "3.19", set()),
    ("${IMG%%.*}", "alpine:3", set()),
    ("${IMG/3.19/3.20}", "alpine:3.20", set()),
    ("${IMG//./-}", "alpine:3-19", set()),
    ("${ARCH}", "", {"TARGETARCH"}),
    ("${ARCH:-amd64}", "amd64", {"TARGETARCH"}),
    ("${FOO:?}", "foo", set()),
])
def test_expand_word(word: str, text: str, unknown: set[str]) -> None:
    assert expand_word(word, ENV) == Value(text, frozenset(unknown))


@pytest.mark.parametrize(("word", "text", "unknown"), [
    ("${NOPE}", "", {"NOPE"}), ("$1", "", {"1"}), ("${NOPE-d}", "d", set()), ("${NOPE#x}", "", {"NOPE"}),
    ("${NOPE/a/b}", "", {"NOPE"}), ("${NOPE:?}", "", {"NOPE"}), ("a$FOO", "afoo", set()),
])
def test_unset_variables_can_be_named(word: str, text: str, unknown: set[str]) -> None:
    assert expand_word(word, ENV, unset_is_unknown=True) == Value(text, frozenset(unknown))


def test_unset_required_variable_fails_as_in_buildkit() -> None:
    with pytest.raises(ExpansionError, match="NOPE: is not allowed to be unset"):
        expand_word("${NOPE?}", ENV)


@pytest.mark.parametrize(("word", "message"), [
    ("${FOO", "missing '}'"),
    ("${}", "bad substitution"),
    ("${:x}", "bad substitution"),
    ("${FOO:x}", "unsupported modifier (:x)"),
    ("${FOO:#x}", "unsupported modifier (:#)"),
    ("${EMPTY:?is empty here}", "EMPTY: is empty here"),
    ("'open", "matching single-quote"),
    ('"open', "matching double-quote"),
])
def test_expand_word_errors(word: str, message: str) -> None:
    with pytest.raises(ExpansionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        expand_word(word, ENV)


def test_backtick_escape_token() -> None:
    assert expand_word("`$FOO", ENV, escape="`") == Value("$FOO")
    assert expand_word("\\$FOO", ENV, escape="`") == Value("\\foo")


def test_split_words_raw_for_heredoc_detection() -> None:
    options = Words(raw_quotes=True, raw_escapes=True, skip_unset_env=True)
    assert split_words("RUN <<'EOF' cat \"a b\" ${X:-y} \\<<Z", options) == [
        "RUN", "<<'EOF'", "cat", '"a b"', "${X:-y}", "\\<<Z"]
    assert split_words("RUN echo 'unterminated", options) == []


def test_literal_words_expand_and_split_as_the_lexer_does() -> None:
    rng = random.Random(20261130)
    alphabet = "ab -_/.:@=\t\n\u00a0\u2003\u3000xyz09"
    for _ in range(5_000):
        word = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16)))
        for escape in ("\\", "`"):
            assert shell_lex._is_literal(word, escape)
            lexer = shell_lex._Lexer(word, {}, escape, shell_lex.Words())
            text, unknown = lexer.process_stop_on(None, raw_escapes=False)
            assert shell_lex.expand_word(word, {}, escape) == shell_lex.Value(text, unknown), repr(word)
            collected = shell_lex.Words()
            shell_lex._Lexer(word, {}, escape, collected).process_stop_on(None, raw_escapes=False, collect=True)
            assert shell_lex.split_words(word, shell_lex.Words(), escape) == collected.words, repr(word)


def test_words_with_variables_quotes_or_escapes_still_go_through_the_lexer() -> None:
    env = {"V": shell_lex.Value("x y", frozenset())}
    assert not shell_lex._is_literal("a$V", "\\")
    assert shell_lex.expand_word("a$V", env).text == "ax y"
    assert shell_lex.split_words("'a b' c\\ d", shell_lex.Words()) == ["a b", "c d"]
    assert shell_lex.split_words("a`b", shell_lex.Words(), escape="`") == ["ab"]
