"""The HTML report's content and markup: real tables, captions, scopes, status in words."""

from __future__ import annotations

from datetime import timedelta

from analyzer.planning.timeline import plan, plan_assuming_update
from analyzer.visual.graphdot import fleet_picture, render_svg, to_dot
from analyzer.visual.report import human_span, recent_rebuilds, relative, render_report
from tests.support.fleet_states import DAY, HOUR, NODE, PY, T0, Fleet, digest
from tests.support.htmlpage import Page

AT = T0 + 9 * DAY


def fleet() -> Fleet:
    f = (Fleet()
         .managed("base-python", PY)
         .managed("ml-runtime", "base-python")
         .managed("payments-api", PY, "base-python", delay="240h")
         .managed("web-frontend", NODE))
    f.seen(PY, "d0", T0 - 30 * DAY).seen(NODE, "n0", T0 - 30 * DAY)
    for name in ("base-python", "ml-runtime", "payments-api"):
        f.built(name, T0 - 20 * DAY, py="d0")
    f.built("web-frontend", T0 - 20 * DAY, node="n0")
    f.seen(PY, "d1", T0).seen(PY, "d2", T0 + 5 * DAY).seen(NODE, "n1", T0 + 4 * DAY)
    return f.built("web-frontend", T0 + 8 * DAY, outcome="failed", node="n0")


def page(with_svg: bool = True) -> tuple[Page, str]:
    states = fleet().states
    timeline = plan(states, AT)
    svg = render_svg(to_dot(fleet_picture(states, timeline), legend=False)) if with_svg else None
    html = render_report(states, timeline, svg)
    return Page(html), html


def test_image_table_has_a_row_per_image_with_status_in_words() -> None:
    doc, _ = page()
    table = doc.table("images-table")
    assert table.caption.startswith("Managed images")
    assert [c.text for c in table.header] == ["Image", "Bases", "Last built", "Built on", "Newest vetted digest",
                                              "Build age", "Status", "Next rebuild"]
    assert all(c.tag == "th" and c.attrs.get("scope") == "col" for c in table.header)
    rows = {r.attrs["data-image"]: r for r in table.body}
    assert list(rows) == ["base-python", "web-frontend", "ml-runtime", "payments-api"]
    for row in rows.values():
        assert row.cells[0].tag == "th" and row.cells[0].attrs.get("scope") == "row"
    base = rows["base-python"].texts
    assert base[0] == "base-python delay 168h"
    assert base[2] == "2026-10-12 00:00"
    assert base[3] == f"{digest('d0')[7:19]} python:3.12-slim"
    assert base[4] == f"{digest('d1')[7:19]} python:3.12-slim"
    assert base[5] == "29d"
    assert base[6].startswith("● eligible") and "⚠ stale since 2026-11-08 00:00 (2d ago)" in base[6]
    assert base[7] == "2026-11-10 00:00 now, step 1"
    assert rows["web-frontend"].texts[6].startswith("✗ failed")
    assert rows["payments-api"].texts[4] == f"{digest('d0')[7:19]} python:3.12-slim"
    assert rows["payments-api"].texts[6].startswith("… held")
    assert rows["ml-runtime"].texts[4] == "via base-python"


def test_timeline_tables() -> None:
    doc, _ = page()
    gates = doc.table("gates-table")
    assert all(c.attrs.get("scope") == "col" for c in gates.header)
    python_rows = [r.texts[1:] for r in gates.body if r.texts[0] == PY]
    assert python_rows == [
        ["168h", "base-python", digest("d1")[7:19], "2026-11-01 00:00", "2026-11-08 00:00", "✓ eligible"],
        ["168h", "base-python", digest("d2")[7:19], "2026-11-06 00:00", "2026-11-13 00:00",
         "… held, clears in 3d"],
        ["240h", "payments-api", digest("d0")[7:19], "2026-10-02 00:00", "2026-10-12 00:00", "✓ eligible"],
        ["240h", "payments-api", digest("d1")[7:19], "2026-11-01 00:00", "2026-11-11 00:00",
         "… held, clears in 1d"],
        ["240h", "payments-api", digest("d2")[7:19], "2026-11-06 00:00", "2026-11-16 00:00",
         "… held, clears in 6d"],
    ]
    cascade = doc.table("cascade-table")
    assert [(r.texts[0], r.texts[2]) for r in cascade.body][:3] == [
        ("1", "base-python"), ("2", "ml-runtime"), ("3", "payments-api")]


def test_recent_rebuilds_newest_first_with_outcome_text() -> None:
    doc, _ = page()
    rows = doc.table("rebuilds-table").body
    assert rows[0].texts[:3] == ["2026-11-09 00:00", "web-frontend", "✗ failed"]
    assert rows[0].texts[5] == "build failed: exit status 1"
    assert len(rows) == 5
    assert all(r.texts[2] == "✓ succeeded" for r in rows[1:])


def test_graph_is_inline_and_page_is_self_contained() -> None:
    doc, html = page()
    assert "node_base_python" in doc.ids and doc.ids["node_base_python"] == "g"
    assert "<link" not in html and "<script" not in html and "http://" not in html.split("<svg", 1)[0]
    assert html.startswith("<!DOCTYPE html>") and '<html lang="en">' in html
    assert html.count("<caption>") == 4


def test_without_dot_the_page_says_so() -> None:
    doc, _ = page(with_svg=False)
    assert "needs Graphviz" in doc.text and "node_base_python" not in doc.ids


def test_what_if_is_announced() -> None:
    states = fleet().states
    html = render_report(states, plan_assuming_update(states, NODE, AT), None)
    assert "what-if: docker.io/library/node:20-alpine assumed to move at 2026-11-10 00:00" in Page(html).text


def test_spans_and_relative_times() -> None:
    assert human_span(timedelta(days=3, hours=4, minutes=5)) == "3d 4h"
    assert human_span(5 * HOUR + timedelta(minutes=10)) == "5h 10m"
    assert human_span(timedelta(seconds=59)) == "0m"
    assert relative(AT + DAY, AT) == "in 1d" and relative(AT - 2 * HOUR, AT) == "2h ago" and relative(AT, AT) == "now"
    assert relative(None, AT) == ""


def test_recent_rebuilds_limit() -> None:
    assert len(recent_rebuilds(fleet().states, limit=2)) == 2


def test_unknown_is_counted_and_never_called_nothing_to_rebuild() -> None:
    """No digest seen yet (a fresh install without registry access): the page says so, not 'nothing to do'."""
    states = (Fleet().managed("base-python", PY).managed("web-frontend", NODE)).states
    doc = Page(render_report(states, plan(states, AT), None))
    assert "2 ? unknown (no tracked base, or no digest seen yet)" in doc.text
    assert "Nothing is known yet" in doc.text and "Nothing to rebuild" not in doc.text
    known, _ = page()
    assert "Nothing is known yet" not in known.text
