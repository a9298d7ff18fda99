"""Shared wiring of the in-cluster jobs: where state lives, how the registry is reached, how to log."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from analyzer.commands.options import config_option, state_option
from analyzer.config.loader import load_fleet
from analyzer.config.model import RegistriesConfig
from analyzer.kargo.conventions import JOB_EXIT_INVALID
from analyzer.registry.client import RegistryClient
from analyzer.registry.credentials import CredentialStore
from analyzer.runtime.gitstate import ENV_BRANCH, ENV_PASSWORD, ENV_PATH, ENV_REPO, ENV_USERNAME, StateRemote
from analyzer.runtime.stateaccess import GitStateAccess, LocalStateAccess, StateAccess

JOB_EPILOG = (
    f"The state remote comes from the options or the environment (in the cluster: the Secrets of the stack "
    f"setting jobSecrets): {ENV_REPO}, {ENV_BRANCH}, {ENV_PATH}; for HTTPS also {ENV_USERNAME} and "
    f"{ENV_PASSWORD}."
)
"""The one epilogue of the job commands (record, gate, verify-rebuild)."""


def state_remote_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--state-repo / --state-branch / --state-path, each also read from its environment variable."""
    options = [
        click.option("--state-repo", envvar=ENV_REPO, default=None,
                     help=f"Git URL of the state repository (env {ENV_REPO}); records are pushed there."),
        click.option("--state-branch", envvar=ENV_BRANCH, default="state", show_default=True,
                     help=f"Branch holding state (env {ENV_BRANCH})."),
        click.option("--state-path", envvar=ENV_PATH, default="state", show_default=True,
                     help=f"State directory inside the repository (env {ENV_PATH})."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def job_options(func: Callable[..., None]) -> Callable[..., None]:
    """The state remote (git, in-cluster) or --state (a directory), and --config."""
    func = state_remote_options(func)
    func = state_option("Use a local state directory instead of the git remote.", default=None)(func)
    return config_option("images.yaml for registry settings (mirrors, limits) and credential Secret names.",
                         name="config_path", default=None)(func)


def logger(job: str) -> Callable[[str], None]:
    def log(message: str) -> None:
        click.echo(f"{job}: {message}", err=True)
    return log


def state_access(job: str, state_repo: str | None, state_branch: str, state_path: str,
                 state_dir: Path | None, workdir: Path | None = None) -> StateAccess:
    """Local directory, or the git remote (one working copy in `workdir`, reused for reading and recording)."""
    if state_dir is not None:
        return LocalStateAccess(state_dir)
    if not state_repo:
        click.echo(f"{job}: FAILED: missing setting {ENV_REPO}: no state repository. In the cluster it comes "
                   "from a Secret listed in the stack setting jobSecrets (default image-factory-state-repo): "
                   f"create that Secret with the key {ENV_REPO}. Locally pass --state-repo or --state DIR.",
                   err=True)
        sys.exit(JOB_EXIT_INVALID)
    return GitStateAccess(StateRemote(state_repo, state_branch, state_path), workdir, log=logger(job))


def registry_client(config_path: Path | None) -> RegistryClient:
    if config_path is None:
        return RegistryClient(RegistriesConfig.model_validate({}), CredentialStore.from_environment([]))
    fleet = load_fleet(config_path)
    return RegistryClient(fleet.registries, CredentialStore.from_environment(fleet.defaults.registry_credentials))


def utcnow() -> datetime:
    return datetime.now(UTC)
