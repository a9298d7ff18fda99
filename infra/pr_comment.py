"""The PR comment of the preview job: the policy violations of a `pulumi preview --policy-pack …` run and the
preview's own text, within GitHub's 65,536-character limit for a comment body.

    python -m infra.pr_comment --output preview.txt --events preview-events.jsonl --exit-code N \\
        --details-url URL > comment.md

The violations come from the engine's event log (`--event-log`, one JSON event a line: the same `policyEvent`s
the real-CLI tests read), so they are listed even when the preview failed half-way. When the body would be too
long, the preview text is cut (its head and its tail are kept) and then the list of violations, each with a
pointer to `--details-url` (the job log and the uploaded artifact with the whole output).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

LIMIT = 65_536
"""GitHub's maximum length of an issue or PR comment body, in characters."""
HEADING = "### Pulumi preview with the image-factory policy pack"
"""The first line of every comment (a workflow may look for it to update its earlier comment)."""


def violations(events: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """Each `policyEvent` of an event log: policy, level, resource (URN's last part, or `stack`), message."""
    found = []
    for event in events:
        policy = event.get("policyEvent")
        if policy is None:
            continue
        urn = policy.get("resourceUrn") or ""
        found.append({"policy": policy.get("policyName", "?"), "level": policy.get("enforcementLevel", "?"),
                      "resource": urn.split("::")[-1] if urn else "stack",
                      "message": policy.get("message", "").strip()})
    return sorted(found, key=lambda v: (v["level"] != "mandatory", v["policy"], v["resource"]))


def read_events(path: Path | None) -> list[dict[str, Any]]:
    if path is None or not path.is_file():
        return []
    events = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue  # a line cut short when the CLI was stopped
    return events


def _cell(text: str) -> str:
    """One line of a Markdown table cell."""
    lines = text.splitlines()
    said = " ".join(lines[1:]) or " ".join(lines)  # the CLI puts the policy's description first
    return said.replace("|", "\\|").replace("`", "'")[:300]


def _violation_rows(found: list[dict[str, str]]) -> list[str]:
    return [f"| {v['level']} | `{v['policy']}` | `{v['resource']}` | {_cell(v['message'])} |" for v in found]


def _cut(text: str, budget: int, pointer: str) -> str:
    """`text` within `budget` characters: its head and its tail, with a note in between."""
    if len(text) <= budget:
        return text
    note = f"\n… {{n}} characters cut here: {pointer} …\n"
    keep = max(budget - len(note) - 12, 0)
    head, tail = text[: keep * 2 // 3], text[len(text) - keep // 3:] if keep // 3 else ""
    return head + note.format(n=len(text) - len(head) - len(tail)) + tail


def comment(output: str, found: list[dict[str, str]], exit_code: int, details_url: str,
            limit: int = LIMIT) -> str:
    """The comment body (Markdown), never longer than `limit` characters."""
    pointer = f"the whole output is in the job log and its artifact: {details_url}"
    mandatory = sum(v["level"] == "mandatory" for v in found)
    verdict = ("passed" if exit_code == 0 else
               f"**failed** (exit {exit_code}){': mandatory policy violations' if mandatory else ''}")
    head = [HEADING, "", f"Preview {verdict}. {len(found)} policy violation(s), {mandatory} mandatory.", ""]
    rows = _violation_rows(found)
    table = ["| level | policy | resource | message |", "| --- | --- | --- | --- |"] if rows else []
    end = ["", f"[Job log and artifact]({details_url})"]
    fence_open, fence_close = ["", "<details><summary>Preview output</summary>", "", "```text"], ["```",
                                                                                                  "</details>"]
    fixed = len("\n".join(head + table + end + fence_open + fence_close)) + 2
    # The violations first: drop rows from the end (with a count and the pointer) until they fit in 3/4.
    budget_rows = (limit - fixed) * 3 // 4
    kept: list[str] = []
    used = 0
    for i, row in enumerate(rows):
        more = f"| … | {len(rows) - i} more | | {pointer} |"
        if used + len(row) + 1 + len(more) + 1 > budget_rows:
            kept.append(more)
            break
        kept.append(row)
        used += len(row) + 1
    parts = head + (table + kept if kept else [])
    so_far = len("\n".join(parts + fence_open + fence_close + end)) + 2
    text = _cut(output.replace("```", "'''").rstrip(), max(limit - so_far - 1, 0), pointer)
    body = "\n".join([*parts, *fence_open, text, *fence_close, *end])
    assert len(body) <= limit, len(body)
    return body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, required=True, help="the preview's captured stdout+stderr")
    parser.add_argument("--events", type=Path, help="the preview's --event-log file")
    parser.add_argument("--exit-code", type=int, required=True, help="the preview's exit code")
    parser.add_argument("--details-url", required=True, help="where the whole output is (the job's run URL)")
    args = parser.parse_args(argv)
    output = args.output.read_text(errors="replace") if args.output.is_file() else "(no output captured)"
    sys.stdout.write(comment(output, violations(read_events(args.events)), args.exit_code, args.details_url) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
