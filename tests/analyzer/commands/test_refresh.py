"""`image-factory refresh` end to end: images.yaml + state/ + a real registry."""

import base64
import json
from pathlib import Path

from click.testing import CliRunner

from analyzer.cli import cli
from analyzer.state.store import load_states, save_state
from tests.support.registry import FaultProxy, Image, RegistryServer, push_image
from tests.support.registry_fixtures import BASIC_PASSWORD, BASIC_USER
from tests.support.states import external_state, managed_state


def _write_config(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "images.yaml"
    config.write_text("registries:\n  historyLimit: 10\n" + extra + "images: []\n")
    return config


def _run(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args, env=env)
    return result.exit_code, result.output


def test_refresh_records_then_reports_unchanged_with_one_head_per_tag(
        tmp_path: Path, registry: RegistryServer, counting_proxy: FaultProxy, repo: str) -> None:
    digest = push_image(registry.url, repo, "1", Image.of("cli"))
    ref = f"{counting_proxy.host}/{repo}:1"
    state_dir = tmp_path / "state"
    save_state(state_dir, external_state(ref, ["app"]))
    save_state(state_dir, managed_state("app", "registry.example.com/team/app:latest", [ref]))
    config = _write_config(tmp_path)
    args = ["refresh", "--config", str(config), "--state", str(state_dir), "--json"]

    code, output = _run(args)
    assert code == 0, output
    report = json.loads(output)
    assert [(i["ref"], i["result"], i["digest"]) for i in report["images"]] == [(ref, "new", digest)]
    assert report["written"] == [ref] and report["failed"] == 0
    assert load_states(state_dir)[ref].digests.current == digest

    counting_proxy.reset()
    code, output = _run(args)
    assert code == 0
    assert json.loads(output)["images"][0]["result"] == "unchanged"
    assert [(r.method, r.path) for r in counting_proxy.requests] == [("HEAD", f"/v2/{repo}/manifests/1")]


def test_refresh_partial_failure_exits_1_and_keeps_other_results(
        tmp_path: Path, registry: RegistryServer, repo: str) -> None:
    push_image(registry.url, repo, "ok", Image.of("ok"))
    state_dir = tmp_path / "state"
    save_state(state_dir, external_state(f"{registry.host}/{repo}:ok"))
    save_state(state_dir, external_state(f"{registry.host}/{repo}:missing"))
    code, output = _run(["refresh", "--config", str(_write_config(tmp_path)), "--state", str(state_dir)])
    assert code == 1
    missing = f"{registry.host}/{repo}:missing"
    (line,) = [line for line in output.splitlines() if "error" in line]
    assert line.startswith(f"{missing}: error (not-found): ") and line.count(missing) == 1, line  # named once
    assert "2 tag(s) checked, 1 state file(s) written, 1 failed" in output
    states = load_states(state_dir)
    assert states[f"{registry.host}/{repo}:ok"].digests.current is not None
    assert states[f"{registry.host}/{repo}:missing"].digests.history == []


def test_credentials_never_appear_in_output_or_state(tmp_path: Path, basic_registry: RegistryServer,
                                                     repo: str) -> None:
    push_image(basic_registry.url, repo, "ok", Image.of("secret"), auth=(BASIC_USER, BASIC_PASSWORD))
    state_dir = tmp_path / "state"
    save_state(state_dir, external_state(f"{basic_registry.host}/{repo}:ok"))
    save_state(state_dir, external_state(f"{basic_registry.host}/{repo}:missing"))
    auth = base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode()
    env = {"DOCKER_AUTH_CONFIG": json.dumps({"auths": {basic_registry.host: {"auth": auth}}}),
           "DOCKER_CONFIG": str(tmp_path / "no-docker-config")}
    (tmp_path / "no-docker-config").mkdir()
    (tmp_path / "no-docker-config" / "config.json").write_text("{}")
    config = _write_config(tmp_path)
    outputs = []
    for as_json in ([], ["--json"]):
        code, output = _run(["refresh", "--config", str(config), "--state", str(state_dir), *as_json], env)
        assert code == 1          # the missing tag; the other one resolved with the credentials
        outputs.append(output)
    states = load_states(state_dir)
    assert states[f"{basic_registry.host}/{repo}:ok"].digests.current is not None
    state_text = "".join(p.read_text() for p in (state_dir / "images").glob("*.yaml"))
    for text in (*outputs, state_text):
        assert BASIC_PASSWORD not in text
        assert auth not in text

    # Without credentials the same registry answers 401, reported per image, again without secrets.
    code, output = _run(["refresh", "--config", str(config), "--state", str(state_dir)],
                        {"DOCKER_CONFIG": str(tmp_path / "no-docker-config")})
    assert code == 1
    assert "error (unauthorized)" in output


def test_refresh_rejects_unknown_registry_settings(tmp_path: Path) -> None:
    config = _write_config(tmp_path, "  hosts:\n    docker.io:\n      mirorr: https://m.example.com\n")
    code, output = _run(["refresh", "--config", str(config), "--state", str(tmp_path / "state")])
    assert code == 2
    assert "images.yaml:5: registries.hosts.docker.io.mirorr: unknown field" in output


def test_managed_parent_tags_are_resolved_and_not_built_is_not_a_failure(
        tmp_path: Path, registry: RegistryServer, repo: str) -> None:
    parent = f"{registry.host}/{repo}:1"
    state_dir = tmp_path / "state"
    save_state(state_dir, managed_state("parent", parent, []).model_copy(update={"dependents": ["child"]}))
    save_state(state_dir, managed_state("lonely", f"{registry.host}/{repo}-lonely:1", []))
    args = ["refresh", "--config", str(_write_config(tmp_path)), "--state", str(state_dir), "--json"]
    code, output = _run(args)
    assert code == 0, output
    report = json.loads(output)
    assert [(i["ref"], i["result"]) for i in report["images"]] == [(parent, "not-built")]
    assert report["failed"] == 0
    built = push_image(registry.url, repo, "1", Image.of("parent"))
    code, output = _run(args)
    assert code == 0
    assert json.loads(output)["images"][0]["digest"] == built
    assert load_states(state_dir)[parent].digests.current == built


def test_plan_right_after_refresh_sees_the_new_digest(tmp_path: Path, registry: RegistryServer, repo: str) -> None:
    """`plan` reads "now" to the second and ignores digests first seen after it: refresh must record whole
    seconds, or a plan in the same second as the refresh would miss the move (seen in the demo)."""
    push_image(registry.url, repo, "1", Image.of("v1"))
    ref = f"{registry.host}/{repo}:1"
    state_dir = tmp_path / "state"
    save_state(state_dir, external_state(ref, ["app"]))
    save_state(state_dir, managed_state("app", "registry.example.com/team/app:latest", [ref]))
    args = ["refresh", "--config", str(_write_config(tmp_path)), "--state", str(state_dir)]
    assert _run(args)[0] == 0
    moved = push_image(registry.url, repo, "1", Image.of("v2"))
    assert _run(args)[0] == 0
    history = load_states(state_dir)[ref].digests.history
    assert all(r.first_seen.microsecond == 0 for r in history)
    code, output = _run(["plan", "--state", str(state_dir), "--json"])
    assert code == 0
    assert moved in {d["digest"] for b in json.loads(output)["bases"] for g in b["gates"] for d in g["held"]}
