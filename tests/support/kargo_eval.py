"""Rendered Stages evaluated by Kargo v1.11.2's own template engine (tests/engines/kargo-eval).

`evaluate` feeds the rendered objects plus Freight to the Go program and returns, per Stage, each
promotion step's config as Kargo would hand it to the step (or Kargo's error), the http step's outcome
for sample responses, and the verification args as Kargo's AnalysisRun builder would pass them.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from analyzer.kargo.build import KargoProject
from tests.support.engines import engine_bin

PROJECT = "image-factory"


def digest_of(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Freight:
    """One piece of Freight from one Warehouse: repository → (tag, digest)."""

    warehouse: str
    images: Mapping[str, tuple[str, str]]
    name: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name or f"freight-{self.warehouse}",
                "origin": {"kind": "Warehouse", "name": self.warehouse},
                "images": [{"repoURL": repo, "tag": tag, "digest": digest}
                           for repo, (tag, digest) in sorted(self.images.items())]}


@dataclass(frozen=True)
class Response:
    status: int
    body: str = ""
    content_type: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "body": self.body, "contentType": self.content_type}


@dataclass
class StageEvaluation:
    stage: str
    steps: list[dict[str, Any]]
    verification_args: dict[str, str] = field(default_factory=dict)
    verification_error: str = ""

    def step(self, alias: str) -> dict[str, Any]:
        return next(s for s in self.steps if s.get("as") == alias)

    def config(self, alias: str) -> dict[str, Any]:
        step = self.step(alias)
        assert "error" not in step, f"{self.stage}: step {alias!r} errored in Kargo: {step['error']}"
        config: dict[str, Any] = step["config"]
        return config


def freight_for_tags(project: KargoProject, tags: Mapping[str, str] | None = None) -> list[Freight]:
    """Freight for every Warehouse: its followed tag (or `tags[warehouse]`) and a digest derived from it."""
    freight = []
    for warehouse in project.by_kind("Warehouse"):
        manifest = warehouse.to_manifest()
        image = manifest["spec"]["subscriptions"][0]["image"]
        tag = (tags or {}).get(warehouse.name) or image.get("constraint") or "latest"
        freight.append(Freight(warehouse.name, {image["repoURL"]: (tag, digest_of(f"{warehouse.name}:{tag}"))}))
    return freight


def evaluate(objects: Iterable[Mapping[str, Any]], freight: Sequence[Freight],
             secrets: Mapping[str, Mapping[str, str]] | None = None,
             responses: Sequence[Response] = ()) -> dict[str, StageEvaluation]:
    payload = {"project": PROJECT, "objects": list(objects), "freight": [f.to_json() for f in freight],
               "secrets": secrets or {}, "responses": [r.to_json() for r in responses]}
    binary = engine_bin("kargo-eval") / "kargo-eval"
    result = subprocess.run([str(binary)], input=json.dumps(payload), capture_output=True, text=True,
                            check=False, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"kargo-eval failed (exit {result.returncode}): {result.stderr}")
    out = {}
    for stage in json.loads(result.stdout)["stages"]:
        out[stage["stage"]] = StageEvaluation(
            stage=stage["stage"], steps=stage["steps"],
            verification_args={a["name"]: a["value"] for a in stage.get("verificationArgs") or []},
            verification_error=stage.get("verificationError", ""))
    return out


def evaluate_project(project: KargoProject, freight: Sequence[Freight] | None = None,
                     secrets: Mapping[str, Mapping[str, str]] | None = None,
                     responses: Sequence[Response] = ()) -> dict[str, StageEvaluation]:
    return evaluate([o.to_manifest() for o in project.objects],
                    freight if freight is not None else freight_for_tags(project), secrets, responses)
