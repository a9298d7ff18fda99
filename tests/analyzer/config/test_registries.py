"""The optional root-file `registries:` section (mirrors, rate limits, history cap)."""

from pathlib import Path

import pytest

from analyzer.config.loader import load_fleet
from analyzer.errors import InputError


def _write(tmp_path: Path, text: str) -> Path:
    root = tmp_path / "images.yaml"
    root.write_text(text)
    return root


def test_defaults_when_absent(tmp_path: Path) -> None:
    fleet = load_fleet(_write(tmp_path, "images: []\n"))
    assert fleet.registries.history_limit == 50
    settings = fleet.registries.settings_for("docker.io")
    assert (settings.mirror, settings.requests_per_second, settings.max_concurrent) == (None, 20.0, 4)


def test_settings_per_host(tmp_path: Path) -> None:
    fleet = load_fleet(_write(tmp_path, (
        "registries:\n"
        "  historyLimit: 20\n"
        "  hosts:\n"
        "    docker.io: {mirror: 'https://mirror.example.com/', requestsPerSecond: 5, maxConcurrent: 2}\n"
        "    registry.example.com:5000: {insecure: true}\n"
        "images: []\n")))
    hub = fleet.registries.settings_for("docker.io")
    assert (hub.mirror, hub.requests_per_second, hub.max_concurrent) == ("https://mirror.example.com", 5, 2)
    assert fleet.registries.settings_for("registry.example.com:5000").insecure
    assert fleet.registries.history_limit == 20


@pytest.mark.parametrize(("text", "message"), [
    ("  hosts:\n    docker.io: {mirror: 'https://user:pw@mirror.example.com'}\n",
     "images.yaml:3: registries.hosts.docker.io.mirror: 'https://***@mirror.example.com'"),
    ("  hosts:\n    docker.io: {mirror: 'https://mirror.example.com/v2/proxy'}\n", "no path"),
    ("  hosts:\n    https://ghcr.io: {}\n", "is not a registry host"),
    ("  historyLimit: 1\n", "registries.historyLimit"),
    ("  hosts:\n    docker.io: {requestsPerSecond: 0}\n", "registries.hosts.docker.io.requestsPerSecond"),
    ("  mirrors: {}\n", "images.yaml:2: registries.mirrors: unknown field"),
])
def test_invalid_settings_name_file_line_and_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        load_fleet(_write(tmp_path, "registries:\n" + text + "images: []\n"))
    assert message in str(caught.value)
    assert "pw@" not in str(caught.value)


def test_registries_only_in_root_file(tmp_path: Path) -> None:
    (tmp_path / "more.yaml").write_text("registries: {historyLimit: 5}\nimages: []\n")
    with pytest.raises(InputError, match="registries is allowed only in the root file"):
        load_fleet(_write(tmp_path, "include: [more.yaml]\nimages: []\n"))
