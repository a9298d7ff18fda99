"""The Pulumi program under mocks (the Pulumi CLI is not installable here): exact resource set, key
fields, stack outputs, GitOps provider, and the project files."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import jsonschema
import pulumi
import pytest
import yaml

from analyzer.kargo.build import build_project
from analyzer.kargo.settings import Settings
from analyzer.planning.timeline import plan
from examples.demo_history import with_demo_history
from infra import program
from tests.support import ROOT
from tests.support.kargo_fleet import example_fleet, example_states, write_state_dir
from tests.support.kargo_schemas import SCHEMAS, all_problems
from tests.support.pulumi_mocks import EchoMocks

CR_PREFIX = "kubernetes:"


def _token(api_version: str, kind: str) -> str:
    """pulumi-kubernetes type token: `kubernetes:<group>/<version>:<Kind>`, core group named `core`."""
    return f"{CR_PREFIX}{api_version if '/' in api_version else 'core/' + api_version}:{kind}"


def _settle(resources: list[pulumi.Resource]) -> None:
    """Run the event loop until every registration reached the mocks (pitfall 7)."""

    @pulumi.runtime.test
    def settle() -> pulumi.Output[Any]:
        return pulumi.Output.all(*[r.urn for r in resources])

    settle()


def _inputs(mocks: EchoMocks, start: int) -> dict[tuple[str, str], dict[str, Any]]:
    """(type token, logical name) → inputs, for custom resources registered since `start`."""
    return {(a.typ, a.name): a.inputs for a in mocks.created[start:] if a.custom}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, pulumi_mocks: EchoMocks) -> tuple[program.Program, dict[Any, Any]]:
    state_dir = tmp_path_factory.mktemp("state")
    write_state_dir(state_dir, example_states())
    start = len(pulumi_mocks.created)
    result = program.build(ROOT / "images.yaml", state_dir, program.read_settings(pulumi.Config()))
    _settle(list(result.resources.values()))
    return result, _inputs(pulumi_mocks, start)


def test_stack_config_is_read_from_pulumi_prod_yaml() -> None:
    settings = program.read_settings(pulumi.Config())
    assert settings == Settings()  # Pulumi.prod.yaml spells out the defaults
    assert settings.job_secrets == ["image-factory-registry", "image-factory-state-repo"]


def test_exact_resource_set(built: tuple[program.Program, dict[Any, Any]]) -> None:
    _, inputs = built
    assert sorted(inputs) == sorted(
        [
            ("kubernetes:kargo.akuity.io/v1alpha1:Project", "project-image-factory"),
            ("kubernetes:kargo.akuity.io/v1alpha1:ProjectConfig", "projectconfig-image-factory"),
            ("kubernetes:core/v1:ServiceAccount", "serviceaccount-image-factory-jobs"),
            ("kubernetes:rbac.authorization.k8s.io/v1:Role", "role-image-factory-jobs"),
            ("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "rolebinding-image-factory-jobs"),
            ("kubernetes:argoproj.io/v1alpha1:AnalysisTemplate", "analysistemplate-gate"),
            ("kubernetes:argoproj.io/v1alpha1:AnalysisTemplate", "analysistemplate-verify-rebuild"),
            *[
                ("kubernetes:kargo.akuity.io/v1alpha1:Warehouse", f"warehouse-{name}")
                for name in [
                    "busybox-1-36",
                    "gcr-io-distroless-static-debian12-nonroot",
                    "nginx-1-27-alpine",
                    "node-20-alpine",
                    "python-3-12-slim",
                    "redis-7",
                ]
            ],
            *[
                ("kubernetes:kargo.akuity.io/v1alpha1:Stage", f"stage-{name}")
                for name in [
                    "soak-busybox-1-36-336h",
                    "soak-gcr-io-distroless-static-debian12-nonroot-168h",
                    "soak-nginx-1-27-alpine-168h",
                    "soak-node-20-alpine-168h",
                    "soak-python-3-12-slim-168h",
                    "soak-python-3-12-slim-240h",
                    "soak-python-3-12-slim-336h",
                    "rebuild-base-node",
                    "rebuild-base-python",
                    "rebuild-edge-proxy",
                    "rebuild-ml-runtime",
                    "rebuild-payments-api",
                    "rebuild-payments-worker",
                    "rebuild-web-frontend",
                ]
            ],
        ]
    )


def _normalize(value: Any) -> Any:
    """Numbers come back as floats through protobuf (pitfall 5)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    return value


def test_program_and_render_produce_the_same_objects(built: tuple[program.Program, dict[Any, Any]]) -> None:
    _, inputs = built
    expected = build_project(example_fleet(), example_states(), Settings())
    for obj in expected.objects:
        manifest = obj.to_manifest()
        got = inputs[(_token(obj.api_version, obj.kind), f"{obj.kind.lower()}-{obj.name}")]
        assert _normalize(got) == manifest, obj.name
    assert all_problems(_normalize(i) for i in inputs.values()) == []


def test_key_fields(built: tuple[program.Program, dict[Any, Any]]) -> None:
    _, inputs = built
    warehouse = inputs[("kubernetes:kargo.akuity.io/v1alpha1:Warehouse", "warehouse-python-3-12-slim")]
    assert warehouse["spec"]["subscriptions"][0]["image"] == {
        "repoURL": "docker.io/library/python",
        "imageSelectionStrategy": "Digest",
        "constraint": "3.12-slim",
    }
    assert warehouse["metadata"]["namespace"] == "image-factory"
    api = inputs[("kubernetes:kargo.akuity.io/v1alpha1:Stage", "stage-rebuild-payments-api")]
    assert api["spec"]["requestedFreight"][0]["sources"] == {
        "stages": ["soak-python-3-12-slim-168h", "rebuild-base-python"],
        "availabilityStrategy": "All",
    }
    gate = inputs[("kubernetes:argoproj.io/v1alpha1:AnalysisTemplate", "analysistemplate-gate")]
    job = gate["spec"]["metrics"][0]["provider"]["job"]["spec"]
    assert job["activeDeadlineSeconds"] > 336 * 3600


def test_resource_outputs_are_the_inputs_and_api_version_is_never_resolved(
        built: tuple[program.Program, dict[Any, Any]]) -> None:
    """The engine returns `apiVersion` (camelCase), which pulumi_kubernetes' CustomResource never maps onto its
    `api_version` attribute: that Output resolves to None with the real CLI too (test_cli.py), so the program
    must never read it (it reads the model instead)."""
    result, _ = built
    stage = result.resources[("Stage", "soak-python-3-12-slim-168h")]

    @pulumi.runtime.test
    def check() -> pulumi.Output[Any]:
        def verify(values: list[Any]) -> None:
            api_version, kind, metadata, spec = values
            assert (api_version, kind) == (None, "Stage")
            assert metadata["labels"]["image-factory.dev/delay"] == "168h"
            assert spec["requestedFreight"][0]["sources"] == {"direct": True}

        return pulumi.Output.all(stage.api_version, stage.kind, stage.metadata, stage.spec).apply(verify)

    check()


def test_stack_outputs_are_counts_per_project_and_team_and_the_details_are_renders(
        built: tuple[program.Program, dict[Any, Any]]) -> None:
    """Counts only (their size does not grow with the fleet); every name, edge and delay is render's summary,
    which the outputs point at (`details`)."""
    result, _ = built
    outputs = result.outputs
    assert set(outputs) == {"project", "counts", "teams", "status", "details"}
    summary = result.project.summary
    assert outputs["counts"] == {
        "warehouses": 6,
        "soakStages": 7,
        "rebuildStages": 7,
        "analysisTemplates": 2,
        "managedImages": 8,
        "pinnedBases": 1,
        "objects": 27,
        "unbuildable": 1,
        "notAnalyzed": 0,
        "edges": len(summary["edges"]),
    }
    assert outputs["teams"] == {
        "images.d/payments.yaml": {"images": 2, "managedImages": 2, "externalImages": 0, "rebuildStages": 2,
                                   "unbuildable": 0, "notAnalyzed": 0, "pinnedBases": 0},
        "images.d/web.yaml": {"images": 3, "managedImages": 3, "externalImages": 0, "rebuildStages": 2,
                              "unbuildable": 1, "notAnalyzed": 0, "pinnedBases": 1},
        "images.yaml": {"images": 5, "managedImages": 3, "externalImages": 2, "rebuildStages": 3,
                        "unbuildable": 0, "notAnalyzed": 0, "pinnedBases": 0},
    }
    for key in ("managedImages", "rebuildStages", "unbuildable", "pinnedBases"):
        assert sum(team[key] for team in outputs["teams"].values()) == outputs["counts"][key]
    assert outputs["details"].startswith("image-factory render --json")
    # The details: render's summary (what `render --json` prints).
    assert summary["warehouses"]["python-3-12-slim"] == "docker.io/library/python:3.12-slim"
    assert summary["rebuildStages"]["payments-api"] == "rebuild-payments-api"
    assert summary["effectiveDelays"]["ml-runtime"] == {"python-3-12-slim": "240h"}
    assert outputs["status"]["asOf"] is None and outputs["status"]["managed"] == 8  # no digest history yet
    assert json.loads(json.dumps(outputs)) == outputs  # JSON-friendly for dashboards


def test_status_output_is_the_plan_as_of_the_newest_state_record(tmp_path: Path, pulumi_mocks: EchoMocks) -> None:
    states = with_demo_history(example_states())
    write_state_dir(tmp_path / "state", states)
    result = program.build(ROOT / "images.yaml", tmp_path / "state", Settings())
    _settle(list(result.resources.values()))
    newest = max([r.last_seen for s in states.values() for r in s.digests.history]
                 + [r.at for s in states.values() for r in s.rebuilds])
    status = result.outputs["status"]
    assert status["asOf"] == newest.isoformat()
    assert {k: v for k, v in status.items() if k != "asOf"} == plan(states, newest).summary()
    assert status["failed"] == 1 and status["stale"] >= 1  # the demo history has one failed rebuild


def test_gitops_mode_uses_a_rendering_provider(tmp_path: Path, pulumi_mocks: EchoMocks) -> None:
    write_state_dir(tmp_path / "state", example_states())
    start = len(pulumi_mocks.created)
    settings = Settings(renderYamlToDirectory="../rendered")
    result = program.build(ROOT / "images.yaml", tmp_path / "state", settings)
    assert result.provider is not None
    _settle([result.provider, *result.resources.values()])
    created = pulumi_mocks.created[start:]
    (provider,) = [a for a in created if a.typ == "pulumi:providers:kubernetes"]
    assert provider.inputs["renderYamlToDirectory"] == "../rendered"
    assert "alwaysRender" not in provider.inputs  # CI renders from a fresh stack (docs/pulumi.md)
    crs = [a for a in created if a.typ.startswith(CR_PREFIX)]
    assert len(crs) == 27 and all(a.provider and "::render::" in a.provider for a in crs)


def test_main_entry_point_exports_the_summary(tmp_path: Path, pulumi_mocks: EchoMocks,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """infra/__main__.py as the CLI runs it (run_path of the directory), on the repo images.yaml and state."""
    monkeypatch.setattr(pulumi.log, "debug", pulumi.log.debug)  # main() replaces it; put it back afterwards
    start = len(pulumi_mocks.created)
    namespace = runpy.run_path(str(ROOT / "infra"), run_name="__main__")
    _settle(list(namespace["program"].resources.values()))
    created = [a for a in pulumi_mocks.created[start:] if a.custom]
    outputs = pulumi.runtime.get_root_resource().outputs  # type: ignore[union-attr]
    assert outputs["project"] == "image-factory"
    assert outputs["counts"]["objects"] == len(created) > 0


def test_pulumi_yaml_validates_against_the_project_schema() -> None:
    schema = json.loads((SCHEMAS.parent / "pulumi" / "project.json").read_text())
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    jsonschema.Draft202012Validator(schema).validate(project)
    assert project["name"] == "image-factory" and project["main"] == "infra/"
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}
    assert (ROOT / project["main"] / "__main__.py").is_file()


def test_infra_requirements_install_the_project_itself() -> None:
    """`pulumi install` runs `pip install -r requirements.txt` with cwd = infra/ (toolchain/pip.go): `-e ..`
    is then the repo root, whose pyproject provides the analyzer and infra packages."""
    lines = [
        line
        for line in (ROOT / "infra" / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines == ["-r ../requirements.txt", "-e .."]
    program_dir = ROOT / "infra"
    assert (program_dir / ".." / "requirements.txt").resolve() == ROOT / "requirements.txt"
    pyproject = (program_dir / "..").resolve() / "pyproject.toml"
    text = pyproject.read_text()
    assert 'name = "image-factory"' in text and '"analyzer*"' in text and '"infra*"' in text


def test_stages_are_created_after_what_they_reference(built: tuple[program.Program, dict[Any, Any]]) -> None:
    result, _ = built
    order = [(o.kind, o.name) for o in result.project.objects]  # the builder emits Stages parents-first
    position = {key: i for i, key in enumerate(order)}
    assert position[("Stage", "rebuild-base-python")] < position[("Stage", "rebuild-ml-runtime")]
    assert position[("Stage", "rebuild-ml-runtime")] < position[("Stage", "rebuild-payments-worker")]
    assert order[0] == ("Project", "image-factory")
    api = result.project.get("Stage", "rebuild-payments-api")
    deps = program._depends_on(api, result.resources, result.resources[("Project", "image-factory")])
    assert set(map(id, deps)) == {
        id(result.resources[key])
        for key in [
            ("Project", "image-factory"),
            ("Warehouse", "python-3-12-slim"),
            ("Stage", "soak-python-3-12-slim-168h"),
            ("Stage", "rebuild-base-python"),
            ("AnalysisTemplate", "verify-rebuild"),
        ]
    }


def test_gitops_mode_only_on_a_gitops_stack_and_always_there() -> None:
    gitops = Settings(renderYamlToDirectory="../rendered")
    for stack in ("gitops", "team-a-gitops"):
        program.check_mode(stack, gitops)
    program.check_mode("prod", Settings())
    for stack, settings in (("prod", gitops), ("gitops-old", gitops), ("gitops", Settings()),
                            ("team-a-gitops", Settings())):
        with pytest.raises(program.ModeError):
            program.check_mode(stack, settings)


def test_the_gitops_stack_has_the_settings_of_prod_and_only_adds_the_render_directory() -> None:
    from analyzer.kargo.settings import load_stack_settings

    prod = load_stack_settings(ROOT / "Pulumi.prod.yaml")
    gitops = load_stack_settings(ROOT / "Pulumi.gitops.yaml")
    assert prod.render_yaml_to_directory is None and gitops.render_yaml_to_directory == "../rendered"
    assert gitops.model_copy(update={"render_yaml_to_directory": None}) == prod
    program.check_mode("prod", prod)
    program.check_mode("gitops", gitops)


def test_sdk_debug_messages_are_dropped_unless_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    original = pulumi.log.debug
    monkeypatch.setattr(pulumi.log, "debug", original)
    monkeypatch.setenv(program.SDK_DEBUG_ENV, "1")
    program.drop_sdk_debug_messages()
    assert pulumi.log.debug is original
    monkeypatch.delenv(program.SDK_DEBUG_ENV)
    program.drop_sdk_debug_messages()
    assert pulumi.log.debug is not original
    pulumi.log.debug("dropped", None, 0, False)  # the same signature, nothing sent


def test_registrations_start_before_the_sdk_waits_for_them(pulumi_mocks: EchoMocks) -> None:
    """What start_registrations relies on in the pinned SDK: a queued registration counts as an outstanding RPC
    only once its task has run, so without a turn of the event loop the SDK would see none (docs/pulumi.md)."""
    import pulumi_kubernetes as k8s
    from pulumi.runtime.settings import _get_rpc_manager

    before = len(_get_rpc_manager().rpcs)
    accounts = [k8s.core.v1.ServiceAccount(f"serviceaccount-start-{i}", metadata={"name": f"start-{i}"})
                for i in range(3)]
    assert len(_get_rpc_manager().rpcs) == before
    program.start_registrations()
    assert len(_get_rpc_manager().rpcs) == before + 3
    _settle(list(accounts))
