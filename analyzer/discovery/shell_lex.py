"""BuildKit's Dockerfile word processing (`frontend/dockerfile/shell/lex.go`), ported to Python.

Quote removal, escapes and `$VAR` / `${VAR}` / `${VAR:-w}` / `${VAR-w}` / `${VAR:+w}` / `${VAR+w}` /
`${VAR:?m}` / `${VAR#p}` / `${VAR%p}` / `${VAR/p/r}` expansion behave as in BuildKit. One addition: every
value carries the names of the variables whose value we cannot know (an automatic platform ARG), so a
FROM that depends on them is reported as unresolved instead of being guessed. Unset variables expand to
"" as in BuildKit.

Shell patterns (`${VAR#p}`, `${VAR/p/r}`) are matched with RE2, as BuildKit matches them with Go's regexp:
linear time in the pattern and the text, whatever they hold. Nesting of `${…}` is bounded (MAX_NESTING):
Go's growable stacks take any depth, Python's would overflow.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

import re2

_SPECIAL_PARAMS = frozenset("@*#?-$!0")
MAX_NESTING = 64
"""`${A:-${B:-…}}` deeper than this is refused as an error of the word (no real Dockerfile comes close)."""
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


class ExpansionError(ValueError):
    """BuildKit would fail to process the word (bad substitution, unmatched quote, `${X:?msg}`...)."""


@dataclass(frozen=True)
class Value:
    """A variable's value and the unknown variables it was computed from (empty: fully known)."""

    text: str
    unknown: frozenset[str] = frozenset()


@dataclass
class Words:
    """Options and result of one lexer run (`Lex.RawQuotes` etc. in BuildKit)."""

    raw_quotes: bool = False
    raw_escapes: bool = False
    skip_unset_env: bool = False
    unset_is_unknown: bool = False
    """BuildKit expands an unset variable to "" (default). True marks it unknown instead, to name the
    variables a blank or invalid result came from."""
    words: list[str] = field(default_factory=list)


def expand_word(word: str, env: Mapping[str, Value], escape: str = "\\", *,
                unset_is_unknown: bool = False) -> Value:
    """BuildKit's `ProcessWord`: quotes removed, variables expanded; raises `ExpansionError`.

    `env` holds the variables that are set; a value's `unknown` names set variables whose content we
    cannot know (automatic platform ARGs). Unset variables expand to "" as in BuildKit, or are reported
    in `unknown` with `unset_is_unknown`."""
    if _is_literal(word, escape):
        return Value(word, frozenset())
    lexer = _Lexer(word, env, escape, Words(unset_is_unknown=unset_is_unknown))
    text, unknown = lexer.process_stop_on(None, raw_escapes=False)
    return Value(text, unknown)


def _is_literal(word: str, escape: str) -> bool:
    """No variable, quote or escape: the lexer would give the text back unchanged (most words of most
    Dockerfiles; the character-by-character lexer was most of the time spent parsing them)."""
    return "$" not in word and "'" not in word and '"' not in word and escape not in word


def split_words(word: str, options: Words, escape: str = "\\") -> list[str]:
    """BuildKit's `ProcessWords` (word splitting after expansion); [] when BuildKit errors."""
    if _is_literal(word, escape):
        options.words = word.split()  # splits where `_WordCollector.add_char` would: at `str.isspace`
        return options.words
    lexer = _Lexer(word, {}, escape, options)
    try:
        lexer.process_stop_on(None, raw_escapes=options.raw_escapes, collect=True)
    except ExpansionError:
        return []
    return options.words


class _WordCollector:
    """wordsStruct: splits the processed text into words, keeping quoted text whole."""

    def __init__(self) -> None:
        self.buf: list[str] = []
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch.isspace() and self.in_word:
            if self.buf:
                self.words.append("".join(self.buf))
                self.buf = []
                self.in_word = False
        elif not ch.isspace():
            self.add_raw_char(ch)

    def add_raw_char(self, ch: str) -> None:
        self.buf.append(ch)
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw_string(self, text: str) -> None:
        self.buf.append(text)
        self.in_word = True

    def finish(self) -> list[str]:
        if self.buf:
            self.words.append("".join(self.buf))
            self.buf = []
            self.in_word = False
        return self.words


class _Lexer:
    def __init__(self, text: str, env: Mapping[str, Value], escape: str, options: Words) -> None:
        self.text = text
        self.pos = 0
        self.env = env
        self.escape = escape
        self.options = options
        self.raw_escapes = options.raw_escapes
        self.depth = 0

    def unset(self, name: str) -> frozenset[str]:
        """What an unset variable contributes to `unknown`."""
        return frozenset({name}) if self.options.unset_is_unknown else frozenset()

    def peek(self) -> str | None:
        return self.text[self.pos] if self.pos < len(self.text) else None

    def next(self) -> str | None:
        ch = self.peek()
        if ch is not None:
            self.pos += 1
        return ch

    def process_stop_on(self, stop: str | None, raw_escapes: bool,
                        collect: bool = False) -> tuple[str, frozenset[str]]:
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            return self._process_stop_on(stop, collect)
        finally:
            self.raw_escapes = saved

    def until(self, stop: str, raw_escapes: bool, missing: str) -> tuple[str, frozenset[str]]:
        """Text up to `stop`; running out of input first is the syntax error `missing` (as BuildKit words it)."""
        try:
            return self.process_stop_on(stop, raw_escapes)
        except ExpansionError:
            if self.peek() is None:
                raise ExpansionError(missing) from None
            raise

    def _process_stop_on(self, stop: str | None, collect: bool) -> tuple[str, frozenset[str]]:
        out: list[str] = []
        unknown: set[str] = set()
        words = _WordCollector()
        while (ch := self.peek()) is not None:
            if stop is not None and ch == stop:
                self.next()
                return "".join(out), frozenset(unknown)
            if ch in "$'\"":
                if ch == "$":
                    text, unk = self.dollar()
                    unknown |= unk
                    words.add_string(text)
                else:
                    text = self.single_quote() if ch == "'" else self.double_quote(unknown)
                    words.add_raw_string(text)
                out.append(text)
                continue
            ch = self.next()
            assert ch is not None
            if ch == self.escape:
                if self.raw_escapes:
                    words.add_raw_char(ch)
                    out.append(ch)
                escaped = self.next()
                if escaped is None:
                    break
                words.add_raw_char(escaped)
                out.append(escaped)
                continue
            words.add_char(ch)
            out.append(ch)
        if stop is not None:
            raise ExpansionError(f"unexpected end of statement while looking for matching {stop}")
        if collect:
            self.options.words = words.finish()
        return "".join(out), frozenset(unknown)

    def single_quote(self) -> str:
        opening = self.next() or ""
        out = [opening] if self.options.raw_quotes else []
        while True:
            ch = self.next()
            if ch is None:
                raise ExpansionError("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                if self.options.raw_quotes:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def double_quote(self, unknown: set[str]) -> str:
        opening = self.next() or ""
        out = [opening] if self.options.raw_quotes else []
        while True:
            ch = self.peek()
            if ch is None:
                raise ExpansionError("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.next()
                if self.options.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if ch == "$":
                text, unk = self.dollar()
                unknown |= unk
                out.append(text)
                continue
            ch = self.next()
            assert ch is not None
            if ch == self.escape:
                if self.raw_escapes:
                    out.append(ch)
                following = self.peek()
                if following is None:
                    continue
                if following in ('"', "$", self.escape):
                    ch = self.next()
                    assert ch is not None
            out.append(ch)

    def lookup(self, name: str) -> Value | None:
        return self.env.get(name)

    def dollar(self) -> tuple[str, frozenset[str]]:
        self.depth += 1
        try:
            if self.depth > MAX_NESTING:
                raise ExpansionError(f"syntax error: variable substitutions nested more than {MAX_NESTING} deep")
            return self._dollar()
        finally:
            self.depth -= 1

    def _dollar(self) -> tuple[str, frozenset[str]]:
        self.next()  # the '$'
        if self.peek() != "{":
            name = self.process_name()
            if not name:
                return "$", frozenset()
            value = self.lookup(name)
            if value is None:
                if self.options.skip_unset_env:
                    return "$" + name, frozenset()
                return "", self.unset(name)
            return value.text, value.unknown
        self.next()  # the '{'
        first = self.peek()
        if first is None:
            raise ExpansionError("syntax error: missing '}'")
        if first in "{}:":
            raise ExpansionError("syntax error: bad substitution")
        name = self.process_name()
        ch = self.next()
        if ch is None:
            raise ExpansionError("syntax error: missing '}'")
        if ch == "}":
            value = self.lookup(name)
            if value is None:
                if self.options.skip_unset_env:
                    return "${" + name + "}", frozenset()
                return "", self.unset(name)
            return value.text, value.unknown
        if ch == "/":
            return self.substitute(name)
        modifier = ch
        null_is_unset = False
        if ch == ":":
            null_is_unset = True
            following = self.next()
            if following is None:
                raise ExpansionError("syntax error: missing '}'")
            modifier = ":" + following
            ch = following
        if ch not in "+-?#%":
            raise ExpansionError(f"unsupported modifier ({modifier}) in substitution")
        pattern_like = ch in "#%"
        if null_is_unset and pattern_like:
            raise ExpansionError(f"unsupported modifier ({modifier}) in substitution")
        word, word_unknown = self.until("}", pattern_like, "syntax error: missing '}'")
        value = self.lookup(name)
        if value is None and self.options.skip_unset_env:
            return "${" + name + modifier + word + "}", frozenset()
        return _apply_modifier(name, ch, null_is_unset, value, word, word_unknown, self.unset(name))

    def substitute(self, name: str) -> tuple[str, frozenset[str]]:
        replace_all = self.peek() == "/"
        if replace_all:
            self.next()
        pattern, p_unknown = self.until("/", True, "syntax error: missing '/' in ${}")
        replacement, r_unknown = self.until("}", True, "syntax error: missing '}'")
        value = self.lookup(name)
        if value is None and self.options.skip_unset_env:
            return "${" + name + "/" + pattern + "/" + replacement + "}", frozenset()
        text = value.text if value else ""
        unknown = (value.unknown if value else self.unset(name)) | p_unknown | r_unknown
        regex = _shell_pattern_to_regex(pattern, greedy=True, anchored=False)
        if replace_all:
            text = regex.sub(lambda _m: replacement, text)
        elif match := regex.search(text):
            text = text[: match.start()] + replacement + text[match.end() :]
        return text, unknown

    def process_name(self) -> str:
        name: list[str] = []
        while (ch := self.peek()) is not None:
            if not name and ch.isdecimal():
                while (digit := self.peek()) is not None and digit.isdecimal():
                    name.append(digit)
                    self.next()
                return "".join(name)
            if not name and ch in _SPECIAL_PARAMS:
                self.next()
                return ch
            if not (ch.isalpha() or ch.isdecimal() or ch == "_"):
                break
            name.append(ch)
            self.next()
        return "".join(name)


def _apply_modifier(name: str, modifier: str, null_is_unset: bool, value: Value | None, word: str,
                    word_unknown: frozenset[str], unset: frozenset[str]) -> tuple[str, frozenset[str]]:
    """The `${name<modifier>word}` forms; a value of unknown content taints the result."""
    if modifier == "-":
        if value is None:
            return word, word_unknown
        if null_is_unset and value.text == "":
            return word, word_unknown | value.unknown
        return value.text, value.unknown
    if modifier == "+":
        if value is None:
            return "", frozenset()
        if null_is_unset:
            return ("", value.unknown) if value.text == "" else (word, word_unknown | value.unknown)
        return word, word_unknown
    if modifier == "?":
        if value is None or (null_is_unset and value.text == "" and not value.unknown):
            if value is None and unset:
                return "", unset  # BuildKit fails here; the caller asked to name unset variables
            if value is None:
                raise ExpansionError(f"{name}: {word or 'is not allowed to be unset'}")
            raise ExpansionError(f"{name}: {word or 'is not allowed to be empty'}")
        return value.text, value.unknown
    # '#' / '%': trim the shortest (or, doubled, the longest) matching prefix / suffix.
    text = value.text if value else ""
    unknown = value.unknown if value else unset
    greedy = word.startswith(modifier)
    pattern = word[1:] if greedy else word
    if modifier == "#":
        return _trim_prefix(pattern, text, greedy), unknown | word_unknown
    return _reverse(_trim_prefix(_reverse_pattern(pattern), _reverse(text), greedy)), unknown | word_unknown


def _literal(ch: str) -> str:
    return ch if ch.isascii() and ch.isalnum() else f"\\x{{{ord(ch):x}}}"


@functools.lru_cache(maxsize=256)
def _shell_pattern_to_regex(pattern: str, greedy: bool, anchored: bool) -> re2._Regexp:
    """convertShellPatternToRegex: `*` and `?` wildcards, `\\` escapes, no bracket expressions.

    Compiled by RE2 like Go's regexp (so `.` does not match a newline, as in BuildKit), never by a
    backtracking engine: `${X#*a*a*a*a*c}` on a long value must not take exponential time."""
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    i = 0
    while i < len(pattern):
        tok = pattern[i]
        i += 1
        if tok == "*":
            out.append(star)
        elif tok == "?":
            out.append(".")
        elif tok == "\\":
            following = pattern[i] if i < len(pattern) else ""
            if following in ("}", "/"):
                continue
            if following not in ("*", "?", "\\"):
                raise ExpansionError(
                    f"invalid pattern ({pattern}) in substitution: invalid escape '\\{following}'")
            out.append(_literal(following))
            i += 1
        else:
            out.append(_literal(tok))
    try:
        return re2.compile("".join(out), _RE2_OPTIONS)
    except re2.error:  # Go's regexp refuses an oversized expression too ("expression too large")
        raise ExpansionError(f"invalid pattern ({pattern[:80]}…) in substitution: too large") from None


def _trim_prefix(pattern: str, text: str, greedy: bool) -> str:
    match = _shell_pattern_to_regex(pattern, greedy, anchored=True).search(text)
    return text[match.end() :] if match else text


def _reverse(text: str) -> str:
    return text[::-1]


def _reverse_pattern(pattern: str) -> str:
    """Reverse a pattern but keep each `\\x` escape in front of its character."""
    tokens: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            tokens.append(pattern[i : i + 2])
            i += 2
        else:
            tokens.append(pattern[i])
            i += 1
    return "".join(reversed(tokens))
