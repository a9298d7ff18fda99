"""Where registry credentials come from: Kargo image Secrets (mounted files), Docker config.json, env.

Lookup order for `host/repository`: Kargo Secrets named in `defaults.registryCredentials` (exact
`repoURL` first, then `repoURLIsRegex`, ties by Secret name, like Kargo), then Docker auth config
(`DOCKER_AUTH_CONFIG` JSON, `REGISTRY_AUTH_FILE`, `$DOCKER_CONFIG/config.json`, `~/.docker/config.json`;
the longest matching `host/path` key wins). Values are held in `Credentials`, whose repr hides them.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from analyzer.discovery.reference import InvalidReference, parse_reference
from analyzer.errors import InputError
from analyzer.regex import re2_error, re2_matches

SECRETS_DIR_ENV = "IMAGE_FACTORY_REGISTRY_SECRETS"
"""Directory where each Secret of `registryCredentials` is mounted as `<dir>/<secret-name>/<key>`."""

_DOCKER_HUB_ALIASES = {"index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=***)"


@dataclass(frozen=True)
class KargoSecret:
    """One `kargo.akuity.io/cred-type: image` Secret: `repoURL`, `username`, `password`."""

    name: str
    repo_url: str
    is_regex: bool
    credentials: Credentials


def _normalize_key(key: str) -> str:
    """`https://index.docker.io/v1/` → `docker.io`; `ghcr.io/org` stays; scheme and API suffix dropped."""
    key = key.strip()
    for prefix in ("https://", "http://"):
        key = key.removeprefix(prefix)
    key = key.rstrip("/")
    for suffix in ("/v1", "/v2"):
        key = key.removesuffix(suffix)
    host, _, path = key.partition("/")
    host = host.lower()
    if host in _DOCKER_HUB_ALIASES:
        host = "docker.io"
    return f"{host}/{path}" if path else host


def _normalize_repo_url(repo_url: str) -> str:
    try:
        return parse_reference(repo_url).name
    except InvalidReference:
        return _normalize_key(repo_url)


def parse_docker_config(data: object, source: str) -> dict[str, Credentials]:
    """Normalized `auths` key → credentials, from `auth` (base64 user:pass) or `username`/`password`."""
    if not isinstance(data, dict):
        raise InputError.single(source, "Docker auth config must be a JSON object")
    auths = data.get("auths", {})
    if not isinstance(auths, dict):
        raise InputError.single(source, "`auths` must be an object", field_name="auths")
    found: dict[str, Credentials] = {}
    for key, entry in auths.items():
        if not isinstance(entry, dict):
            raise InputError.single(source, "entry must be an object", field_name=f"auths.{key}")
        if isinstance(entry.get("auth"), str) and entry["auth"]:
            try:
                decoded = base64.b64decode(entry["auth"], validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise InputError.single(source, "`auth` is not base64 of user:password",
                                        field_name=f"auths.{key}.auth") from None
            username, sep, password = decoded.partition(":")
            if not sep:
                raise InputError.single(source, "`auth` is not base64 of user:password",
                                        field_name=f"auths.{key}.auth")
        elif isinstance(entry.get("username"), str) and isinstance(entry.get("password"), str):
            username, password = entry["username"], entry["password"]
        else:
            continue  # identity tokens and credential helpers are not supported; anonymous then
        found.setdefault(_normalize_key(key), Credentials(username, password))
    return found


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError.single(path, f"cannot read: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        line = exc.lineno if isinstance(exc, json.JSONDecodeError) else None
        raise InputError.single(path, "not valid JSON", line) from None


def docker_config_from_env(env: Mapping[str, str]) -> dict[str, Credentials]:
    """Merge every Docker-style auth source present; earlier sources win per key."""
    merged: dict[str, Credentials] = {}
    if env.get("DOCKER_AUTH_CONFIG"):
        try:
            data: object = json.loads(env["DOCKER_AUTH_CONFIG"])
        except json.JSONDecodeError:
            raise InputError.single("$DOCKER_AUTH_CONFIG", "not valid JSON") from None
        merged.update(parse_docker_config(data, "$DOCKER_AUTH_CONFIG"))
    files = []
    if env.get("REGISTRY_AUTH_FILE"):
        files.append(Path(env["REGISTRY_AUTH_FILE"]))
    if env.get("DOCKER_CONFIG"):
        files.append(Path(env["DOCKER_CONFIG"]) / "config.json")
    elif env.get("HOME"):
        home_config = Path(env["HOME"]) / ".docker" / "config.json"
        if home_config.is_file():
            files.append(home_config)
    for file in files:
        for key, creds in parse_docker_config(_read_json(file), str(file)).items():
            merged.setdefault(key, creds)
    return merged


def load_kargo_secrets(secrets_dir: Path, names: list[str]) -> list[KargoSecret]:
    """Read the named Secrets as Kubernetes mounts them (one file per data key)."""
    secrets = []
    for name in sorted(names):
        folder = secrets_dir / name

        def read(key: str, folder: Path = folder, name: str = name) -> str | None:
            path = folder / key
            return path.read_text(encoding="utf-8").strip() if path.is_file() else None

        if not folder.is_dir():
            raise InputError.single(folder, f"registry credential Secret {name!r} is not mounted here")
        repo_url = read("repoURL")
        if not repo_url:
            raise InputError.single(folder / "repoURL", "missing: an image Secret needs repoURL")
        is_regex = (read("repoURLIsRegex") or "").lower() == "true"
        if is_regex and (reason := re2_error(repo_url)) is not None:
            raise InputError.single(folder / "repoURL", f"regex does not compile under RE2: {reason}")
        secrets.append(KargoSecret(name, repo_url, is_regex,
                                   Credentials(read("username") or "", read("password") or "")))
    return secrets


@dataclass(frozen=True)
class CredentialStore:
    kargo: list[KargoSecret] = field(default_factory=list)
    docker: dict[str, Credentials] = field(default_factory=dict)

    @classmethod
    def from_environment(cls, secret_names: list[str],
                         env: Mapping[str, str] | None = None) -> CredentialStore:
        env = os.environ if env is None else env
        kargo = []
        if env.get(SECRETS_DIR_ENV):
            kargo = load_kargo_secrets(Path(env[SECRETS_DIR_ENV]), secret_names)
        return cls(kargo, docker_config_from_env(env))

    def lookup(self, registry: str, repository: str) -> Credentials | None:
        """Credentials for `registry/repository`, or None for anonymous access."""
        registry = _normalize_key(registry)
        repo_url = f"{registry}/{repository}"
        for secret in self.kargo:
            if not secret.is_regex and _normalize_repo_url(secret.repo_url) == repo_url:
                return secret.credentials
        for secret in self.kargo:
            if secret.is_regex and re2_matches(secret.repo_url, repo_url):
                return secret.credentials
        candidates = [key for key in self.docker
                      if key == registry or repo_url == key or repo_url.startswith(key + "/")]
        if candidates:
            return self.docker[max(candidates, key=len)]
        return None
