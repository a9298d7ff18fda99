"""The README and docs stay true: every command they show parses, every page they link exists, and the
enrollment example is a valid images.yaml."""

from __future__ import annotations

import functools
import re
import shlex
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from analyzer.cli import cli
from analyzer.config.loader import load_fleet
from tests.support import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CODE_BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.S)


def _commands() -> list[tuple[str, str, list[str]]]:
    """(page, the command's words, options) of every `image-factory …` line in a shell code block."""
    found = []
    for page in PAGES:
        for lang, body in CODE_BLOCK.findall(page.read_text()):
            if lang not in ("bash", "sh", "console", ""):
                continue
            for line in body.replace("\\\n", " ").splitlines():
                line = line.split("#", 1)[0].strip().removeprefix("$ ").removeprefix("venv/bin/")
                if not line.startswith("image-factory "):
                    continue
                words = shlex.split(line)
                positional = [w for w in words[1:] if not w.startswith("-")]
                options = [w.split("=", 1)[0] for w in words if w.startswith("--")]
                found.append((page.name, " ".join(positional), options))
    return found


@functools.cache
def _run_help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, f"image-factory {' '.join(path)}: {result.output}"
    return result.output


def _subcommands(help_text: str) -> set[str]:
    listing = help_text.split("Commands:", 1)[1] if "Commands:" in help_text else ""
    return {line.split()[0] for line in listing.splitlines() if line.startswith("  ") and line.split()}


def _help(words: list[str]) -> str:
    """`--help` of every command level the words name (`record --state-repo URL rebuild REF …` → `record
    rebuild`); option values and arguments between them are skipped."""
    path: list[str] = []
    text = _run_help(())
    seen = ""
    for word in words:
        if word in _subcommands(text):
            path.append(word)
            text = _run_help(tuple(path))
            seen += text  # a group's options (`record --state-repo`) come before its subcommand
    assert path, f"image-factory {' '.join(words)}: no such command"
    return seen


COMMANDS = _commands()


def test_the_pages_show_commands() -> None:
    shown = {words.split()[0] for _, words, _ in COMMANDS if words}
    assert len(COMMANDS) >= 10 and {"analyze", "refresh", "plan", "render", "check"} <= shown


@pytest.mark.parametrize(("page", "words", "options"), COMMANDS, ids=[f"{p}:{w}" for p, w, _ in COMMANDS])
def test_every_command_shown_parses(page: str, words: str, options: list[str]) -> None:
    text = _help(words.split())
    for option in options:
        assert option in text or option in ("--debug", "--help"), f"{page}: image-factory {words}: no {option}"


def test_every_linked_page_exists() -> None:
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#]+\.(?:md|png))\)", page.read_text()):
            assert (page.parent / target).is_file(), f"{page.name} links {target}"


def test_the_readme_enrollment_example_is_valid(tmp_path: Path) -> None:
    blocks = [body for lang, body in CODE_BLOCK.findall((ROOT / "README.md").read_text()) if lang == "yaml"]
    assert blocks
    for body in blocks:
        assert yaml.safe_load(body)["images"]
        (tmp_path / "images.yaml").write_text(body)
        fleet = load_fleet(tmp_path / "images.yaml")
        assert fleet.images
