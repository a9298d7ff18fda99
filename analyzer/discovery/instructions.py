"""Split a Dockerfile into instructions the way BuildKit's parser does (`frontend/dockerfile/parser`).

Hand-ported rather than taken from dockerfile-parse, which differs from BuildKit exactly where discovery
must be right: it ignores `# escape=`, reads here-document bodies as instructions and ends a
continuation at a blank line. Covered here: parser directives (`syntax`, `escape`, `check`) at the very
top, UTF-8 BOM, CRLF, line continuations with comment and empty lines between them, instruction
keywords in any case, `--flag` extraction and here-documents (`<<EOF`, `<<-EOF`, `<<"EOF"`, several per
line) whose bodies are skipped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from analyzer.discovery.shell_lex import Words, split_words

DIRECTIVE_NAMES = frozenset({"syntax", "escape", "check"})
_DIRECTIVE_RE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$", re.ASCII)
"""BuildKit's reDirective, for reference only: run by a backtracking engine it is quadratic in the
spaces of the line; `directive()` gives the same answers in linear time."""
_REGEX_SPACE = " \t\n\r\f\v"
_TOKEN_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_HEREDOC_RE = re.compile(r"^([0-9]*)<<(-?)([^<]*)$")
_HEREDOC_COMMANDS = frozenset({"add", "copy", "run"})
_ASCII_SPACE = " \t\n\v\f\r"
_GO_SPACE = _ASCII_SPACE + "\x85\xa0"
"""unicode.IsSpace on one byte, as BuildKit tests each byte of a line."""


@dataclass(frozen=True)
class Heredoc:
    name: str
    chomp: bool


@dataclass(frozen=True)
class Instruction:
    """One logical instruction after continuation joining."""

    keyword: str
    """Lower-case keyword (`from`, `copy`, ...)."""
    flags: tuple[str, ...]
    """`--name=value` words before the arguments, quotes already removed (BuildKit's extractBuilderFlags)."""
    args: str
    """The rest of the line after keyword and flags, trimmed."""
    line: int
    """1-based line where the instruction starts."""
    end_line: int
    heredocs: tuple[Heredoc, ...] = ()


@dataclass(frozen=True)
class Problem:
    line: int
    message: str


@dataclass
class ParsedDockerfile:
    directives: dict[str, str] = field(default_factory=dict)
    directive_lines: dict[str, int] = field(default_factory=dict)
    escape: str = "\\"
    instructions: list[Instruction] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def syntax(self) -> str | None:
        """The frontend image of `# syntax=` (BuildKit uses the value up to the first space)."""
        value = self.directives.get("syntax")
        return value.split(" ", 1)[0] if value else None


class _Directives:
    """possibleParserDirective: directives only until the first line that is not one."""

    def __init__(self, result: ParsedDockerfile) -> None:
        self.result = result
        self.done = False

    def feed(self, token: str, line: int) -> None:
        if self.done:
            return
        found = directive(token)
        if found is None or found[0].lower() not in DIRECTIVE_NAMES:
            self.done = True
            return
        key, value = found[0].lower(), found[1]
        if key in self.result.directives:
            self.result.problems.append(Problem(line, f"only one {key} parser directive can be used"))
            return
        self.result.directives[key] = value
        self.result.directive_lines[key] = line
        if key == "escape":
            if value not in ("`", "\\"):
                message = f"invalid escape token '{value}' does not match ` or \\"
                self.result.problems.append(Problem(line, message))
            else:
                self.result.escape = value


def directive(token: str) -> tuple[str, str] | None:
    """(name, value) when `token` matches BuildKit's directive regex (`_DIRECTIVE_RE`), in linear time."""
    if not token.startswith("#"):
        return None
    rest = token[1:].lstrip(_REGEX_SPACE)
    end = 0
    while end < len(rest) and rest[end].isascii() and (rest[end].isalnum() if end else rest[end].isalpha()):
        end += 1
    name, rest = rest[:end], rest[end:].lstrip(_REGEX_SPACE)
    if not name or not rest.startswith("="):
        return None
    after = rest[1:]
    value = after.strip(_REGEX_SPACE)
    if value:
        return None if "\n" in value else (name, value)  # `.` does not match a newline
    blanks = after.rstrip("\n")  # `(.+?)` takes the last blank it can when nothing else is left
    return (name, blanks[-1]) if blanks else None


def _continuation_re(escape: str) -> re.Pattern[str]:
    e = re.escape(escape)
    return re.compile(rf"([^{e}]){e}[ \t]*\Z|^{e}[ \t]*\Z")


def _trim_continuation(line: str, escape: str) -> tuple[str, bool]:
    """(line without the trailing escape, whether the instruction ends on this line)."""
    match = _continuation_re(escape).search(line)
    if not match:
        return line, True
    return line[: match.start()] + (match.group(1) or ""), False


def _is_comment(raw: str) -> bool:
    return raw.rstrip("\r\n").lstrip().startswith("#")


def parse_dockerfile(text: str) -> ParsedDockerfile:
    """BuildKit's `parser.Parse`, keeping only what discovery needs."""
    result = _ParsedBuilder(text)
    return result.run()


class _ParsedBuilder:
    def __init__(self, text: str) -> None:
        if text.startswith("\ufeff"):
            text = text[1:]
        lines = text.split("\n")
        if text.endswith("\n"):
            lines.pop()
        self.lines = lines
        self.index = 0
        self.result = ParsedDockerfile()
        self.directives = _Directives(self.result)

    def next_line(self) -> str | None:
        if self.index >= len(self.lines):
            return None
        self.index += 1
        return self.lines[self.index - 1]

    def run(self) -> ParsedDockerfile:
        while (raw := self.next_line()) is not None:
            token = raw.rstrip("\r\n").lstrip()
            self.directives.feed(token, self.index)
            start = self.index
            line, ended = _trim_continuation("" if token.startswith("#") else token, self.result.escape)
            if ended and line == "":
                continue
            while not ended and (raw := self.next_line()) is not None:
                if _is_comment(raw):
                    continue
                token = raw.rstrip("\r\n")
                if not token.strip():
                    continue
                more, ended = _trim_continuation(token, self.result.escape)
                line += more
            self.add_instruction(line, start)
        if not self.result.instructions:
            self.result.problems.append(Problem(max(self.index, 1), "file with no instructions"))
        return self.result

    def add_instruction(self, line: str, start: int) -> None:
        keyword, flags, args = split_command(line, self.result.escape)
        heredocs: tuple[Heredoc, ...] = ()
        if _can_contain_heredoc(keyword, args):
            heredocs = heredocs_from_line(line)
            for heredoc in heredocs:
                if not self.skip_heredoc_body(heredoc):
                    self.result.problems.append(Problem(start, f"unterminated heredoc {heredoc.name!r}"))
                    break
        self.result.instructions.append(Instruction(keyword, flags, args, start, self.index, heredocs))

    def skip_heredoc_body(self, heredoc: Heredoc) -> bool:
        while (raw := self.next_line()) is not None:
            candidate = raw.rstrip("\r\n")
            if heredoc.chomp:
                candidate = candidate.lstrip("\t")
            if candidate == heredoc.name:
                return True
        return False


def split_command(line: str, escape: str = "\\") -> tuple[str, tuple[str, ...], str]:
    """splitCommand: (lower-case keyword, flags, remaining arguments)."""
    parts = _TOKEN_WHITESPACE.split(line.strip(), maxsplit=1)
    keyword = parts[0].lower()
    if len(parts) < 2:
        return keyword, (), ""
    args, flags = extract_builder_flags(parts[1], escape)
    return keyword, tuple(flags), args.strip()


def extract_builder_flags(line: str, escape: str = "\\") -> tuple[str, list[str]]:
    """extractBuilderFlags (BuildKit v0.34 parser/split_command.go): the leading words that start with
    `--`, quotes and escapes processed. A flag never takes the next word as its value (`--link --from=x`
    is two flags), and `--` alone ends the flags."""
    in_spaces, in_word, in_quote = 0, 1, 2
    words: list[str] = []
    phase = in_spaces
    word: list[str] = []
    quote = ""
    blank_ok = False
    n = len(line)
    pos = -1
    ch = ""
    while pos < n:
        pos += 1
        if pos != n:
            ch = line[pos]
        if phase == in_spaces:
            if pos == n:
                break
            if ch in _GO_SPACE:
                continue
            if ch != "-" or pos + 1 == n or line[pos + 1] != "-":
                return line[pos:], words
            phase = in_word
        if phase in (in_word, in_quote) and pos == n:
            text = "".join(word)
            if text != "--" and (blank_ok or text):
                words.append(text)
            break
        if phase == in_word:
            if ch in _GO_SPACE:
                text = "".join(word)
                phase = in_spaces
                if text == "--":
                    return line[pos:], words
                if blank_ok or text:
                    words.append(text)
                word = []
                blank_ok = False
                continue
            if ch in "'\"":
                quote = ch
                blank_ok = True
                phase = in_quote
                continue
            if ch == escape:
                if pos + 1 == n:
                    continue
                pos += 1
                ch = line[pos]
            word.append(ch)
            continue
        if ch == quote:  # in_quote
            phase = in_word
            continue
        if ch == escape:
            if pos + 1 == n:
                phase = in_word
                continue
            pos += 1
            ch = line[pos]
        word.append(ch)
    return "", words


def parse_words(rest: str, escape: str) -> list[str]:
    """parseWords (ARG, ENV): split on whitespace, quotes and escapes kept for later processing."""
    in_spaces, in_word, in_quote = 0, 1, 2
    words: list[str] = []
    phase = in_spaces
    word = ""
    quote = ""
    blank_ok = False
    n = len(rest)
    pos = 0
    ch = ""
    while pos <= n:
        if pos != n:
            ch = rest[pos]
        if phase == in_spaces:
            if pos == n:
                break
            if ch.isspace():
                pos += 1
                continue
            phase = in_word
        if phase in (in_word, in_quote) and pos == n:
            if blank_ok or word:
                words.append(word)
            break
        if phase == in_word:
            if ch.isspace():
                phase = in_spaces
                if blank_ok or word:
                    words.append(word)
                word = ""
                blank_ok = False
                pos += 1
                continue
            if ch in "'\"":
                quote = ch
                blank_ok = True
                phase = in_quote
            if ch == escape:
                if pos + 1 == n:
                    pos += 1
                    continue
                word += ch
                pos += 1
                ch = rest[pos]
            word += ch
            pos += 1
            continue
        # in_quote
        if ch == quote:
            phase = in_word
        if ch == escape and quote != "'":
            if pos + 1 == n:
                phase = in_word
                pos += 1
                continue
            word += ch
            pos += 1
            ch = rest[pos]
        word += ch
        pos += 1
    return words


def is_json_form(args: str) -> bool:
    """parseJSON: the arguments are a JSON array (exec form); such instructions carry no heredocs."""
    text = args.lstrip()
    if not text.startswith("["):
        return False
    try:
        value, _ = json.JSONDecoder().raw_decode(text)
    except (ValueError, RecursionError):  # `RUN [[[[…` thousands deep: not a string array either way
        return False
    return isinstance(value, list)


def _can_contain_heredoc(keyword: str, args: str) -> bool:
    if keyword == "onbuild":
        keyword, _, args = split_command(args)
    return keyword in _HEREDOC_COMMANDS and not is_json_form(args)


def heredocs_from_line(line: str) -> tuple[Heredoc, ...]:
    """heredocsFromLine: every `[n]<<[-]WORD` word of the instruction, in order."""
    options = Words(raw_quotes=True, raw_escapes=True, skip_unset_env=True)
    found: list[Heredoc] = []
    for word in split_words(line, options):
        match = _HEREDOC_RE.match(word)
        if not match or not match.group(3):
            continue
        names = split_words(match.group(3), Words(skip_unset_env=True))
        if len(names) == 1:
            found.append(Heredoc(names[0], chomp=match.group(2) == "-"))
    return tuple(found)
