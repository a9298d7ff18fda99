"""The static HTML status page (pure: states, plan and the graph's SVG in; one HTML document out).

One self-contained file (styles inline, the SVG inline) so it works from file://, CI artifacts and any
static host. Jinja2 autoescapes everything except the SVG Graphviz produced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from analyzer.planning.export import iso
from analyzer.planning.timeline import STATUS_TEXT, Plan
from analyzer.state.model import ImageState, RebuildRecord
from analyzer.visual.graphdot import LEGEND, SYMBOL, inline_svg, short_digest, short_ref

RECENT_REBUILDS = 20


@dataclass(frozen=True)
class RebuildRow:
    image: str
    record: RebuildRecord


def human_span(delta: timedelta) -> str:
    """`3d 4h`, `5h 10m`, `12m`, `0m`: precise enough for a soak timeline, short enough for a table."""
    minutes = int(abs(delta).total_seconds()) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {mins}m" if mins else f"{hours}h"
    return f"{mins}m"


def relative(t: datetime | None, now: datetime) -> str:
    if t is None:
        return ""
    if t == now:
        return "now"
    return f"in {human_span(t - now)}" if t > now else f"{human_span(now - t)} ago"


def when(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M") if t is not None else "—"


def recent_rebuilds(states: Mapping[str, ImageState], limit: int = RECENT_REBUILDS) -> list[RebuildRow]:
    rows = [RebuildRow(state.name or state.ref, record) for state in states.values() for record in state.rebuilds]
    return sorted(rows, key=lambda r: (r.record.at, r.image), reverse=True)[:limit]


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("analyzer.visual", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    env.filters.update(short=short_digest, short_ref=short_ref, when=when, iso=iso)
    return env


def render_report(states: Mapping[str, ImageState], plan: Plan, svg: str | None,
                  title: str = "Image Factory — fleet status") -> str:
    """The whole page; `svg` is Graphviz output (None when `dot` is unavailable: the page says so)."""
    return _environment().get_template("report.html.j2").render(
        title=title, plan=plan, summary=plan.summary(), svg=Markup(inline_svg(svg)) if svg else None,
        legend=LEGEND, symbol=SYMBOL, status_text=STATUS_TEXT, rebuilds=recent_rebuilds(states),
        relative=lambda t: relative(t, plan.at), span=human_span,
    )
