"""The preview job's PR comment (infra/pr_comment.py): every violation from the event log, the preview text,
and never more than GitHub's 65,536 characters. tests/infra/test_workflow_steps.py runs it on the real
CLI's output; these cases are the sizes a real fleet can reach."""

from __future__ import annotations

import json
from pathlib import Path

from infra.pr_comment import HEADING, LIMIT, comment, main, violations

URL = "https://github.example/o/r/actions/runs/7"


def _event(policy: str, resource: str, level: str = "mandatory") -> dict[str, object]:
    urn = f"urn:pulumi:prod::image-factory::kubernetes:kargo.akuity.io/v1alpha1:Stage::{resource}"
    return {"policyEvent": {"policyName": policy, "enforcementLevel": level, "resourceUrn": urn,
                            "message": f"The description of {policy}.\n{resource} breaks it."}}


def test_violations_from_the_event_log() -> None:
    events = [{"resourcePreEvent": {}}, _event("b-rule", "stage-x", "advisory"), _event("a-rule", "stage-y"),
              {"policyEvent": {"policyName": "s", "enforcementLevel": "mandatory", "message": "d\nm"}}]
    assert [(v["policy"], v["level"], v["resource"]) for v in violations(events)] == [
        ("a-rule", "mandatory", "stage-y"), ("s", "mandatory", "stack"), ("b-rule", "advisory", "stage-x")]


def test_a_short_preview_is_posted_whole() -> None:
    body = comment("Previewing update (prod)\n + 3 to create\n", violations([_event("r", "stage-a")]), 255, URL)
    assert body.startswith(HEADING)
    assert "Preview **failed** (exit 255): mandatory policy violations. 1 policy violation(s), 1 mandatory." in body
    assert "| mandatory | `r` | `stage-a` | stage-a breaks it. |" in body
    assert " + 3 to create" in body and "characters cut" not in body


def test_a_huge_preview_is_cut_head_and_tail_with_a_pointer_and_keeps_every_violation() -> None:
    output = "HEAD-LINE\n" + "".join(f"  + kubernetes:kargo.akuity.io/v1alpha1:Stage stage-{i} create\n"
                                     for i in range(20_000)) + "Policies:\n    ❌ image-factory@v0.1.0\nTAIL-LINE\n"
    found = violations([_event("rule", f"stage-{i}") for i in range(40)])
    body = comment(output, found, 255, URL)
    assert len(body) <= LIMIT and len(body) > LIMIT - 200  # the room is used
    assert "HEAD-LINE" in body and "TAIL-LINE" in body and "characters cut here" in body and URL in body
    assert all(f"`stage-{i}`" in body for i in range(40))


def test_thousands_of_violations_are_cut_with_a_count_and_a_pointer() -> None:
    found = violations([_event("rule", f"stage-{i:05d}") for i in range(5_000)])
    body = comment("x\n" * 100_000, found, 255, URL)
    assert len(body) <= LIMIT
    listed = body.count("| mandatory | `rule` |")
    assert 100 < listed < 5_000
    assert f"| … | {5_000 - listed} more | | the whole output is in the job log and its artifact: {URL} |" in body


def test_main_writes_the_comment_even_without_captured_output(tmp_path: Path, capsys: object) -> None:
    """The comment step runs `always()`: also when login failed and nothing was captured."""
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(_event("r", "stage-a")) + "\n{\"cut short")
    assert main(["--output", str(tmp_path / "missing.txt"), "--events", str(events), "--exit-code", "1",
                 "--details-url", URL]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "(no output captured)" in out and "`stage-a`" in out and len(out) <= LIMIT + 1
