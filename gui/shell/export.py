"""Saving what the window shows: the view as a picture (PNG / SVG) and the captured graph
as data (JSON / GraphML / DOT), with the file dialogs that ask where."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFileDialog, QWidget

from gui.graph.graph_view import GraphView
from gui.panels.log_panel import LogPanel
from inspectors.graph import Graph

VIEW_FILTERS = {"png": "PNG image (*.png)", "svg": "SVG drawing (*.svg)"}
GRAPH_FILTERS = {
    "json": "JSON (*.json)",
    "graphml": "GraphML (*.graphml)",
    "dot": "Graphviz DOT (*.dot *.gv)",
}
GRAPH_FORMATS = (("json", "JSON"), ("graphml", "GraphML"), ("dot", "DOT"))
GRAPH_SUFFIXES = {".graphml": "graphml", ".dot": "dot", ".gv": "dot"}


class Exporter:
    """Exports for a window: `captured()` gives the open model's (name, graph), or None;
    `on_error(title, message)` shows a failed save (it is always logged)."""

    def __init__(
        self,
        parent: QWidget,
        view: GraphView,
        log: LogPanel,
        shown_graph: Callable[[], tuple[str, Graph] | None],
        on_error: Callable[[str, str], Any] | None = None,
    ) -> None:
        self.parent = parent
        self.view = view
        self.log = log
        self.shown_graph = shown_graph  # () -> (model name, its graph) or None
        self.on_error = on_error

    def export_view(self, path: str | Path) -> Path:
        """The view as PNG or SVG, by `path`'s suffix."""
        path = Path(path)
        if path.suffix.lower() == ".svg":
            self.view.export_svg(str(path))
        else:
            self.view.export_png(str(path))
        self.log.info(f"Saved the view as {path}")
        return path

    def export_graph(self, path: str | Path, fmt: str | None = None) -> Path:
        """The captured graph as JSON, GraphML or DOT (by `fmt`, else `path`'s suffix)."""
        captured = self.shown_graph()
        if captured is None:
            raise RuntimeError("no model is open")
        path = Path(path)
        fmt = fmt or GRAPH_SUFFIXES.get(path.suffix.lower(), "json")
        path.write_text(captured[1].export(fmt), encoding="utf-8")
        self.log.info(f"Saved the graph as {fmt.upper()} to {path}")
        return path

    def default_name(self, suffix: str) -> str:
        captured = self.shown_graph()
        name = captured[0] if captured else "graph"
        return str(Path.home() / f"{name}.{suffix}")

    def view_dialog(self, fmt: str) -> None:
        path = self._ask("Export view", fmt, VIEW_FILTERS[fmt])
        if path:
            self._guarded(lambda: self.export_view(path))

    def graph_dialog(self, fmt: str) -> None:
        path = self._ask("Export graph", fmt, GRAPH_FILTERS[fmt])
        if path:
            self._guarded(lambda: self.export_graph(path, fmt))

    def _ask(self, title: str, fmt: str, filters: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self.parent, title, self.default_name(fmt), filters)
        return str(path)

    def _guarded(self, job: Callable[[], Any]) -> None:
        try:
            job()
        except OSError as exc:
            self.log.error(f"Could not save: {exc}")
            if self.on_error is not None:
                self.on_error("Could not save", str(exc))


__all__ = ["GRAPH_FORMATS", "Exporter"]
