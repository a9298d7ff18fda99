"""`image-factory` / `python -m analyzer`: one entry point for every command.

Exit codes: 0 ok, 1 partial (some sources or registries failed), 2 invalid input, 3 a job's definitive
verdict (`kargo.conventions.JOB_EXIT_REFUSED`: gate refused/skipped, verify failed), 4 internal error (a bug:
a short message, the traceback only with `--debug` or IMAGE_FACTORY_DEBUG=1). Every command exits through
these names (or raises InputError, exit 2). A crash must not read as a verdict: the Jobs' podFailurePolicy
fails at once on 2 and 3 and retries anything else, so a crashed gate pod is retried, not taken as a
refusal.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from typing import NoReturn

import click

from analyzer.errors import InputError
from analyzer.graph import GraphError

EXIT_OK = 0
EXIT_PARTIAL = 1
"""Partial or failed: some sources or registries failed (analyze, refresh), a mandatory violation (check),
a record that did not land (record), an outage a job's pod may retry (gate, verify-rebuild)."""
EXIT_INVALID = 2
EXIT_INTERNAL = 4
"""Not 3: that is the jobs' verdict (`JOB_EXIT_REFUSED`), which their Jobs never retry."""
EXIT_INTERRUPTED = 130

# Subcommand modules under analyzer.commands, in --help order.
COMMANDS = [
    "analyze",
    "discover",
    "ref",
    "graph",
    "refresh",
    "status",
    "plan",
    "report",
    "render",
    "check",
    "expedite",
    "record",
    "gate",
    "verify_rebuild",
]
JOB_COMMANDS = ["record", "gate", "verify_rebuild"]
"""Run by Kargo's verification Jobs and CI (they read and write the state remote); listed under their own
heading in --help."""


class _Group(click.Group):
    """Imports a subcommand's module only when it runs (or for --help), keeping start-up cheap."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name.replace("_", "-") for name in COMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = cmd_name.replace("-", "_")
        if module not in COMMANDS:
            return None
        command: click.Command = importlib.import_module(f"analyzer.commands.{module}").command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands people run, then the job commands under a heading of their own."""
        jobs = {name.replace("_", "-") for name in JOB_COMMANDS}
        limit = formatter.width - 6 - max(len(name) for name in self.list_commands(ctx))
        for heading, wanted in (("Commands", False), ("Job commands (Kargo verification Jobs, CI)", True)):
            rows = []
            for name in self.list_commands(ctx):
                if (name in jobs) != wanted:
                    continue
                command = self.get_command(ctx, name)
                if command is not None and not command.hidden:
                    rows.append((name, command.get_short_help_str(limit)))
            if rows:
                with formatter.section(heading):
                    formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except InputError as exc:
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            sys.exit(EXIT_INVALID)
        except GraphError as exc:  # managed images building on each other, in images.yaml or state
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_INVALID)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:
            sys.exit(EXIT_PARTIAL)
        except OSError as exc:  # a path given on the command line that cannot be used (a file for a folder…)
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"error: {where}{exc.strerror or exc}", err=True)
            sys.exit(EXIT_INVALID)
        except Exception as exc:  # the one place a bug becomes a clean exit code
            _internal_error(ctx, exc)


def _debugging(ctx: click.Context) -> bool:
    obj = ctx.obj if isinstance(ctx.obj, dict) else {}
    return bool(obj.get("debug")) or os.environ.get("IMAGE_FACTORY_DEBUG", "") not in ("", "0")


def _internal_error(ctx: click.Context, exc: BaseException) -> NoReturn:
    """An unexpected exception: one line naming it (exit 4), the traceback only when debugging."""
    if _debugging(ctx):
        traceback.print_exception(exc)
    message = str(exc).splitlines()[0][:300] if str(exc) else ""
    click.echo(f"internal error: {type(exc).__name__}: {message} (a bug in image-factory; "
               "re-run with --debug for the traceback)", err=True)
    sys.exit(EXIT_INTERNAL)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name=None, version=__import__("analyzer").__version__)
@click.option("--debug", is_flag=True, help="Show the traceback of an internal error (exit 4).")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Image Factory: rebuild internal images on vetted base-image digests, orchestrated by Kargo."""
    ctx.obj = {**(ctx.obj or {}), "debug": debug}


def main() -> None:
    cli(prog_name="image-factory")
