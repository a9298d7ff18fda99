"""Issue 16: hostile images.yaml values are refused with a message naming file, line and field; secrets in
a repo string are never echoed; nothing reaches git or a rendered URL unvalidated."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from analyzer.config.loader import load_fleet
from analyzer.errors import InputError
from tests.support.cli import run

SECRET = "s3cr3tT0ken"


def image(**overrides: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "name": "api", "image": "registry.example.com/team/api:1",
        "source": {"repo": "https://github.com/example/api"},
        "trigger": {"github": {"repository": "example/api", "workflow": "build.yml", "tokenSecret": "gh"}},
    }
    entry.update(overrides)
    return entry


def problems_of(tmp_path: Path, data: object) -> list[str]:
    path = tmp_path / "images.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    with pytest.raises(InputError) as info:
        load_fleet(path)
    return [str(p) for p in info.value.problems]


HOSTILE_REPOS = [
    f"https:///user:{SECRET}@host/x.git", f"http:///user:{SECRET}@host/x.git", f"https:/u:{SECRET}@host/x.git",
    f"u:{SECRET}@host:x.git", f"https://host/x.git?private_token={SECRET}", f"https://host/x.git#{SECRET}",
    f"git+https://u:{SECRET}@host/x", f"ftp://u:{SECRET}@host/x", f"ssh://u:{SECRET}@host/x",
    f"https://{SECRET}@host/x.git", f"https://u:{SECRET}@host/x.git", f"git://{SECRET}@host/x.git",
    "--upload-pack=touch /tmp/pwned", "ext::sh -c touch% /tmp/pwned", "fd::17", "a\x00b", "https://h/x\n",
    "file://evil.example.com/x", "https://", "https://host:99999/x",
]


@pytest.mark.parametrize("repo", HOSTILE_REPOS)
def test_hostile_repo_is_refused_without_echoing_secrets(tmp_path: Path, repo: str) -> None:
    found = problems_of(tmp_path, {"images": [image(source={"repo": repo})]})
    assert len(found) == 1 and "images[name=api].source.repo" in found[0] and "images.yaml:" in found[0]
    assert SECRET not in found[0]


@pytest.mark.parametrize("repo", ["https://github.com/o/r.git", "ssh://git@github.com/o/r.git",
                                  "git@github.com:o/r.git", "/srv/git/r.git", "../r", "file:///srv/git/r.git",
                                  "git://host/r.git", "http://host:8080/r.git"])
def test_ordinary_repos_still_pass(tmp_path: Path, repo: str) -> None:
    path = tmp_path / "images.yaml"
    path.write_text(yaml.safe_dump({"images": [image(source={"repo": repo})]}))
    assert load_fleet(path).images[0].entry.source.repo == repo  # type: ignore[union-attr]


def test_hostile_repo_through_the_cli_is_exit_2_and_never_reaches_git(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for repo in (f"--upload-pack=touch {marker}", f"ext::sh -c touch% {marker}",
                 f"https:///user:{SECRET}@127.0.0.1:9/x.git"):
        (tmp_path / "images.yaml").write_text(yaml.safe_dump({"images": [image(source={"repo": repo})]}))
        result = run(tmp_path, "analyze", "--cache", str(tmp_path / "c"), timeout=60)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr and SECRET not in result.stdout + result.stderr
        assert not marker.exists() and not (tmp_path / "state").exists()


@pytest.mark.parametrize("delay", ["1000000000d", "9" * 5000 + "s", "300000w"])
def test_huge_delay_is_an_error_not_an_overflow(tmp_path: Path, delay: str) -> None:
    found = problems_of(tmp_path, {"images": [image(delay=delay)]})
    assert len(found) == 1 and "images[name=api].delay" in found[0]


@pytest.mark.parametrize("workflow", ["../../../../user/repos?x=", "build.yml/../x.yml", "a b.yml", "build",
                                      "build.yml\n", "%2e%2e.yml/x"])
def test_workflow_must_be_a_file_name_or_id(tmp_path: Path, workflow: str) -> None:
    trigger = {"github": {"repository": "example/api", "workflow": workflow, "tokenSecret": "gh"}}
    found = problems_of(tmp_path, {"images": [image(trigger=trigger)]})
    assert len(found) == 1 and "images[name=api].trigger.github.workflow" in found[0]


@pytest.mark.parametrize("workflow", ["build.yml", "Build-Image_2.yaml", "123456"])
def test_workflow_file_names_and_ids_pass(tmp_path: Path, workflow: str) -> None:
    path = tmp_path / "images.yaml"
    trigger = {"github": {"repository": "example/api", "workflow": workflow, "tokenSecret": "gh"}}
    path.write_text(yaml.safe_dump({"images": [image(trigger=trigger)]}))
    assert load_fleet(path).images[0].entry.trigger.github.workflow == workflow  # type: ignore[union-attr]


@pytest.mark.parametrize(("field", "entry"), [
    ("images.0.name", image(name="api\n")),
    ("images[name=api].platforms.0", image(platforms=["linux/amd64\n"])),
    ("images[name=api].trigger.github.tokenSecret",
     image(trigger={"github": {"repository": "e/a", "workflow": "b.yml", "tokenSecret": "gh\n"}})),
    ("images[name=api].source", image(source={"repo": "https://h/x", "buildArgs": {"TAG\n": "1"}})),
    ("images[name=api].trigger.github.repository",
     image(trigger={"github": {"repository": "e/a\n", "workflow": "b.yml", "tokenSecret": "gh"}})),
])
def test_trailing_newline_never_passes_a_pattern(tmp_path: Path, field: str, entry: dict[str, object]) -> None:
    found = problems_of(tmp_path, {"images": [entry]})
    assert len(found) == 1 and field in found[0], found


def test_duplicate_images_key_names_both_lines(tmp_path: Path) -> None:
    text = "images:\n  - {name: a, image: nginx:1}\nimages:\n  - {name: b, image: nginx:2}\n"
    assert problems_of(tmp_path, text) == [
        f"{tmp_path / 'images.yaml'}:3: key 'images' appears twice in one mapping (lines 1 and 3)"]


def test_duplicate_key_in_an_include_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "images.d").mkdir()
    (tmp_path / "images.d" / "team.yaml").write_text("images:\n  - name: a\n    image: nginx:1\n    name: b\n")
    found = problems_of(tmp_path, "include: ['images.d/*.yaml']\nimages: []\n")
    assert found == [f"{tmp_path / 'images.d' / 'team.yaml'}:4: key 'name' appears twice in one mapping "
                     "(lines 2 and 4)"]


def test_sixty_kb_of_brackets_is_refused_before_libyaml(tmp_path: Path) -> None:
    (tmp_path / "images.yaml").write_text("images: " + "[" * 60_000 + "]" * 60_000 + "\n")
    result = run(tmp_path, "analyze", "--cache", "c", timeout=60)
    assert result.returncode == 2 and "nested more than 64 levels deep" in result.stderr, result


def test_fifo_include_does_not_hang(tmp_path: Path) -> None:
    (tmp_path / "images.d").mkdir()
    os.mkfifo(tmp_path / "images.d" / "team.yaml")
    (tmp_path / "images.yaml").write_text("include: ['images.d/*.yaml']\nimages: []\n")
    result = run(tmp_path, "analyze", "--cache", "c", "--json", timeout=30)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "matches no file" in result.stderr
