"""Read tables, ids and text out of an HTML document (ours, or the DOM a browser dumped), stdlib only."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Cell:
    tag: str
    attrs: dict[str, str | None]
    text: str = ""


@dataclass
class Row:
    attrs: dict[str, str | None]
    section: str
    cells: list[Cell] = field(default_factory=list)

    @property
    def texts(self) -> list[str]:
        return [" ".join(c.text.split()) for c in self.cells]


@dataclass
class Table:
    id: str | None
    caption: str = ""
    rows: list[Row] = field(default_factory=list)

    @property
    def header(self) -> list[Cell]:
        return [c for r in self.rows if r.section == "thead" for c in r.cells]

    @property
    def body(self) -> list[Row]:
        return [r for r in self.rows if r.section == "tbody"]


class Page(HTMLParser):
    """Tables (with caption, thead/tbody rows and cells), every element id, and the visible text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[Table] = []
        self.ids: dict[str, str] = {}
        self.text_parts: list[str] = []
        self._stack: list[Table] = []
        self._section = "tbody"
        self._cell: Cell | None = None
        self._in_caption = False
        self._skip = 0
        self.feed(html)
        self.close()

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.text_parts).split())

    def table(self, table_id: str) -> Table:
        return next(t for t in self.tables if t.id == table_id)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids[str(values["id"])] = tag
        if tag in ("style", "script"):
            self._skip += 1
        elif tag == "table":
            self._stack.append(Table(id=values.get("id")))
            self.tables.append(self._stack[-1])
        elif tag in ("thead", "tbody") and self._stack:
            self._section = tag
        elif tag == "tr" and self._stack:
            self._stack[-1].rows.append(Row(attrs=values, section=self._section))
        elif tag in ("th", "td") and self._stack and self._stack[-1].rows:
            self._cell = Cell(tag=tag, attrs=values)
            self._stack[-1].rows[-1].cells.append(self._cell)
        elif tag == "caption":
            self._in_caption = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip -= 1
        elif tag == "table" and self._stack:
            self._stack.pop()
            self._section = "tbody"
        elif tag in ("th", "td"):
            self._cell = None
        elif tag == "caption":
            self._in_caption = False

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.text_parts.append(data)
        if self._cell is not None:
            self._cell.text += data
        if self._in_caption and self._stack:
            self._stack[-1].caption += data
