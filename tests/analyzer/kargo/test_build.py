"""The graph rules of the Kargo model on the example fleet (states planned by the real planner)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from analyzer.config.loader import load_fleet
from analyzer.errors import InputError
from analyzer.graph import GraphError
from analyzer.kargo import conventions as cv
from analyzer.kargo.build import KargoProject, build_project
from analyzer.kargo.resources import (
    AnalysisTemplate,
    HttpStepConfig,
    JobSpec,
    PodFailurePolicy,
    PodFailurePolicyOnExitCodes,
    PodFailurePolicyOnPodCondition,
    PodFailurePolicyRule,
    PodSpec,
    PodTemplate,
    Stage,
    Warehouse,
)
from analyzer.kargo.settings import Settings, settings_from_config
from analyzer.state.model import ImageState
from tests.support.kargo_fleet import (
    BASE_NODE,
    BASE_PYTHON,
    EXAMPLE_USES,
    NGINX,
    edit_config,
    example_fleet,
    example_states,
    plan,
)
from tests.support.kargo_schemas import all_problems, expressions_in
from tests.support.states import external_state, managed_state


@pytest.fixture(scope="module")
def project() -> KargoProject:
    return build_project(example_fleet(), example_states(), Settings())


def stage(project: KargoProject, name: str) -> Stage:
    obj = project.get("Stage", name)
    assert isinstance(obj, Stage)
    return obj


def sources(project: KargoProject, name: str) -> dict[str, dict[str, Any]]:
    """origin Warehouse → sources, of one Stage."""
    return {r.origin.name: r.sources.to_dict() for r in stage(project, name).spec.requested_freight}


def test_warehouse_per_tracked_external_tag_never_for_managed_images(project: KargoProject) -> None:
    assert project.summary["warehouses"] == {
        "busybox-1-36": "docker.io/library/busybox:1.36",
        "gcr-io-distroless-static-debian12-nonroot": "gcr.io/distroless/static-debian12:nonroot",
        "nginx-1-27-alpine": NGINX,
        "node-20-alpine": "docker.io/library/node:20-alpine",
        "python-3-12-slim": "docker.io/library/python:3.12-slim",
        "redis-7": "docker.io/library/redis:7",
    }
    managed = {image.ref.tracked for image in example_fleet().managed()}
    for warehouse in project.by_kind("Warehouse"):
        assert warehouse.metadata.annotations is not None
        assert warehouse.metadata.annotations[cv.ANNOTATION_REF] not in managed


def test_discovered_base_follows_its_tag_by_digest(project: KargoProject) -> None:
    warehouse = project.get("Warehouse", "python-3-12-slim")
    assert isinstance(warehouse, Warehouse)
    assert warehouse.spec.interval == "5m0s"
    assert warehouse.spec.subscriptions[0].image.to_dict() == {
        "repoURL": "docker.io/library/python",
        "imageSelectionStrategy": "Digest",
        "constraint": "3.12-slim",
    }


def test_enrolled_external_settings_use_regexes_never_allow_tags(project: KargoProject) -> None:
    manifest = project.get("Warehouse", "redis-7").to_manifest()
    assert manifest["spec"]["subscriptions"] == [
        {
            "image": {
                "repoURL": "docker.io/library/redis",
                "imageSelectionStrategy": "SemVer",
                "constraint": "^7.0.0",
                "allowTagsRegexes": [r"^7\.\d+\.\d+$"],
                "discoveryLimit": 10,
            }
        }
    ]
    assert manifest["metadata"]["annotations"][cv.ANNOTATION_SOURCE] == "images.yaml:61"


def test_pinned_base_renders_nothing_and_is_reported(project: KargoProject) -> None:
    assert [p["base"].split("@")[0] for p in project.summary["pinned"]] == ["docker.io/library/golang:1.23"]
    assert not any("golang" in w.name for w in project.by_kind("Warehouse"))
    assert sources(project, "rebuild-edge-proxy") == {
        "gcr-io-distroless-static-debian12-nonroot": {"stages": ["soak-gcr-io-distroless-static-debian12-nonroot-168h"]}
    }


def test_soak_stage_per_warehouse_and_delay_actually_used(project: KargoProject) -> None:
    assert project.summary["soakStages"] == {
        "soak-busybox-1-36-336h": {"warehouse": "busybox-1-36", "delay": "336h"},
        "soak-gcr-io-distroless-static-debian12-nonroot-168h": {
            "warehouse": "gcr-io-distroless-static-debian12-nonroot",
            "delay": "168h",
        },
        "soak-nginx-1-27-alpine-168h": {"warehouse": "nginx-1-27-alpine", "delay": "168h"},
        "soak-node-20-alpine-168h": {"warehouse": "node-20-alpine", "delay": "168h"},
        "soak-python-3-12-slim-168h": {"warehouse": "python-3-12-slim", "delay": "168h"},
        # ml-runtime (10d) and payments-worker (14d) outlast base-python's 7d: python must soak that long too
        "soak-python-3-12-slim-240h": {"warehouse": "python-3-12-slim", "delay": "240h"},
        "soak-python-3-12-slim-336h": {"warehouse": "python-3-12-slim", "delay": "336h"},
    }  # redis is unused


def test_soak_stage_is_regular_direct_and_gated(project: KargoProject) -> None:
    soak = stage(project, "soak-python-3-12-slim-168h")
    assert sources(project, soak.name) == {"python-3-12-slim": {"direct": True}}
    (step,) = soak.spec.promotion_template.spec.steps
    assert step.uses == "compose-output"
    assert soak.spec.verification is not None
    assert [t.name for t in soak.spec.verification.analysis_templates] == ["gate"]
    args = {a.name: a.value for a in soak.spec.verification.args or []}
    image = 'imageFrom("docker.io/library/python", warehouse("python-3-12-slim"))'
    assert args == {
        cv.GATE_ARG_WAREHOUSE: "python-3-12-slim",
        cv.GATE_ARG_REPOSITORY: "docker.io/library/python",
        cv.GATE_ARG_TAG: f"${{{{ quote({image}.Tag) }}}}",  # quote(): Kargo keeps a tag like 1.36 a string
        cv.GATE_ARG_DIGEST: f"${{{{ quote({image}.Digest) }}}}",
        cv.GATE_ARG_DELAY: "168h",
    }
    labels = soak.metadata.labels or {}
    assert labels[cv.LABEL_DELAY] == args[cv.GATE_ARG_DELAY]
    assert labels[cv.LABEL_AUTO_PROMOTE] == "true"
    assert soak.spec.verification is not None


def test_rebuild_stages_mirror_the_dependency_graph(project: KargoProject) -> None:
    assert sources(project, "rebuild-base-python") == {"python-3-12-slim": {"stages": ["soak-python-3-12-slim-168h"]}}
    # the design's worked example: python directly and through base-python → rebuild once, after both
    assert sources(project, "rebuild-payments-api") == {
        "python-3-12-slim": {
            "stages": ["soak-python-3-12-slim-168h", "rebuild-base-python"],
            "availabilityStrategy": "All",
        }
    }
    # a child whose delay is longer than its parents' also waits for the upstream digest to age that long
    assert sources(project, "rebuild-ml-runtime") == {
        "python-3-12-slim": {"stages": ["soak-python-3-12-slim-240h", "rebuild-base-python"],
                             "availabilityStrategy": "All"}}
    assert sources(project, "rebuild-payments-worker") == {
        "busybox-1-36": {"stages": ["soak-busybox-1-36-336h"]},
        "python-3-12-slim": {
            "stages": ["soak-python-3-12-slim-336h", "rebuild-base-python", "rebuild-ml-runtime"],
            "availabilityStrategy": "All",
        },
    }
    assert sources(project, "rebuild-web-frontend") == {
        "nginx-1-27-alpine": {"stages": ["soak-nginx-1-27-alpine-168h"]},
        "node-20-alpine": {"stages": ["rebuild-base-node"]},
    }


def test_exactly_one_rebuild_stage_per_managed_image_with_a_moving_base(project: KargoProject) -> None:
    rebuilds = [s for s in project.by_kind("Stage") if (s.metadata.labels or {})[cv.LABEL_ROLE] == cv.ROLE_REBUILD]
    images = sorted((s.metadata.labels or {})[cv.LABEL_IMAGE] for s in rebuilds)
    assert images == sorted(set(images))
    assert set(images) == {i.name for i in example_fleet().managed()} - {"web-docs"}
    assert project.summary["unbuildable"] == ["web-docs"]  # its FROM is unresolved: nothing can trigger it


def test_github_trigger_posts_workflow_dispatch_with_vetted_digests(project: KargoProject) -> None:
    (step,) = stage(project, "rebuild-payments-api").spec.promotion_template.spec.steps
    config = step.config
    assert isinstance(config, HttpStepConfig)
    assert step.uses == "http" and step.retry is not None and step.retry.timeout == "30m"
    assert step.retry.error_threshold == 20  # Kargo's default (1) drops the rebuild at the first network error
    assert config.method == "POST"
    assert config.url == "https://api.github.com/repos/example/payments/actions/workflows/build-api.yml/dispatches"
    headers = {h.name: h.value for h in config.headers}
    assert headers["Authorization"] == 'Bearer ${{ secret("github-actions-dispatch").token }}'
    body = config.body
    assert body.startswith("${{ quote({ ") and '"ref": "main"' in body
    assert "}}" not in body.removesuffix(" }}")  # Kargo would end the expression there
    assert '"image": "api"' in body and f'"{cv.TRIGGER_INPUT_BASE_DIGESTS}": join(' in body
    assert 'imageFrom("docker.io/library/python", warehouse("python-3-12-slim")).Digest' in body
    assert config.success_expression and config.failure_expression
    assert not any("${{" in e for e in (config.success_expression, config.failure_expression))


def test_webhook_trigger_with_and_without_secret(project: KargoProject) -> None:
    worker = stage(project, "rebuild-payments-worker").spec.promotion_template.spec.steps[0].to_dict()["config"]
    assert worker["url"] == "https://ci.example.com/hooks/payments-worker"
    assert {h["name"]: h["value"] for h in worker["headers"]}[
        "Authorization"
    ] == 'Bearer ${{ secret("payments-ci-webhook").token }}'
    proxy = stage(project, "rebuild-edge-proxy").spec.promotion_template.spec.steps[0].to_dict()["config"]
    assert "Authorization" not in {h["name"] for h in proxy["headers"]}


def test_no_credential_literal_anywhere(project: KargoProject) -> None:
    for obj in project.objects:
        manifest = obj.to_manifest()
        text = yaml.safe_dump(manifest)
        assert "ghp_" not in text and "password" not in text.lower()
        for expression in expressions_in(manifest):
            if "secret(" in expression:
                assert expression.startswith("${{ secret(")


def test_verify_rebuild_verification(project: KargoProject) -> None:
    verification = stage(project, "rebuild-base-python").spec.verification
    assert verification is not None
    assert [t.name for t in verification.analysis_templates] == ["verify-rebuild"]
    args = {a.name: a.value for a in verification.args or []}
    assert args[cv.VERIFY_ARG_IMAGE] == "base-python" and args[cv.VERIFY_ARG_REF] == BASE_PYTHON
    assert args[cv.VERIFY_ARG_BASE_DIGESTS].startswith("${{ quote(join(filter([")


def test_analysis_templates_run_the_analyzer_jobs(project: KargoProject) -> None:
    gate = project.get("AnalysisTemplate", "gate")
    verify = project.get("AnalysisTemplate", "verify-rebuild")
    assert isinstance(gate, AnalysisTemplate) and isinstance(verify, AnalysisTemplate)
    job = gate.spec.metrics[0].provider.job.spec
    (container,) = job.template.spec.containers
    assert container.image == Settings().analyzer_image and container.command == ["image-factory"]
    assert container.args[0] == "gate" and f"--{cv.GATE_ARG_DELAY}={{{{args.delay}}}}" in container.args
    assert job.template.spec.service_account_name == "image-factory-jobs"
    assert [e.secret_ref.name for e in container.env_from or []] == [
        "image-factory-registry",
        "image-factory-state-repo",
    ]
    assert job.active_deadline_seconds > timedelta(hours=336).total_seconds()  # longest soak delay
    assert job.backoff_limit == 2 and container.resources.limits["memory"] == "512Mi"
    assert verify.spec.metrics[0].provider.job.spec.template.spec.containers[0].args[0] == "verify-rebuild"


def test_job_templates_survive_disruptions_and_fail_at_once_on_a_verdict(project: KargoProject) -> None:
    for name, command in (("gate", "gate"), ("verify-rebuild", "verify-rebuild")):
        template = project.get("AnalysisTemplate", name)
        assert isinstance(template, AnalysisTemplate)
        job = template.spec.metrics[0].provider.job.spec
        assert job.template.spec.restart_policy == "Never"
        assert job.pod_failure_policy is not None
        ignore, fail = job.pod_failure_policy.rules
        assert ignore.action == "Ignore" and [(c.type, c.status) for c in ignore.on_pod_conditions or []] == [
            ("DisruptionTarget", "True")]
        assert fail.action == "FailJob" and fail.on_exit_codes is not None
        assert fail.on_exit_codes.container_name == command
        assert fail.on_exit_codes.values == [cv.JOB_EXIT_INVALID, cv.JOB_EXIT_REFUSED]
        assert 1 not in fail.on_exit_codes.values  # crashes and outages are retried up to backoffLimit
        (container,) = job.template.spec.containers
        assert all(e.secret_ref.optional for e in container.env_from or [])


def test_verify_deadline_leaves_every_retry_its_full_timeout() -> None:
    settings = Settings(verifyTimeout="45m", verifyAttemptMargin="5m", verifyBackoffLimit=2)
    template = build_project(example_fleet(), example_states(), settings).get("AnalysisTemplate", "verify-rebuild")
    assert isinstance(template, AnalysisTemplate)
    job = template.spec.metrics[0].provider.job.spec
    (container,) = job.template.spec.containers
    assert "--timeout=45m" in container.args  # the command's timeout comes from the same setting
    assert job.backoff_limit == 2
    assert job.active_deadline_seconds == 3 * (45 + 5) * 60  # (backoffLimit + 1) attempts of timeout + margin
    default = Settings()
    assert default.verify_deadline == 2 * (default.verify_timeout + default.verify_attempt_margin)
    assert default.verify_timeout < default.verify_deadline / (default.verify_backoff_limit + 1)


def test_gate_retries_outages_within_its_deadline_margin() -> None:
    settings = Settings(gateDeadlineMargin="2h")
    template = build_project(example_fleet(), example_states(), settings).get("AnalysisTemplate", "gate")
    assert isinstance(template, AnalysisTemplate)
    job = template.spec.metrics[0].provider.job.spec
    assert "--retry-for=1h" in job.template.spec.containers[0].args  # half the margin: done before the deadline
    assert job.active_deadline_seconds == (336 + 2) * 3600  # longest soak delay (14 days) + margin


def test_removed_verify_deadline_setting_says_what_to_set() -> None:
    with pytest.raises(InputError) as caught:
        settings_from_config({"image-factory:verifyDeadline": "2h"}, "Pulumi.prod.yaml")
    (problem,) = caught.value.problems
    assert problem.field == "image-factory:verifyDeadline" and "set verifyTimeout instead" in problem.message


def test_pod_failure_policy_model_refuses_what_kubernetes_refuses() -> None:
    rule = PodFailurePolicyRule(action="Ignore", on_pod_conditions=[PodFailurePolicyOnPodCondition(type="X")])
    pod = PodSpec(restart_policy="OnFailure", service_account_name="sa", containers=[])
    with pytest.raises(ValidationError, match=r"requires template\.spec\.restartPolicy: Never"):
        JobSpec(backoff_limit=0, active_deadline_seconds=1, pod_failure_policy=PodFailurePolicy(rules=[rule]),
                template=PodTemplate(spec=pod))
    with pytest.raises(ValidationError, match="exactly one of onExitCodes, onPodConditions"):
        PodFailurePolicyRule(action="FailJob")
    with pytest.raises(ValidationError, match="must not list exit code 0"):
        PodFailurePolicyOnExitCodes(operator="In", values=[0, 3])


def test_project_config_auto_promotes_by_label(project: KargoProject) -> None:
    config = project.get("ProjectConfig", "image-factory").to_manifest()
    assert config["metadata"] == {"name": "image-factory", "namespace": "image-factory"}
    assert config["spec"]["promotionPolicies"] == [
        {"stageSelector": {"matchLabels": {cv.LABEL_AUTO_PROMOTE: "true"}}, "autoPromotionEnabled": True}
    ]


def test_hold_and_auto_rebuild_false_disable_auto_promotion(tmp_path: Path) -> None:
    def change(images: list[dict[str, Any]]) -> None:
        for image in images:
            if image["name"] == "base-python":
                image["hold"] = True
            if image["name"] == "base-node":
                image["autoRebuild"] = False

    fleet = load_fleet(edit_config(tmp_path, change))
    project = build_project(fleet, plan(fleet), Settings())
    held = stage(project, "rebuild-base-python").metadata
    assert (held.labels or {})[cv.LABEL_AUTO_PROMOTE] == "false"
    assert (held.annotations or {})[cv.ANNOTATION_HOLD] == "true"
    assert (stage(project, "rebuild-base-node").metadata.labels or {})[cv.LABEL_AUTO_PROMOTE] == "false"
    assert (stage(project, "rebuild-payments-api").metadata.labels or {})[cv.LABEL_AUTO_PROMOTE] == "true"


def test_expedite_takes_freight_direct_with_annotations(tmp_path: Path) -> None:
    def change(images: list[dict[str, Any]]) -> None:
        for image in images:
            if image["name"] == "payments-api":
                image["expedite"] = {"reason": "CVE-2026-0001 in openssl", "expires": "2026-12-31"}

    fleet = load_fleet(edit_config(tmp_path, change))
    project = build_project(fleet, plan(fleet), Settings())
    # python comes through base-python too: wait for the parent, skip only the soak
    assert sources(project, "rebuild-payments-api") == {"python-3-12-slim": {"stages": ["rebuild-base-python"]}}

    def base_python(images: list[dict[str, Any]]) -> None:
        for image in images:
            if image["name"] == "base-python":
                image["expedite"] = {"reason": "CVE-2026-0001 in openssl", "expires": str(date(2026, 12, 31))}

    (tmp_path / "second").mkdir()
    fleet = load_fleet(edit_config(tmp_path / "second", base_python))
    project = build_project(fleet, plan(fleet), Settings())
    assert sources(project, "rebuild-base-python") == {"python-3-12-slim": {"direct": True}}
    annotations = stage(project, "rebuild-base-python").metadata.annotations or {}
    assert annotations[cv.ANNOTATION_EXPEDITE_REASON] == "CVE-2026-0001 in openssl"
    assert annotations[cv.ANNOTATION_EXPEDITE_EXPIRES] == "2026-12-31"
    assert all_problems(o.to_manifest() for o in project.objects) == []


def test_managed_to_external_transition(tmp_path: Path) -> None:
    """base-node loses its source: it gets a Warehouse, its rebuild Stage goes, web-frontend follows it."""

    def demote(images: list[dict[str, Any]]) -> None:
        for image in images:
            if image["name"] == "base-node":
                del image["source"], image["trigger"]

    before = example_states()
    fleet = load_fleet(edit_config(tmp_path, demote))
    project = build_project(fleet, plan(fleet, previous=before), Settings())
    assert project.summary["warehouses"]["registry-example-com-platform-base-node-20"] == BASE_NODE
    assert "base-node" not in project.summary["rebuildStages"]
    assert sources(project, "rebuild-web-frontend") == {
        "nginx-1-27-alpine": {"stages": ["soak-nginx-1-27-alpine-168h"]},
        "registry-example-com-platform-base-node-20": {
            "stages": ["soak-registry-example-com-platform-base-node-20-168h"]
        },
    }
    assert "node-20-alpine" not in project.summary["warehouses"]  # nobody uses node directly any more
    assert all_problems(o.to_manifest() for o in project.objects) == []


def test_external_to_managed_transition(tmp_path: Path) -> None:
    """nginx gains a source: its Warehouse goes, it gets a rebuild Stage, web-frontend waits for it."""

    def promote(images: list[dict[str, Any]]) -> None:
        for image in images:
            if image["name"] == "nginx":
                del image["warehouse"]
                image["source"] = {"repo": "examples/.repos/edge", "dockerfile": "nginx/Dockerfile"}
                image["trigger"] = {"webhook": {"url": "https://ci.example.com/hooks/nginx"}}

    fleet = load_fleet(edit_config(tmp_path, promote))
    uses = {**EXAMPLE_USES, "nginx": [("from", "alpine:3.20", 1)]}
    project = build_project(fleet, plan(fleet, uses, previous=example_states()), Settings())
    assert "nginx-1-27-alpine" not in project.summary["warehouses"]
    assert project.summary["rebuildStages"]["nginx"] == "rebuild-nginx"
    assert sources(project, "rebuild-nginx") == {"alpine-3-20": {"stages": ["soak-alpine-3-20-168h"]}}
    assert sources(project, "rebuild-web-frontend") == {
        "alpine-3-20": {"stages": ["rebuild-nginx"]},
        "node-20-alpine": {"stages": ["rebuild-base-node"]},
    }
    assert all_problems(o.to_manifest() for o in project.objects) == []


def test_two_tags_of_one_repository_need_two_warehouses(tmp_path: Path) -> None:
    fleet = example_fleet()
    uses = {**EXAMPLE_USES, "payments-api": [("from", "python:3.13-slim", 3), ("from", BASE_PYTHON, 9)]}
    project = build_project(fleet, plan(fleet, uses), Settings())
    assert {"python-3-12-slim", "python-3-13-slim"} <= set(project.summary["warehouses"])
    body = (stage(project, "rebuild-payments-api").spec.promotion_template.spec.steps[0].to_dict()["config"])["body"]
    assert 'warehouse("python-3-13-slim")' in body and 'warehouse("python-3-12-slim")' in body
    assert all_problems(o.to_manifest() for o in project.objects) == []


def test_deterministic_and_order_independent() -> None:
    states = example_states()
    first = build_project(example_fleet(), states, Settings())
    second = build_project(example_fleet(), dict(reversed(list(states.items()))), Settings())
    assert [o.to_manifest() for o in first.objects] == [o.to_manifest() for o in second.objects]
    assert first.summary == second.summary


def test_cycle_in_state_is_an_error() -> None:
    states = example_states()
    cyclic: dict[str, ImageState] = {ref: s.model_copy(deep=True) for ref, s in states.items()}
    base_python = cyclic[BASE_PYTHON]
    assert base_python.managed is not None
    base_python.managed.parents = ["payments-api"]
    with pytest.raises(GraphError, match="cycle"):
        build_project(example_fleet(), cyclic, Settings())


def test_settings_flow_into_resources() -> None:
    settings = Settings(
        project="factory",
        analyzerImage="registry.example.com/if:1",
        warehouseInterval="10m",
        serviceAccount="sa",
        jobSecrets=["creds"],
        triggerTokenKey="pat",
    )
    project = build_project(example_fleet(), example_states(), settings)
    assert {o.metadata.namespace for o in project.objects if o.kind != "Project"} == {"factory"}
    warehouse = project.get("Warehouse", "python-3-12-slim")
    assert isinstance(warehouse, Warehouse) and warehouse.spec.interval == "10m"
    step = stage(project, "rebuild-base-python").spec.promotion_template.spec.steps[0]
    assert isinstance(step.config, HttpStepConfig)
    assert 'secret("github-actions-dispatch").pat' in str(step.config.headers)
    assert all_problems(o.to_manifest() for o in project.objects) == []


def test_images_yaml_wins_over_leftover_state() -> None:
    """State files of removed images (kept until `analyze --prune`) render nothing."""
    states = {
        **example_states(),
        "registry.example.com/gone/app:1": managed_state(
            "gone", "registry.example.com/gone/app:1", ["docker.io/library/alpine:3.20"]
        ),
        "docker.io/library/debian:12": external_state("docker.io/library/debian:12"),
    }
    project = build_project(example_fleet(), states, Settings())
    assert "gone" not in project.summary["rebuildStages"]
    assert not {"alpine-3-20", "debian-12"} & set(project.summary["warehouses"])
    assert project.summary == build_project(example_fleet(), example_states(), Settings()).summary


def test_without_state_only_enrolled_externals_are_followed() -> None:
    project = build_project(example_fleet(), {}, Settings())
    assert project.summary["warehouses"] == {"nginx-1-27-alpine": NGINX, "redis-7": "docker.io/library/redis:7"}
    assert project.summary["rebuildStages"] == {} and project.summary["soakStages"] == {}
    assert project.summary["notAnalyzed"] == sorted(i.name for i in example_fleet().managed())
    assert all_problems(o.to_manifest() for o in project.objects) == []


@pytest.mark.parametrize(("delays", "ml_runtime", "effective"), [
    # base-python, ml-runtime, payments-worker
    (("7d", "7d", "7d"), {"stages": ["rebuild-base-python"]}, ("168h", "168h", "168h")),  # equal
    (("7d", "10d", "14d"), {"stages": ["soak-python-3-12-slim-240h", "rebuild-base-python"],
                            "availabilityStrategy": "All"}, ("168h", "240h", "336h")),  # longer
    (("14d", "7d", "7d"), {"stages": ["rebuild-base-python"]}, ("336h", "336h", "336h")),  # shorter
])
def test_delay_is_the_longest_along_the_chain(tmp_path: Path, delays: tuple[str, str, str],
                                              ml_runtime: dict[str, Any], effective: tuple[str, str, str]) -> None:
    """python → base-python → ml-runtime → payments-worker: each image is rebuilt onto a python digest at
    least as old as its own delay and every parent's; a longer child delay adds its own soak Stage."""
    chain = dict(zip(["base-python", "ml-runtime", "payments-worker"], delays, strict=True))

    def change(images: list[dict[str, Any]]) -> None:
        for image in images:
            if image["name"] in chain:
                image["delay"] = chain[image["name"]]

    fleet = load_fleet(edit_config(tmp_path, change))
    project = build_project(fleet, plan(fleet), Settings())
    assert sources(project, "rebuild-ml-runtime") == {"python-3-12-slim": ml_runtime}
    got = project.summary["effectiveDelays"]
    assert tuple(got[name]["python-3-12-slim"] for name in chain) == effective
    assert all_problems(o.to_manifest() for o in project.objects) == []
