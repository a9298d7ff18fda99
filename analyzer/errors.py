"""Errors that carry a location (file, line, field) so every bad input can be reported precisely."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file."""

    file: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        what = f" {self.field}:" if self.field else ""
        return f"{where}:{what} {self.message}"


@dataclass
class InputError(Exception):
    """Invalid input (config, state or CLI arguments); nothing may be written when this is raised."""

    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)

    @classmethod
    def single(cls, file: str | Path, message: str, line: int | None = None,
               field_name: str | None = None) -> InputError:
        return cls([Problem(str(file), line, field_name, message)])


def validation_problems(file: str | Path, errors: list[Any],
                        line_of: Callable[[tuple[Any, ...]], int | None] | None = None,
                        field_prefix: str = "") -> list[Problem]:
    """pydantic's `ValidationError.errors()` as Problems: dotted field path, line when known, and
    messages without pydantic's "Value error, " prefix ("unknown field" for forbidden extra keys)."""
    problems = []
    for error in errors:
        loc = tuple(error["loc"])
        message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"].removeprefix("Value error, ")
        field_name = field_prefix + ".".join(str(part) for part in loc)
        problems.append(Problem(str(file), line_of(loc) if line_of else None, field_name or None, message))
    return problems
