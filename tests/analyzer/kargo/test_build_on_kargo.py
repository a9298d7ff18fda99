"""Tier 1: every rendered Stage shape evaluated by Kargo v1.11.2's own template engine (pkg/expressions and
expr-lang at Kargo's pins, tests/engines/kargo-eval), with realistic Freight. Asserts the exact values
Kargo hands to the http/compose-output steps and to the AnalysisRuns — what schema validation cannot see.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from analyzer.config.loader import load_fleet
from analyzer.errors import InputError
from analyzer.kargo import conventions as cv
from analyzer.kargo.build import KargoProject, build_project
from analyzer.kargo.settings import Settings
from tests.support.kargo_eval import (
    Freight,
    Response,
    StageEvaluation,
    digest_of,
    evaluate,
    evaluate_project,
    freight_for_tags,
)
from tests.support.kargo_fleet import edit_config, example_fleet, example_states, plan
from tests.support.kargo_schemas import json_schema

PYTHON_REPO = "docker.io/library/python"
TOKEN = "test-token-value"
SECRETS = {"github-actions-dispatch": {"token": TOKEN}, "payments-ci-webhook": {"token": TOKEN}}
NUMERIC_LOOKING_TAGS = ["1.36", "7", "3.12", "1e5", "0x1F", "true", "null", "1.0", "20-alpine", "latest"]


@pytest.fixture(scope="module")
def project() -> KargoProject:
    return build_project(example_fleet(), example_states(), Settings())


@pytest.fixture(scope="module")
def evaluated(project: KargoProject) -> dict[str, StageEvaluation]:
    return evaluate_project(project, secrets=SECRETS)


def vetted(warehouse: str, repo: str, tag: str) -> str:
    return f"{repo}:{tag}@{digest_of(f'{warehouse}:{tag}')}"


def test_every_rendered_stage_evaluates_in_kargo(project: KargoProject,
                                                 evaluated: dict[str, StageEvaluation]) -> None:
    stages = {s.name for s in project.by_kind("Stage")}
    assert set(evaluated) == stages and len(stages) == 14
    for name, stage in evaluated.items():
        assert [s for s in stage.steps if "error" in s] == [], name
        for step in stage.steps:  # Kargo validates the evaluated config against the step's schema
            schema = json_schema(f"promotion-steps/{step['uses']}-config.json")
            errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(step["config"])]
            assert errors == [], (name, step["uses"])
        assert stage.verification_error == "", name
        assert all(isinstance(v, str) for v in stage.verification_args.values()), name


def test_github_trigger_body_is_the_workflow_dispatch_payload(evaluated: dict[str, StageEvaluation]) -> None:
    config = evaluated["rebuild-base-python"].config("trigger")
    assert json.loads(config["body"]) == {
        "ref": "main",
        "inputs": {"image": "base-python",
                   cv.TRIGGER_INPUT_BASE_DIGESTS: vetted("python-3-12-slim", PYTHON_REPO, "3.12-slim")},
    }
    headers = {h["name"]: h["value"] for h in config["headers"]}
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert config["url"] == ("https://api.github.com/repos/example/platform-images/actions/workflows/"
                             "build-base-python.yml/dispatches")


def test_configured_trigger_input_is_sent_not_overwritten(evaluated: dict[str, StageEvaluation]) -> None:
    # images.d/payments.yaml sets `inputs: {image: api}`: the team's workflow names the image "api".
    body = json.loads(evaluated["rebuild-payments-api"].config("trigger")["body"])
    assert body["inputs"] == {"image": "api",
                              cv.TRIGGER_INPUT_BASE_DIGESTS: vetted("python-3-12-slim", PYTHON_REPO, "3.12-slim")}


def test_webhook_body_lists_every_vetted_origin(evaluated: dict[str, StageEvaluation]) -> None:
    config = evaluated["rebuild-payments-worker"].config("trigger")
    assert json.loads(config["body"]) == {
        "image": "payments-worker",
        "ref": "registry.example.com/payments/worker:main",
        cv.TRIGGER_INPUT_BASE_DIGESTS: ",".join([vetted("busybox-1-36", "docker.io/library/busybox", "1.36"),
                                                 vetted("python-3-12-slim", PYTHON_REPO, "3.12-slim")]),
    }
    assert {h["name"]: h["value"] for h in config["headers"]}["Authorization"] == f"Bearer {TOKEN}"
    args = evaluated["rebuild-payments-worker"].verification_args
    assert args == {cv.VERIFY_ARG_IMAGE: "payments-worker",
                    cv.VERIFY_ARG_REF: "registry.example.com/payments/worker:main",
                    cv.VERIFY_ARG_BASE_DIGESTS: json.loads(config["body"])[cv.TRIGGER_INPUT_BASE_DIGESTS]}


@pytest.mark.parametrize("tag", NUMERIC_LOOKING_TAGS)
def test_gate_gets_the_tag_as_written_whatever_it_looks_like(project: KargoProject, tag: str) -> None:
    freight = freight_for_tags(project, {"busybox-1-36": tag})
    stage = evaluate_project(project, freight)["soak-busybox-1-36-336h"]
    digest = digest_of(f"busybox-1-36:{tag}")
    assert stage.verification_error == ""
    assert stage.verification_args == {
        cv.GATE_ARG_WAREHOUSE: "busybox-1-36", cv.GATE_ARG_REPOSITORY: "docker.io/library/busybox",
        cv.GATE_ARG_TAG: tag, cv.GATE_ARG_DIGEST: digest, cv.GATE_ARG_DELAY: "336h"}
    assert stage.config("record") == {"warehouse": "busybox-1-36", "repository": "docker.io/library/busybox",
                                      "tag": tag, "digest": digest}


@pytest.mark.parametrize("tag", ["1.36", "7"])
def test_numeric_tags_reach_the_build_as_text(project: KargoProject, tag: str) -> None:
    freight = freight_for_tags(project, {"busybox-1-36": tag})
    body = json.loads(evaluate_project(project, freight)["rebuild-payments-worker"].config("trigger")["body"])
    assert body[cv.TRIGGER_INPUT_BASE_DIGESTS].startswith(f"docker.io/library/busybox:{tag}@sha256:")


def test_http_outcomes_follow_the_status(project: KargoProject) -> None:
    responses = [Response(204), Response(200, "{}", "application/json"),
                 Response(404, json.dumps({"message": "Not Found"}), "application/json"),
                 Response(422, json.dumps({"message": "Unexpected inputs provided"}), "application/json"),
                 Response(401, "Bad credentials", "text/plain"), Response(429), Response(500, "oops", "text/plain"),
                 Response(503)]
    evaluated = evaluate_project(project, secrets=SECRETS, responses=responses)
    github = [(o["status"], o["outcome"], o.get("message", ""))
              for o in evaluated["rebuild-base-python"].step("trigger")["responses"]]
    assert github == [(204, "Succeeded", ""), (200, "Succeeded", ""), (404, "Failed", "Not Found"),
                      (422, "Failed", "Unexpected inputs provided"), (401, "Failed", ""),
                      (429, "Running", ""), (500, "Running", ""), (503, "Running", "")]
    webhook = [o["outcome"] for o in evaluated["rebuild-payments-worker"].step("trigger")["responses"]]
    assert webhook == ["Succeeded", "Succeeded", "Failed", "Failed", "Failed", "Running", "Running", "Running"]


def test_missing_origin_is_left_out_not_an_error(project: KargoProject) -> None:
    """`imageFrom` is nil for an origin with no Freight yet: the vetted list names only what is present."""
    python_only = [f for f in freight_for_tags(project) if f.warehouse == "python-3-12-slim"]
    stage = evaluate_project(project, python_only)["rebuild-payments-worker"]
    assert stage.verification_args[cv.VERIFY_ARG_BASE_DIGESTS] == vetted("python-3-12-slim", PYTHON_REPO,
                                                                         "3.12-slim")


def test_two_tags_of_one_repository_stay_apart(tmp_path: Path) -> None:
    """python:3.12-slim and python:3.13-slim share a repoURL: warehouse() picks the right Freight."""
    uses = {"base-python": [("from", "python:3.12-slim", 3), ("from", "python:3.13-slim", 9)]}
    fleet = example_fleet()
    project = build_project(fleet, plan(fleet, uses), Settings())
    stage = evaluate_project(project)["rebuild-base-python"]
    assert stage.verification_args[cv.VERIFY_ARG_BASE_DIGESTS] == ",".join(
        [vetted("python-3-12-slim", PYTHON_REPO, "3.12-slim"), vetted("python-3-13-slim", PYTHON_REPO, "3.13-slim")])


def test_values_from_images_yaml_cannot_break_the_expression(tmp_path: Path) -> None:
    tricky = 'a}}b ${{ c }} "d" \\e %} ${% f'

    def change(images: list[dict[str, Any]]) -> None:
        for image in images:
            if image["name"] == "base-python":
                image["trigger"]["github"]["inputs"] = {"note": tricky, "image": "py-base"}
                image["trigger"]["github"]["ref"] = "release/}}"

    fleet = load_fleet(edit_config(tmp_path, change))
    project = build_project(fleet, plan(fleet), Settings())
    body = json.loads(evaluate_project(project)["rebuild-base-python"].config("trigger")["body"])
    assert body["ref"] == "release/}}"
    assert body["inputs"]["note"] == tricky and body["inputs"]["image"] == "py-base"


def test_base_digests_input_is_reserved(tmp_path: Path) -> None:
    def change(images: list[dict[str, Any]]) -> None:
        for image in images:
            if image["name"] == "base-python":
                image["trigger"]["github"]["inputs"] = {cv.TRIGGER_INPUT_BASE_DIGESTS: "mine"}

    with pytest.raises(InputError) as raised:
        load_fleet(edit_config(tmp_path, change))
    message = str(raised.value)
    assert "images.yaml:" in message and "inputs" in message and "reserved" in message


def test_expedited_and_held_stages_evaluate(tmp_path: Path) -> None:
    def change(images: list[dict[str, Any]]) -> None:
        for image in images:
            if image["name"] == "base-python":
                image["expedite"] = {"reason": "CVE-2026-0001", "expires": str(date(2099, 12, 31))}
            if image["name"] == "base-node":
                image["hold"] = True

    fleet = load_fleet(edit_config(tmp_path, change))
    project = build_project(fleet, plan(fleet), Settings())
    evaluated = evaluate_project(project, secrets=SECRETS)
    expedited = evaluated["rebuild-base-python"]  # Freight straight from the Warehouse (no soak Stage)
    assert expedited.verification_args[cv.VERIFY_ARG_BASE_DIGESTS] == vetted("python-3-12-slim", PYTHON_REPO,
                                                                             "3.12-slim")
    held = json.loads(evaluated["rebuild-base-node"].config("trigger")["body"])
    assert held["inputs"][cv.TRIGGER_INPUT_BASE_DIGESTS] == vetted("node-20-alpine", "docker.io/library/node",
                                                                   "20-alpine")


@pytest.mark.parametrize(("strategy", "tag"), [("SemVer", "3.13.1"), ("Lexical", "20260101"),
                                               ("NewestBuild", "7")])
def test_every_selection_strategy_soaks_the_tag_it_selected(tmp_path: Path, strategy: str, tag: str) -> None:
    """python enrolled as an external image with its own selection: the soak Stage gates whichever tag the
    Warehouse selected, as text."""

    def change(images: list[dict[str, Any]]) -> None:
        if any(i["name"] == "base-python" for i in images):
            images.append({"name": "python-upstream", "image": "docker.io/library/python:3.12-slim",
                           "warehouse": {"imageSelectionStrategy": strategy, "allowTags": r"^[0-9][0-9.]*$"}})

    fleet = load_fleet(edit_config(tmp_path, change))
    project = build_project(fleet, plan(fleet), Settings())
    subscription = project.get("Warehouse", "python-3-12-slim").to_manifest()["spec"]["subscriptions"][0]
    assert subscription["image"]["imageSelectionStrategy"] == strategy
    stage = evaluate_project(project, freight_for_tags(project, {"python-3-12-slim": tag}))[
        "soak-python-3-12-slim-168h"]
    assert stage.verification_args[cv.GATE_ARG_TAG] == tag
    assert stage.config("record")["tag"] == tag


# --- The engine catches what the issue reported (so these tests can fail) ----------------------------

def test_engine_rejects_a_nested_map_and_an_unquoted_numeric_tag(project: KargoProject) -> None:
    manifest = project.get("Stage", "soak-busybox-1-36-336h").to_manifest()
    image = 'imageFrom("docker.io/library/busybox", warehouse("busybox-1-36"))'
    manifest["spec"]["promotionTemplate"]["spec"]["steps"][0]["config"]["nested"] = \
        '${{ quote({"a": {"b": "c"}}) }}'
    for arg in manifest["spec"]["verification"]["args"]:
        if arg["name"] == cv.GATE_ARG_TAG:
            arg["value"] = f"${{{{ {image}.Tag }}}}"
    warehouse = project.get("Warehouse", "busybox-1-36").to_manifest()
    freight = [Freight("busybox-1-36", {"docker.io/library/busybox": ("1.36", digest_of("x"))})]
    (stage,) = evaluate([manifest, warehouse], freight).values()
    assert "unexpected token EOF" in stage.steps[0]["error"]
    assert stage.verification_error == 'evaluated argument "tag" value is not a string but float64'
