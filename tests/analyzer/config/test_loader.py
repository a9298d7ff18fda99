"""images.yaml validation: every bad input names file, line and field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from analyzer.config.loader import load_fleet
from analyzer.errors import InputError

GOOD_MANAGED = """\
  - name: api
    image: registry.example.com/team/api:1
    source:
      repo: https://github.com/example/api
      dockerfile: docker/Dockerfile
    trigger:
      github: {repository: example/api, workflow: build.yml, tokenSecret: gh-token}
"""


def write(tmp_path: Path, text: str, name: str = "images.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def problems(path: Path) -> list[tuple[str, int | None, str | None, str]]:
    with pytest.raises(InputError) as info:
        load_fleet(path)
    return [(Path(p.file).name, p.line, p.field, p.message) for p in info.value.problems]


def test_defaults_are_inherited_and_overridden(tmp_path: Path) -> None:
    path = write(tmp_path, "defaults:\n  delay: 36h\n  autoRebuild: false\n  platforms: [linux/arm64]\n"
                 "images:\n" + GOOD_MANAGED + "  - name: nginx\n    image: nginx:1.27\n    delay: 10d\n")
    fleet = load_fleet(path)
    api, nginx = fleet.images
    assert api.delay == timedelta(hours=36) and api.auto_rebuild is False and api.platforms == ["linux/arm64"]
    assert nginx.delay == timedelta(days=10)
    assert api.managed and not nginx.managed
    assert nginx.ref.normalized == "docker.io/library/nginx:1.27"
    assert (api.file, api.line) == ("images.yaml", 6)


def test_default_delay_is_seven_days(tmp_path: Path) -> None:
    fleet = load_fleet(write(tmp_path, "images:\n  - name: nginx\n    image: nginx\n"))
    assert fleet.images[0].delay == timedelta(days=7)
    assert fleet.images[0].auto_rebuild is True


@pytest.mark.parametrize(("snippet", "line", "field", "message"), [
    ("  - name: a\n    image: nginx\n    colour: red\n", 4, "images[name=a].colour", "unknown field"),
    ("  - name: a\n    image: nginx\n    delay: 7 days\n", 4, "images[name=a].delay", "invalid duration"),
    ("  - name: a\n    image: nginx\n    delay: 7\n", 4, "images[name=a].delay", "invalid duration"),
    ("  - name: a\n    image: nginx\n    autoRebuild: maybe\n", 4, "images[name=a].autoRebuild", "boolean"),
    ("  - name: a\n    image: nginx\n    warehouse:\n      allowTags: '^(?!latest).*$'\n",
     5, "images[name=a].warehouse.allowTags.0", "RE2"),
    ("  - name: a\n    image: nginx\n    warehouse:\n      ignoreTags: ['(a)\\1']\n",
     5, "images[name=a].warehouse.ignoreTags.0", "RE2"),
    ("  - name: a\n    image: nginx\n    warehouse:\n      imageSelectionStrategy: Newest\n",
     5, "images[name=a].warehouse.imageSelectionStrategy", "'Digest'"),
    ("  - name: a\n    image: nginx\n    warehouse:\n      discoveryLimit: 500\n",
     5, "images[name=a].warehouse.discoveryLimit", "less than or equal to 100"),
    ("  - name: Bad_Name\n    image: nginx\n", 2, "images.0.name", "DNS-1123"),
    ("  - name: a\n    image: Nginx:1\n", 3, "images[name=a].image", "lowercase"),
    ("  - name: a\n    image: nginx@sha256:" + "a" * 64 + "\n", 3, "images[name=a].image", "digest"),
    ("  - name: a\n    image: nginx\n    source:\n      repo: https://x:tok@github.com/e/a\n"
     "    trigger: {webhook: {url: 'https://ci/x'}}\n", 5, "images[name=a].source.repo", "credentials"),
    ("  - name: a\n    image: nginx\n    source:\n      repo: https://tok@github.com/e/a\n"
     "    trigger: {webhook: {url: 'https://ci/x'}}\n", 5, "images[name=a].source.repo", "credentials"),
    ("  - name: a\n    image: nginx\n    source:\n      repo: r\n      dockerfile: ../../etc/passwd\n"
     "    trigger: {webhook: {url: 'https://ci/x'}}\n", 6, "images[name=a].source.dockerfile", "escapes"),
    ("  - name: a\n    image: nginx\n    source:\n      repo: r\n      dockerfile: /etc/passwd\n"
     "    trigger: {webhook: {url: 'https://ci/x'}}\n", 6, "images[name=a].source.dockerfile", "relative"),
    ("  - name: a\n    image: nginx\n    source:\n      repo: r\n      context: a/../../..\n"
     "    trigger: {webhook: {url: 'https://ci/x'}}\n", 6, "images[name=a].source.context", "escapes"),
    ("  - name: a\n    image: nginx\n    source: {repo: r}\n", 2, "images[name=a]", "needs a trigger"),
    ("  - name: a\n    image: nginx\n    source: {repo: r}\n    trigger: {}\n", 5, "images[name=a].trigger",
     "exactly one"),
    ("  - name: a\n    image: nginx\n    source: {repo: r}\n    trigger: {webhook: {url: 'https://u:p@ci/x'}}\n",
     5, "images[name=a].trigger.webhook.url", "pattern"),
    ("  - name: a\n    image: nginx\n    trigger: {webhook: {url: 'https://ci/x'}}\n", 2, "images[name=a]",
     "only for managed"),
])
def test_bad_input_names_line_and_field(tmp_path: Path, snippet: str, line: int, field: str,
                                        message: str) -> None:
    found = problems(write(tmp_path, "images:\n" + snippet))
    assert any(p[1] == line and p[2] == field and message in p[3] for p in found), found
    assert all(p[0] == "images.yaml" for p in found)


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    found = problems(write(tmp_path, "images:\n  - name: a\n    image: [unclosed\n"))
    assert found[0][0] == "images.yaml" and found[0][1] is not None and "invalid YAML" in found[0][3]


def test_yaml_objects_are_refused(tmp_path: Path) -> None:
    found = problems(write(tmp_path, "images: !!python/object/apply:os.system ['true']\n"))
    assert "invalid YAML" in found[0][3]


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x]"] + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 14)]
    found = problems(write(tmp_path, "\n".join(lines) + "\nimages: []\n"))
    assert "aliases" in found[0][3]


def test_top_level_must_be_mapping(tmp_path: Path) -> None:
    assert "mapping" in problems(write(tmp_path, "- a\n- b\n"))[0][3]


def test_includes_are_merged(tmp_path: Path) -> None:
    write(tmp_path, "images:\n" + GOOD_MANAGED, "images.d/team-a.yaml")
    write(tmp_path, "images:\n  - name: nginx\n    image: nginx\n", "images.d/team-b.yaml")
    root = write(tmp_path, "include: ['images.d/*.yaml']\nimages:\n  - name: redis\n    image: redis:7\n")
    fleet = load_fleet(root)
    assert [(i.name, i.file) for i in fleet.images] == [
        ("redis", "images.yaml"), ("api", "images.d/team-a.yaml"), ("nginx", "images.d/team-b.yaml")]


def test_duplicate_names_across_files_name_both_files(tmp_path: Path) -> None:
    write(tmp_path, "images:\n  - name: web\n    image: nginx:1\n", "images.d/team-b.yaml")
    root = write(tmp_path, "include: ['images.d/*.yaml']\nimages:\n  - name: web\n    image: nginx:2\n")
    found = problems(root)
    assert len(found) == 1
    file, line, field, message = found[0]
    assert (file, line, field) == ("team-b.yaml", 2, "images.0.name")
    assert "images.yaml:3" in message and "duplicate image name 'web'" in message


def test_same_image_enrolled_twice(tmp_path: Path) -> None:
    found = problems(write(tmp_path, "images:\n  - name: a\n    image: nginx\n  - name: b\n"
                           "    image: docker.io/library/nginx:latest\n"))
    assert found[0][1] == 4 and "enrolled twice" in found[0][3]


def test_included_file_may_not_set_defaults(tmp_path: Path) -> None:
    write(tmp_path, "defaults: {delay: 1h}\nimages: []\n", "images.d/x.yaml")
    found = problems(write(tmp_path, "include: ['images.d/*.yaml']\nimages: []\n"))
    assert found == [("x.yaml", 1, "defaults", f"defaults is allowed only in the root file {tmp_path}/images.yaml")]


def test_include_outside_root_is_refused(tmp_path: Path) -> None:
    found = problems(write(tmp_path, "include: ['../other/*.yaml']\nimages: []\n"))
    assert found[0][1:3] == (1, "include.0") and "inside" in found[0][3]


def test_include_matching_nothing_is_an_error(tmp_path: Path) -> None:
    found = problems(write(tmp_path, "include: ['teams/*.yaml']\nimages: []\n"))
    assert "matches no file" in found[0][3]


def test_missing_file(tmp_path: Path) -> None:
    found = problems(tmp_path / "nope.yaml")
    assert found[0][0] == "nope.yaml" and "cannot read" in found[0][3]


def test_allow_tags_accepts_one_regex_or_a_list(tmp_path: Path) -> None:
    fleet = load_fleet(write(tmp_path, "images:\n  - name: a\n    image: redis:7\n    warehouse:\n"
                             "      imageSelectionStrategy: SemVer\n      allowTags: '^7\\.\\d+$'\n"
                             "  - name: b\n    image: redis:6\n    warehouse:\n      allowTags: ['^6$', '^6\\.1$']\n"))
    a, b = fleet.images
    assert a.entry.warehouse is not None and a.entry.warehouse.allow_tags == [r"^7\.\d+$"]
    assert b.entry.warehouse is not None and b.entry.warehouse.allow_tags == ["^6$", r"^6\.1$"]


def test_errors_name_included_files_the_way_the_root_was_named(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "images:\n  - name: web\n    image: nginx:1\n    delay: banana\n", "images.d/web.yaml")
    write(tmp_path, "include: ['images.d/*.yaml']\nimages: []\n")
    (tmp_path / "sub").mkdir()
    for cwd, root, shown in [(tmp_path, "images.yaml", "images.d/web.yaml"),
                             (tmp_path / "sub", "../images.yaml", "../images.d/web.yaml")]:
        monkeypatch.chdir(cwd)
        with pytest.raises(InputError) as caught:
            load_fleet(root)
        assert str(caught.value).startswith(f"{shown}:4: images[name=web].delay: "), str(caught.value)
