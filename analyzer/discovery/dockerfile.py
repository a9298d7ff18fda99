"""BuildKit-exact base-image discovery from a Dockerfile (pure: text in, analysis out).

Semantics follow BuildKit's Dockerfile frontend (`dockerfile2llb/convert.go`), checked against its source:
- Global ARGs (before the first FROM) are expanded in order; a build arg overrides only a declared ARG.
  The automatic platform ARGs (`TARGETPLATFORM`, `BUILDARCH`, ...) are always there but their value
  depends on the build, so an image name that uses them is unresolved unless a build arg gives it.
- FROM: the expanded value names an earlier stage when it equals an earlier `AS` name exactly (names are
  lower-cased when defined, the reference is not), else lower-case `scratch` is the empty image, else it
  is parsed as an image reference. A variable without a value (declared without default, undeclared, or
  a build arg not declared before FROM) expands to "" as in BuildKit; the FROM is unresolved only when
  the result is blank or not a valid reference.
- `# syntax=` (or the `BUILDKIT_SYNTAX` build arg, which overrides it) is normalized like any reference.
- `COPY --from=` names any stage of the file (case-insensitive) or a stage index, else an image.
  `RUN --mount=...,from=` names any stage (case-insensitive, no index), else an image. BuildKit does not
  expand variables in either (it rejects them), so neither do we: such values are reported as problems.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from analyzer.discovery.instructions import Instruction, ParsedDockerfile, parse_dockerfile, parse_words
from analyzer.discovery.reference import ImageRef, InvalidReference, parse_reference
from analyzer.discovery.shell_lex import ExpansionError, Value, expand_word

PLATFORM_ARGS = (
    "BUILDPLATFORM", "BUILDOS", "BUILDOSVERSION", "BUILDARCH", "BUILDVARIANT",
    "TARGETPLATFORM", "TARGETOS", "TARGETOSVERSION", "TARGETARCH", "TARGETVARIANT", "TARGETSTAGE",
)
"""ARGs BuildKit defines before the first FROM without a declaration (defaultArgs in convert.go)."""

KNOWN_INSTRUCTIONS = frozenset({
    "add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from", "healthcheck", "label",
    "maintainer", "onbuild", "run", "shell", "stopsignal", "user", "volume", "workdir",
})
SCRATCH = "scratch"
SYNTAX_BUILD_ARG = "BUILDKIT_SYNTAX"
"""A build arg that replaces the `# syntax=` frontend (dockerui's frontend forwarding)."""
_STAGE_NAME_RE = re.compile(r"[a-z][a-z0-9-_.]*")
_GO_ATOI_RE = re.compile(r"[+-]?[0-9]+")
_GO_INT_MAX = 2**63 - 1
"""strconv.Atoi on a 64-bit build: a longer number is a range error, and BuildKit then reads the value
as a stage name or image (as we do)."""
_VARIABLE_RE = re.compile(r"\$.", re.DOTALL)


@dataclass(frozen=True)
class StageFrom:
    """One FROM instruction."""

    name: str | None
    """Stage name (`AS x`), lower-cased, or None."""
    source: str
    """Normalized image | `stage:<name>` | `scratch` | `unresolved` | `invalid`."""
    raw: str
    """The FROM value as written in the file."""
    line: int
    platform: str | None = None
    """`--platform=` value, expanded when it can be (else as written)."""
    ref: ImageRef | None = None


@dataclass(frozen=True)
class ImageUse:
    """An image named by `COPY --from=` or `RUN --mount=…,from=` (not a stage), or the frontend."""

    ref: ImageRef
    raw: str
    line: int
    """1-based line; 0 for a frontend given as the `BUILDKIT_SYNTAX` build arg."""
    via: Literal["copy", "mount", "syntax"]


@dataclass(frozen=True)
class Unusable:
    """A value that is not an image: unresolved variables, or an invalid reference."""

    raw: str
    line: int
    reason: str


@dataclass(frozen=True)
class DockerfileAnalysis:
    syntax: str | None
    """The frontend image, normalized (or as written when it is not a valid reference)."""
    stages: list[StageFrom] = field(default_factory=list)
    copy_from: list[ImageUse] = field(default_factory=list)
    mount_from: list[ImageUse] = field(default_factory=list)
    unresolved: list[Unusable] = field(default_factory=list)
    """FROM values whose variables have no value."""
    invalid: list[Unusable] = field(default_factory=list)
    """FROM values that are not valid image references (or malformed FROM lines)."""
    problems: list[Unusable] = field(default_factory=list)
    """Everything else BuildKit would reject: bad `--from` / `from=` values, directives, unknown
    instructions, unterminated here-documents. `raw` is the offending text."""
    escape: str = "\\"
    frontend: ImageUse | None = None
    """The frontend image as a dependency (`# syntax=` or `BUILDKIT_SYNTAX`), when it is a valid reference:
    BuildKit pulls it to build, so a new digest of it is an update like any base's."""

    @property
    def bases(self) -> list[ImageRef]:
        """Distinct external images from FROM lines, in order of first appearance."""
        return list(dict.fromkeys(stage.ref for stage in self.stages if stage.ref is not None))


def analyze_dockerfile(text: str, build_args: Mapping[str, str] | None = None) -> DockerfileAnalysis:
    """Every base image of a Dockerfile as BuildKit would build it with `build_args`."""
    parsed = parse_dockerfile(text)
    return _Analyzer(parsed, dict(build_args or {})).run()


class _GlobalArgs:
    """The ARG scope FROM lines see: automatic platform ARGs plus ARGs before the first FROM."""

    def __init__(self, build_args: dict[str, str]) -> None:
        self.build_args = build_args
        self.values: dict[str, Value] = {}
        self.declared_without_value: set[str] = set()
        self.broken: dict[str, str] = {}
        self.empty_deps: dict[str, frozenset[str]] = {}
        """ARG → the variables without a value its default used (each expanded to "")."""
        for name in PLATFORM_ARGS:
            if name in build_args:
                self.values[name] = Value(build_args[name])
            else:
                self.values[name] = Value("", frozenset({name}))

    def declare(self, word: str, escape: str) -> str | None:
        """One `KEY[=default]` word of a global ARG; returns a problem message or None."""
        key, has_value, default = word.partition("=")
        if not key:
            return "ARG names can not be blank"
        if key in self.build_args:
            self.values[key] = Value(self.build_args[key])
        elif has_value:
            try:
                self.values[key] = expand_word(default, self.values, escape)
                self.empty_deps[key] = self.unset_names(default, escape)
            except ExpansionError as exc:
                self.broken[key] = str(exc)
                self.values[key] = Value("", frozenset({key}))
                return f"ARG {key}: {exc}"
        elif key not in self.values:
            self.declared_without_value.add(key)
        return None

    def why_unknown(self, name: str) -> str:
        if name in self.broken:
            return f"ARG {name} could not be expanded ({self.broken[name]})"
        if name in PLATFORM_ARGS:
            return f"{name} is an automatic platform ARG whose value depends on the build"
        if name in self.declared_without_value:
            return f"ARG {name} has no default and no build arg, so it is empty"
        if name in self.values:
            return f"ARG {name} is used before the line that declares it, so it is empty there"
        if name in self.build_args:
            return f"build arg {name} is not declared as an ARG before the first FROM, so it is empty"
        return f"{name} is not declared as an ARG before the first FROM, so it is empty"

    def unset_names(self, raw: str, escape: str) -> frozenset[str]:
        """The variables without a value that `raw` uses, directly or through ARG defaults (BuildKit
        expands each to "")."""
        traced = {key: Value(value.text, value.unknown | self.empty_deps.get(key, frozenset()))
                  for key, value in self.values.items()}
        try:
            strict = expand_word(raw, traced, escape, unset_is_unknown=True)
        except ExpansionError:
            return frozenset()
        return frozenset(strict.unknown - set(PLATFORM_ARGS) - set(self.broken))


class _Analyzer:
    def __init__(self, parsed: ParsedDockerfile, build_args: dict[str, str]) -> None:
        self.parsed = parsed
        self.args = _GlobalArgs(build_args)
        self.stages: list[StageFrom] = []
        self.stage_names: set[str] = set()
        """Names of the stages so far (a set, so 20,000 FROMs stay linear)."""
        self.unresolved: list[Unusable] = []
        self.invalid: list[Unusable] = []
        self.problems = [Unusable("", p.line, p.message) for p in parsed.problems]
        self.copy_from: list[ImageUse] = []
        self.mount_from: list[ImageUse] = []

    def run(self) -> DockerfileAnalysis:
        stage_commands: list[Instruction] = []
        for instruction in self.parsed.instructions:
            if instruction.keyword not in KNOWN_INSTRUCTIONS:
                self.problem(instruction.keyword, instruction.line,
                             f"unknown instruction: {instruction.keyword.upper()}")
            elif instruction.keyword == "from":
                self.add_stage(instruction)
            elif not self.stages:
                if instruction.keyword == "arg":
                    self.declare_global_args(instruction)
                else:
                    self.problem(instruction.keyword, instruction.line, "no build stage in current context")
            else:
                stage_commands.append(instruction)
        if not self.stages and not self.parsed.problems:
            self.problem("", 1, "dockerfile contains no stages to build")
        all_names = {stage.name for stage in self.stages if stage.name}
        for instruction in stage_commands:
            if instruction.keyword == "copy":
                self.copy_sources(instruction, all_names)
            elif instruction.keyword == "run":
                self.mount_sources(instruction, all_names)
        frontend = self.frontend()
        return DockerfileAnalysis(
            syntax=frontend.ref.normalized if isinstance(frontend, ImageUse) else frontend,
            stages=self.stages, copy_from=self.copy_from,
            mount_from=self.mount_from, unresolved=self.unresolved, invalid=self.invalid,
            problems=self.problems, escape=self.parsed.escape,
            frontend=frontend if isinstance(frontend, ImageUse) else None,
        )

    def frontend(self) -> ImageUse | str | None:
        """The frontend image: the `BUILDKIT_SYNTAX` build arg overrides `# syntax=`; normalized like every
        other reference (`docker/dockerfile:1` → `docker.io/docker/dockerfile:1`). An invalid value is a
        problem and comes back as written."""
        from_arg = self.args.build_args.get(SYNTAX_BUILD_ARG)
        raw = from_arg or self.parsed.syntax
        if not raw:
            return None
        line = 0 if from_arg else self.parsed.directive_lines.get("syntax", 1)
        try:
            return ImageUse(parse_reference(raw), raw, line, "syntax")
        except InvalidReference as exc:
            self.problem(raw, max(line, 1), f"syntax {raw!r} is not a valid image reference: {exc}")
            return raw

    def problem(self, raw: str, line: int, reason: str) -> None:
        self.problems.append(Unusable(raw, line, reason))

    def declare_global_args(self, instruction: Instruction) -> None:
        words = parse_words(instruction.args, self.parsed.escape)
        if not words:
            self.problem(instruction.args, instruction.line, "ARG requires at least one argument")
        for word in words:
            message = self.args.declare(word, self.parsed.escape)
            if message:
                self.problem(word, instruction.line, message)

    def add_stage(self, instruction: Instruction) -> None:
        words = [w for w in re.split(r"[\t\v\f\r ]+", instruction.args) if w] if instruction.args else []
        raw = words[0] if len(words) in (1, 3) else instruction.args
        name: str | None = None
        error: str | None = None
        if len(words) == 3 and words[1].lower() == "as":
            if _STAGE_NAME_RE.fullmatch(words[2].lower()):
                name = words[2].lower()
            else:
                error = (f"invalid name for build stage: {words[2]!r}, "
                         "name can't start with a number or contain symbols")
        elif len(words) != 1:
            error = "FROM requires either one or three arguments"
        platform, flag_error = self.platform_flag(instruction.flags)
        error = error or flag_error
        earlier = self.stage_names
        if error:
            stage = self.unusable_stage(name, raw, instruction.line, platform, error, self.invalid, "invalid")
        else:
            stage = self.resolve_from(name, raw, instruction.line, platform, earlier)
        self.stages.append(stage)
        if name:
            self.stage_names.add(name)

    def platform_flag(self, flags: tuple[str, ...]) -> tuple[str | None, str | None]:
        """(platform, error): FROM accepts only `--platform=<value>` (BFlags.Parse rules)."""
        platform: str | None = None
        for flag in flags:
            if not flag.startswith("--"):
                return platform, f"Arg should start with -- : {flag}"
            name, has_value, value = flag[2:].partition("=")
            if name != "platform":
                return platform, f"unknown flag: {name}"
            if not has_value:
                return platform, "missing a value on flag: platform"
            if platform is not None:
                return platform, "duplicate flag specified: platform"
            platform = value
        if platform is not None:
            try:
                expanded = expand_word(platform, self.args.values, self.parsed.escape)
            except ExpansionError:
                return platform, None
            if not expanded.unknown:
                return expanded.text, None
        return platform, None

    def unusable_stage(self, name: str | None, raw: str, line: int, platform: str | None, reason: str,
                       bucket: list[Unusable], source: str) -> StageFrom:
        bucket.append(Unusable(raw, line, reason))
        return StageFrom(name=name, source=source, raw=raw, line=line, platform=platform)

    def resolve_from(self, name: str | None, raw: str, line: int, platform: str | None,
                     earlier: set[str]) -> StageFrom:
        try:
            expanded = expand_word(raw, self.args.values, self.parsed.escape)
        except ExpansionError as exc:
            if unset := self.args.unset_names(raw, self.parsed.escape):  # `${BASE:?…}` with no value
                reason = "; ".join(self.args.why_unknown(var) for var in sorted(unset))
                return self.unusable_stage(name, raw, line, platform, f"{exc}: {reason}",
                                           self.unresolved, "unresolved")
            return self.unusable_stage(name, raw, line, platform, str(exc), self.invalid, "invalid")
        if expanded.unknown:
            reason = "; ".join(self.args.why_unknown(var) for var in sorted(expanded.unknown))
            return self.unusable_stage(name, raw, line, platform, reason, self.unresolved, "unresolved")
        value = expanded.text
        buildable = value != "" and _is_reference(value)
        unset = frozenset() if buildable else self.args.unset_names(raw, self.parsed.escape)
        if unset:  # BuildKit builds with "" for these; only a result that cannot be built is unresolved
            reason = "; ".join(self.args.why_unknown(var) for var in sorted(unset))
            shown = "blank" if value == "" else f"{value!r}, not a valid image reference"
            return self.unusable_stage(name, raw, line, platform, f"{raw} expands to {shown}: {reason}",
                                       self.unresolved, "unresolved")
        if value == "":
            return self.unusable_stage(name, raw, line, platform, f"base name ({raw}) should not be blank",
                                       self.invalid, "invalid")
        if value in earlier:
            return StageFrom(name=name, source=f"stage:{value}", raw=raw, line=line, platform=platform)
        if value == SCRATCH:
            return StageFrom(name=name, source=SCRATCH, raw=raw, line=line, platform=platform)
        try:
            ref = parse_reference(value)
        except InvalidReference as exc:
            shown = value if value == raw else f"{value!r} (from {raw!r})"
            reason = f"{shown} is not a valid image reference: {exc}"
            if value.lower() == SCRATCH:
                reason += " (only lower-case `scratch` is the empty image)"
            return self.unusable_stage(name, raw, line, platform, reason, self.invalid, "invalid")
        return StageFrom(name=name, source=ref.normalized, raw=raw, line=line, platform=platform, ref=ref)

    def copy_sources(self, instruction: Instruction, stage_names: set[str]) -> None:
        if "--from" in instruction.flags:  # BFlags: a string flag needs `=value`
            self.problem("--from", instruction.line, "missing a value on flag: from")
        values = [flag[len("--from="):] for flag in instruction.flags if flag.startswith("--from=")]
        if len(values) > 1:
            self.problem(values[1], instruction.line, "duplicate flag specified: from")
        for value in values[:1]:
            if not value:
                continue
            if _changes_when_expanded(value, self.parsed.escape):
                self.problem(value, instruction.line,
                             "variable expansion is not supported for --from, define a new stage with "
                             "FROM using ARG from global scope as a workaround")
                continue
            index = _go_atoi(value)
            if index is not None:
                if not 0 <= index < len(self.stages):
                    self.problem(value, instruction.line, f"invalid stage index {index}")
                continue
            self.external_source(value, instruction.line, stage_names, "copy", self.copy_from)

    def mount_sources(self, instruction: Instruction, stage_names: set[str]) -> None:
        for flag in instruction.flags:
            if not flag.startswith("--mount="):
                continue
            spec = flag[len("--mount="):]
            try:
                fields = next(csv.reader([spec]), [])
            except csv.Error as exc:
                self.problem(spec, instruction.line, f"failed to parse csv mounts: {exc}")
                continue
            for item in fields:
                key, _, value = item.partition("=")
                if key.lower() != "from" or not value:
                    continue
                if _VARIABLE_RE.search(value):
                    self.problem(value, instruction.line,
                                 "'from' doesn't support variable expansion, define alias stage instead")
                    continue
                self.external_source(value, instruction.line, stage_names, "mount", self.mount_from)

    def external_source(self, value: str, line: int, stage_names: set[str],
                        via: Literal["copy", "mount"], bucket: list[ImageUse]) -> None:
        if value.lower() in stage_names or value == SCRATCH:
            return
        try:
            bucket.append(ImageUse(ref=parse_reference(value), raw=value, line=line, via=via))
        except InvalidReference as exc:
            flag = "COPY --from" if via == "copy" else "RUN --mount from="
            self.problem(value, line,
                         f"{flag} {value!r} is neither a stage nor a valid image reference: {exc}")


def _go_atoi(value: str) -> int | None:
    """strconv.Atoi: an int64 in decimal with an optional sign, else None (never int() on 4,301 digits)."""
    if not _GO_ATOI_RE.fullmatch(value) or len(value.lstrip("+-").lstrip("0")) > 19:
        return None
    number = int(value)
    return number if -_GO_INT_MAX - 1 <= number <= _GO_INT_MAX else None


def _is_reference(value: str) -> bool:
    try:
        parse_reference(value)
    except InvalidReference:
        return value == SCRATCH
    return True


def _changes_when_expanded(value: str, escape: str) -> bool:
    """BuildKit's check: processing the value with no variables must leave it unchanged."""
    try:
        return expand_word(value, {}, escape).text != value
    except ExpansionError:
        return True
