"""The Node panel: everything known about the selected node, with links to its neighbours."""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QTextBrowser, QVBoxLayout, QWidget

from gui.panels.formatting import compact_count
from inspectors.graph import Graph, shape_text

#: Lines of code shown above and below the node's source line.
CONTEXT_LINES = 3


def find_node(graph: Graph | None, node_id: str) -> tuple[Graph, dict[str, Any]] | None:
    """The graph holding `node_id` (the top graph or any nested one) and its attributes."""
    if graph is None:
        return None
    if node_id in graph:
        return graph, graph.node(node_id)
    for _, sub in graph.all_subgraphs():
        if node_id in sub:
            return sub, sub.node(node_id)
    return None


def element_count(shape: Any) -> int | None:
    """How many numbers a tensor of `shape` holds; None when a dimension is unknown."""
    if shape is None or any(d is None for d in shape):
        return None
    return math.prod(int(d) for d in shape)


def human_count(n: int) -> str:
    """`1,234` below ten thousand, else `12.3 K`, `4.56 M`."""
    return compact_count(n, plain_below=10_000)


def split_source(source: str) -> tuple[str, int | None]:
    """`path/file.py:12` -> (`path/file.py`, 12); a source without a line gives None."""
    path, sep, line = source.rpartition(":")
    if sep and line.strip().isdigit():
        return path, int(line)
    return source, None


def source_excerpt(source: str, context: int = CONTEXT_LINES) -> list[tuple[int, str]] | None:
    """The numbered lines around `file:line`, or None when the file cannot be read."""
    path, line = split_source(source)
    if line is None:
        return None
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    if not 1 <= line <= len(lines):
        return None
    first = max(1, line - context)
    last = min(len(lines), line + context)
    excerpt = [(n, lines[n - 1].rstrip().expandtabs(4)) for n in range(first, last + 1)]
    indent = min((len(t) - len(t.lstrip()) for _, t in excerpt if t.strip()), default=0)
    return [(n, t[indent:]) for n, t in excerpt]  # dedented: the panel is narrow


class NodePanel(QWidget):
    """Shows one node: what it is, what flows in and out, its parameters and its code.

    Links to other nodes emit `node_requested(node_id)`; the subgraph link emits
    `subgraph_requested(node_id)`. The window turns them into view navigation.
    """

    node_requested = Signal(str)
    subgraph_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)
        self.browser.setOpenExternalLinks(False)
        self.browser.anchorClicked.connect(self._on_link)
        self.browser.setFrameShape(QTextBrowser.Shape.NoFrame)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.browser)
        self._graph: Graph | None = None
        self._node_id: str | None = None
        self._links: list[str] = []  # link targets by index: ids may hold URL-unsafe text
        self.show_node(None, None)

    # -- public -------------------------------------------------------------------

    def node_id(self) -> str | None:
        return self._node_id

    def text(self) -> str:
        """The panel's content as plain text (what a reader sees, without layout)."""
        return self.browser.toPlainText()

    def clear(self) -> None:
        self.show_node(None, None)

    def show_node(self, graph: Graph | None, node_id: str | None) -> None:
        """Fill the panel for `node_id` of `graph` (or its nested graphs); None empties it."""
        self._graph = graph
        found = find_node(graph, node_id) if node_id else None
        if found is None:
            self._node_id = None
            hint = (
                "Open a model to begin." if graph is None else "Select a node to see its details."
            )
            self.browser.setHtml(self._page(f"<p style='color:{self._muted()}'>{hint}</p>"))
            return
        self._node_id = node_id
        self._links = []
        owner, attrs = found
        self.browser.setHtml(self._page(self._node_html(owner, node_id, attrs)))

    # -- rendering ----------------------------------------------------------------

    def _muted(self) -> str:
        return self.palette().color(QPalette.ColorRole.PlaceholderText).name()

    def _page(self, body: str) -> str:
        pal = self.palette()
        text = pal.color(QPalette.ColorRole.Text).name()
        link = pal.color(QPalette.ColorRole.Link).name()
        return (
            "<html><head><style>"
            f"body {{ color: {text}; }}"
            f"a {{ color: {link}; text-decoration: none; }}"
            "h2 { margin: 0 0 2px 0; font-size: 15pt; }"
            "td { padding: 1px 8px 1px 0; vertical-align: top; }"
            "td.k { color: " + self._muted() + "; }"
            ".mono { font-family: monospace; }"
            "</style></head><body>" + body + "</body></html>"
        )

    def _node_html(self, graph: Graph, node_id: str, a: dict[str, Any]) -> str:
        esc = html.escape
        muted = self._muted()
        parts: list[str] = []
        label = str(a.get("label") or node_id)
        parts.append(f"<h2>{esc(label)}</h2>")
        chips = f"<span class='mono'><b>{esc(str(a.get('op', '')))}</b></span>"
        chips += f" &nbsp;<span style='color:{muted}'>{esc(str(a.get('kind', '')))}</span>"
        parts.append(f"<p style='margin:0'>{chips}</p>")

        rows = [("id", f"<span class='mono'>{esc(node_id)}</span>")]
        scope = a.get("scope") or ()
        rows.append(("scope", esc(" › ".join(scope)) if scope else f"<i>{'(top level)'}</i>"))
        if a.get("framework"):
            rows.append(("framework", esc(str(a["framework"]))))
        if node_id in graph.order:
            rows.append(("order", f"{graph.order.index(node_id) + 1} of {len(graph.order)}"))
        parts.append(self._table(rows, key_class=True))

        # Inputs: one row per incoming edge, by input slot.
        ins = sorted(graph.nx.in_edges(node_id, data=True), key=lambda e: e[2]["dst_index"])
        parts.append(self._section(f"Inputs ({len(ins)})"))
        if ins:
            table = []
            for src, _, d in ins:
                src_label = graph.node(src).get("label") or src
                table.append(
                    (
                        f"<span style='color:{muted}'>{d['dst_index']}</span>",
                        f"<a href='node:{self._link(src)}'>{esc(str(src_label))}</a>",
                        f"<span class='mono'>{esc(_shape(d.get('shape')))}</span>",
                        esc(str(d.get("dtype") or "")),
                    )
                )
            parts.append(self._table(table))
        else:
            parts.append(f"<p style='color:{muted}'>none</p>")

        # Outputs: shape and dtype per output, with the nodes that consume it.
        outputs = list(a.get("outputs") or ())
        parts.append(self._section(f"Outputs ({len(outputs)})"))
        consumers: dict[int, list[str]] = {}
        for _, dst, d in graph.nx.out_edges(node_id, data=True):
            consumers.setdefault(d["src_index"], [])
            if dst not in consumers[d["src_index"]]:
                consumers[d["src_index"]].append(dst)
        if outputs or consumers:
            table = []
            for i in range(max(len(outputs), max(consumers, default=-1) + 1)):
                shape, dtype = outputs[i] if i < len(outputs) else (None, None)
                users = consumers.get(i, [])
                links = ", ".join(
                    f"<a href='node:{self._link(u)}'>{esc(str(graph.node(u).get('label') or u))}</a>"
                    for u in users[:8]
                )
                if len(users) > 8:
                    links += f" <span style='color:{muted}'>+{len(users) - 8} more</span>"
                count = element_count(shape)
                size = (
                    f"<span style='color:{muted}'>{human_count(count)}&nbsp;"
                    f"value{'' if count == 1 else 's'}</span>"
                    if count
                    else ""
                )
                table.append(
                    (
                        f"<span style='color:{muted}'>{i}</span>",
                        f"<span class='mono'>{esc(_shape(shape))}</span>",
                        esc(str(dtype or "")),
                        size,
                    )
                )
                if links:  # the consumers on a line of their own, so a narrow panel keeps them
                    table.append(("", f"→ {links}"))
            parts.append(self._table(table, nowrap=(1, 2, 3)))
        else:
            parts.append(f"<p style='color:{muted}'>none</p>")

        params = list(a.get("params") or ())
        if params:
            total = sum(int(p[3]) for p in params if len(p) > 3 and p[3] is not None)
            parts.append(self._section(f"Parameters ({human_count(total)})"))
            table = []
            for p in params:
                name, shape = p[0], p[1] if len(p) > 1 else None
                dtype = p[2] if len(p) > 2 else ""
                numel = p[3] if len(p) > 3 else element_count(shape)
                table.append(
                    (
                        f"<span class='mono'>{esc(str(name))}</span>",
                        f"<span class='mono'>{esc(_shape(shape))}</span>",
                        esc(str(dtype or "")),
                        f"<div align='right'>{human_count(int(numel)) if numel else ''}</div>",
                    )
                )
            table.append(("<b>total</b>", "", "", f"<div align='right'><b>{total:,}</b></div>"))
            parts.append(self._table(table))

        sub = a.get("subgraph")
        if sub:
            inner = graph.subgraphs.get(sub)
            size = f" · {len(inner)} nodes" if inner is not None else ""
            parts.append(self._section("Subgraph"))
            parts.append(
                f"<p><a href='subgraph:{self._link(node_id)}'>Open {esc(str(sub))}</a>"
                f"<span style='color:{muted}'>{size}</span></p>"
            )

        source = a.get("source")
        parts.append(self._section("Source"))
        if source:
            parts.append(self._source_html(str(source)))
        else:
            parts.append(f"<p style='color:{muted}'>not recorded for this node</p>")
        return "\n".join(parts)

    def _source_html(self, source: str) -> str:
        esc = html.escape
        path, line = split_source(source)
        name = Path(path).name + (f":{line}" if line else "")
        head = f"<p class='mono' title='{esc(source)}' style='margin:0'>{esc(name)}</p>"
        excerpt = source_excerpt(source)
        if not excerpt:
            return head
        pal = self.palette()
        base = pal.color(QPalette.ColorRole.AlternateBase).name()
        mark = pal.color(QPalette.ColorRole.Highlight)
        mark.setAlpha(255)
        mark_bg = mark.lighter(170).name() if mark.lightness() < 128 else mark.darker(150).name()
        rows = []
        for n, text in excerpt:
            bg = f" bgcolor='{mark_bg}'" if n == line else ""
            weight = "font-weight:bold;" if n == line else ""
            rows.append(
                f"<tr{bg}><td width='34' align='right' nowrap style='color:{self._muted()}'>{n}&nbsp;</td>"
                f"<td nowrap style='{weight}white-space:pre'>{esc(text) or ' '}</td></tr>"
            )
        return (
            head
            + f"<table class='mono' width='100%' cellspacing='0' cellpadding='1' bgcolor='{base}'"
            + " style='font-family:monospace; margin-top:4px'>"
            + "".join(rows)
            + "</table>"
        )

    def _section(self, title: str) -> str:
        return (
            f"<p style='margin-top:14px; margin-bottom:3px; font-size:8pt; font-weight:bold;"
            f" color:{self._muted()}'>{html.escape(title.upper())}</p>"
        )

    def _table(
        self, rows: list[tuple[str, ...]], key_class: bool = False, nowrap: tuple[int, ...] = ()
    ) -> str:
        """Rows of cells; the columns in `nowrap` keep their text on one line."""
        out = ["<table cellspacing='0' cellpadding='1'>"]
        width = max((len(row) for row in rows), default=0)
        for row in rows:
            cells = []
            for i, cell in enumerate(row):
                cls = " class='k'" if key_class and i == 0 else ""
                style = " style='white-space:nowrap'" if i in nowrap and len(row) > 2 else ""
                span = ""
                if i == len(row) - 1 and len(row) < width:  # a short row: its last cell spans
                    span = f" colspan='{width - len(row) + 1}'"
                cells.append(f"<td{cls}{style}{span}>{cell}</td>")
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</table>")
        return "".join(out)

    # -- links --------------------------------------------------------------------

    def _link(self, node_id: str) -> int:
        self._links.append(node_id)
        return len(self._links) - 1

    def link_targets(self) -> list[str]:
        """The node ids the current page links to, in page order."""
        return list(self._links)

    def _on_link(self, url: QUrl) -> None:
        text = url.toString()
        kind, _, index = text.partition(":")
        if not index.isdigit() or int(index) >= len(self._links):
            return
        target = self._links[int(index)]
        if kind == "node":
            self.node_requested.emit(target)
        elif kind == "subgraph":
            self.subgraph_requested.emit(target)


def _shape(shape: Any) -> str:
    return shape_text(tuple(shape)) if shape is not None else "?"
