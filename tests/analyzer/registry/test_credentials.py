import base64
import json
from pathlib import Path

import pytest

from analyzer.errors import InputError
from analyzer.registry.credentials import (
    SECRETS_DIR_ENV,
    Credentials,
    CredentialStore,
    parse_docker_config,
)


def _auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _secret(root: Path, name: str, **data: str) -> None:
    (root / name).mkdir(parents=True)
    for key, value in data.items():
        (root / name / key).write_text(value + "\n")


def test_docker_config_auth_and_docker_hub_aliases() -> None:
    found = parse_docker_config({"auths": {
        "https://index.docker.io/v1/": {"auth": _auth("hub", "hubpw")},
        "ghcr.io": {"username": "gh", "password": "ghpw"},
        "registry.example.com/team": {"auth": _auth("team", "teampw")},
    }}, "config.json")
    store = CredentialStore(docker=found)
    assert store.lookup("docker.io", "library/python") == Credentials("hub", "hubpw")
    assert store.lookup("ghcr.io", "org/image") == Credentials("gh", "ghpw")
    assert store.lookup("registry.example.com", "team/app") == Credentials("team", "teampw")
    assert store.lookup("registry.example.com", "other/app") is None
    assert store.lookup("quay.io", "x/y") is None


def test_bad_auth_value_names_file_and_field_without_the_secret() -> None:
    with pytest.raises(InputError) as caught:
        parse_docker_config({"auths": {"ghcr.io": {"auth": "not-base64!!"}}}, "/home/u/.docker/config.json")
    assert "auths.ghcr.io.auth" in str(caught.value)
    assert "not-base64" not in str(caught.value)


def test_environment_sources_docker_auth_config_and_file(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {"ghcr.io": {"auth": _auth("file", "filepw")},
                                            "quay.io": {"auth": _auth("q", "qpw")}}}))
    env = {"DOCKER_AUTH_CONFIG": json.dumps({"auths": {"ghcr.io": {"auth": _auth("env", "envpw")}}}),
           "DOCKER_CONFIG": str(tmp_path)}
    store = CredentialStore.from_environment([], env)
    assert store.lookup("ghcr.io", "a/b") == Credentials("env", "envpw")
    assert store.lookup("quay.io", "a/b") == Credentials("q", "qpw")


def test_kargo_secrets_exact_before_regex_and_before_docker_config(tmp_path: Path) -> None:
    _secret(tmp_path, "a-regex", repoURL="^ghcr\\.io/org/", repoURLIsRegex="true",
            username="re", password="rpw")
    _secret(tmp_path, "b-exact", repoURL="ghcr.io/org/app", username="ex", password="epw")
    _secret(tmp_path, "c-hub", repoURL="python", username="hub", password="hpw")
    env = {SECRETS_DIR_ENV: str(tmp_path),
           "DOCKER_AUTH_CONFIG": json.dumps({"auths": {"ghcr.io": {"auth": _auth("dc", "dcpw")}}})}
    store = CredentialStore.from_environment(["c-hub", "b-exact", "a-regex"], env)
    assert store.lookup("ghcr.io", "org/app") == Credentials("ex", "epw")
    assert store.lookup("ghcr.io", "org/other") == Credentials("re", "rpw")
    assert store.lookup("docker.io", "library/python") == Credentials("hub", "hpw")
    assert store.lookup("ghcr.io", "elsewhere/x") == Credentials("dc", "dcpw")


def test_missing_secret_mount_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="'registry-creds' is not mounted"):
        CredentialStore.from_environment(["registry-creds"], {SECRETS_DIR_ENV: str(tmp_path)})


def test_credentials_repr_hides_password() -> None:
    creds = Credentials("user", "hunter2")
    assert "hunter2" not in repr(creds)
    assert "hunter2" not in repr(CredentialStore(docker={"x.io": creds}))
