"""`graphstep render`: the app's drawing of a graph, written to SVG or PNG with no window.

For papers, slides and CI. The picture is the app's own: a `GraphView` that is never
shown lays the graph out (huge graphs collapsed as the app opens them, or to a depth
asked for), colours it as View > Colour nodes by does, and draws it and its legend
with the code File > Export uses. The legend sits beside the graph, or above it when
that wastes less room, instead of over its corner as in the window.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEventLoop, QRectF, QSize
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication

from gui.graph.graph_item import BACKGROUND
from gui.graph.graph_view import GraphView
from inspectors.graph import Graph

#: What `--colour-by` offers, as the window's overlay modes (`gui.shell.main_window.OVERLAYS`);
#: the run-time modes need a run and are left to the app.
COLOUR_BY = {"category": "none", "params": "params", "size": "size"}
#: The files `render` writes, by extension.
SUFFIXES = (".svg", ".png")
#: A PNG past this many pixels (a 256 MiB image) is refused: ask for SVG or a smaller one.
MAX_PIXELS = 8000 * 8000
#: Nor may one side pass this many pixels (QPainter's raster coordinates stay exact).
MAX_SIDE = 32000
#: The narrowest PNG `--width` may ask for: the legend alone is 170 pixels wide.
MIN_WIDTH = 200
#: Room around the graph and the legend, in pixels at the legend's scale.
PAD = 12.0


class RenderError(Exception):
    """A render that cannot be done as asked (the message says why, for the user)."""


@dataclass
class Rendered:
    """What `render` wrote."""

    path: Path
    nodes: int  # boxes drawn, a collapsed scope counting one (stubs not counted)
    scopes: int  # of those, collapsed scopes
    width: int  # pixels (PNG) or the width the SVG declares
    height: int
    notes: list[str]  # how a huge graph was collapsed, a colour mode with no values


def headless_app() -> QApplication:
    """The running QApplication, or a new one that needs no display: offscreen when no
    display is set, or when Qt's xcb plugin would fail to load (a render opens no window)."""
    app = QApplication.instance()
    if isinstance(app, QApplication):
        return app
    if not os.environ.get("QT_QPA_PLATFORM") and sys.platform not in ("darwin", "win32"):
        from gui.shell import platform_check

        no_display = not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")
        if no_display or (platform_check.uses_xcb() and platform_check.missing_libraries()):
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
    return QApplication([sys.argv[0] if sys.argv else "graphstep"])


def check_request(path: Path, *, colour_by: str = "category", width: int | None = None) -> None:
    """Raise RenderError for a request that cannot be drawn, before any model is loaded."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise RenderError(f"Cannot render to {path}: the output must end in .svg or .png.")
    if colour_by not in COLOUR_BY:
        raise RenderError(f"Colour by {colour_by!r}: use one of {', '.join(COLOUR_BY)}.")
    if width is not None and width < (MIN_WIDTH if suffix == ".png" else 1):
        least = f"a PNG needs at least {MIN_WIDTH}" if suffix == ".png" else "use 1 or more"
        raise RenderError(f"--width {width}: {least} pixels.")
    if not path.parent.is_dir():
        raise RenderError(f"Cannot write {path}: folder {path.parent} does not exist.")


def render(
    graph: Graph,
    path: str | Path,
    *,
    depth: int | None = None,
    colour_by: str = "category",
    width: int | None = None,
) -> Rendered:
    """Draw `graph` as the app does and write it to `path` (`.svg` or `.png`).

    `depth` collapses every scope deeper than it (View > Collapse to depth); without
    it a huge graph is collapsed as the app opens it. `width` is the PNG's width in
    pixels, or the width an SVG declares (its drawing scales to fit).
    """
    path = Path(path)
    check_request(path, colour_by=colour_by, width=width)
    suffix = path.suffix.lower()
    headless_app()
    view = GraphView()  # never shown; its size only matters to the (unused) first view
    view.resize(1200, 900)
    notes: list[str] = []
    view.note.connect(notes.append)
    _laid_out(view, lambda: view.set_graph(graph))
    if depth is not None:
        notes.clear()  # the opening collapse no longer applies
        _laid_out(view, lambda: view.collapse_to_depth(depth))
    lay = view.current_layout()
    failed = [n for n in notes if n.startswith("Layout failed")]
    if failed or lay is None:
        raise RenderError(failed[0] if failed else "The graph could not be laid out.")
    notes += _colour(view, graph, colour_by)
    size = _write_svg(view, path, width) if suffix == ".svg" else _write_png(view, path, width)
    return Rendered(
        path=path,
        nodes=lay.visible_count,
        scopes=len(lay.scope_box),
        width=size.width(),
        height=size.height(),
        notes=notes,
    )


def _laid_out(view: GraphView, start: Callable[[], None]) -> None:
    """Start a (re)layout of `view` and wait for it: the view lays out on a worker
    thread and reports through a queued signal, which only an event loop delivers."""
    loop = QEventLoop()
    view.layout_finished.connect(loop.quit)
    try:
        start()
        if view.is_busy():
            loop.exec()
    finally:
        view.layout_finished.disconnect(loop.quit)


def _colour(view: GraphView, graph: Graph, colour_by: str) -> list[str]:
    """Colour the boxes as the window's "Colour by" does; notes when no node has a value."""
    mode = COLOUR_BY[colour_by]
    if mode == "none":
        return []
    from gui.shell.main_window import OVERLAYS, output_sizes, parameter_counts

    values = parameter_counts(graph) if mode == "params" else output_sizes(graph)
    view.set_overlay(values, title=OVERLAYS[mode], log=True)
    if not values:
        return [f"No node of this graph has a {OVERLAYS[mode].lower()}: coloured by op category"]
    return []


@dataclass
class _Placement:
    """Where the graph and the legend go in the picture, in its units."""

    graph: QRectF
    legend_scale: float
    size: tuple[float, float]


def _legend_beside(view: GraphView) -> bool:
    """Whether the legend goes left of the graph (else above it): whichever leaves less
    empty room. Scaling the graph or the legend does not change the answer."""
    lay = view.current_layout()
    assert lay is not None
    legend = view.legend_rect()
    if legend.isEmpty():
        return False
    return (legend.width() + PAD) * lay.height <= (legend.height() + PAD) * lay.width


def _place(view: GraphView, scale: float, legend_scale: float, beside: bool) -> _Placement:
    """The graph at `scale`, the legend at `legend_scale` in the top-left corner."""
    lay = view.current_layout()
    assert lay is not None
    legend = view.legend_rect()
    pad = PAD * legend_scale
    lw, lh = legend.width() * legend_scale, legend.height() * legend_scale
    gw, gh = lay.width * scale, lay.height * scale
    if beside:
        graph = QRectF(2 * pad + lw, pad, gw, gh)
        size = (graph.right() + pad, max(gh, lh) + 2 * pad)
    else:
        top = pad + lh + (pad if lh else 0.0)
        graph = QRectF(pad, top, gw, gh)
        size = (max(gw, lw) + 2 * pad, top + gh + pad)
    return _Placement(graph, legend_scale, size)


def _legend_scale(scale: float) -> float:
    """The legend grows with the graph up to 2x (its text as large as the labels), and
    never shrinks: a small picture keeps a readable legend, as the window does."""
    return min(2.0, max(1.0, scale))


def _fit_width(view: GraphView, width: int) -> _Placement:
    """The placement whose picture is exactly `width` wide."""
    lay = view.current_layout()
    assert lay is not None
    legend = view.legend_rect()
    gw = max(lay.width, 1.0)
    beside = _legend_beside(view)
    fixed = (3 * PAD + legend.width()) if beside else 2 * PAD  # per unit of legend scale
    if beside and width - fixed <= 0:
        beside, fixed = False, 2 * PAD
    k = 1.0
    for _ in range(8):  # the legend's scale follows the graph's, which it squeezes
        k = _legend_scale((width - fixed * k) / gw)
    k = min(k, width / (legend.width() + 2 * PAD)) if not legend.isEmpty() else k
    scale = max(1e-3, (width - fixed * k) / gw)
    place = _place(view, scale, k, beside)
    place.size = (float(width), place.size[1])
    return place


def _paint(view: GraphView, painter: QPainter, place: _Placement, full_detail: bool) -> None:
    painter.fillRect(QRectF(0, 0, *place.size), BACKGROUND)
    view.render_graph(painter, place.graph, full_detail=full_detail)
    legend = view.legend_rect()
    pad = PAD * place.legend_scale
    painter.save()
    painter.translate(pad, pad)
    painter.scale(place.legend_scale, place.legend_scale)
    painter.translate(-legend.x(), -legend.y())
    view.paint_legend(painter)
    painter.restore()


def _writable(path: Path) -> None:
    try:
        with open(path, "wb"):
            pass
    except OSError as exc:
        raise RenderError(f"Cannot write {path}: {exc.strerror or exc}.") from exc


def _write_png(view: GraphView, path: Path, width: int | None) -> QSize:
    lay = view.current_layout()
    assert lay is not None
    if width is None:  # as File > Export: up to 2x, at most 8000 pixels a side
        scale = min(2.0, 8000 / max(lay.width, lay.height, 1.0))
        place = _place(view, scale, _legend_scale(scale), _legend_beside(view))
    else:
        place = _fit_width(view, width)
    w, h = round(place.size[0]), round(place.size[1])
    if h > MAX_SIDE or w * h > MAX_PIXELS:
        raise RenderError(
            f"A {w}x{h} PNG is too large to draw: pass a smaller --width, collapse with "
            "--depth, or write .svg."
        )
    _writable(path)
    img = QImage(QSize(w, h), QImage.Format.Format_ARGB32)
    img.fill(BACKGROUND)
    painter = QPainter(img)
    painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
    try:
        _paint(view, painter, place, full_detail=False)
    finally:
        painter.end()
    if not img.save(str(path), "PNG"):  # type: ignore[call-overload]
        raise RenderError(f"Cannot write {path}.")
    return img.size()


def _write_svg(view: GraphView, path: Path, width: int | None) -> QSize:
    """The graph at scale 1 in the SVG's own units, every label drawn; `width` sets the
    size the file declares, the height in proportion."""
    from PySide6.QtSvg import QSvgGenerator

    place = _place(view, 1.0, 1.0, _legend_beside(view))
    w, h = place.size
    declared = QSize(round(w), round(h))
    if width is not None:
        declared = QSize(width, max(1, round(h * width / w)))
    _writable(path)
    gen = QSvgGenerator()
    gen.setFileName(str(path))
    gen.setSize(declared)
    gen.setResolution(96)  # the size declared in mm is then that many CSS pixels
    gen.setViewBox(QRectF(0, 0, w, h))
    graph = view.graph()
    gen.setTitle(graph.name if graph is not None and graph.name else "graph")
    gen.setDescription("Drawn by Graphstep")
    painter = QPainter(gen)
    try:
        _paint(view, painter, place, full_detail=True)
    finally:
        painter.end()
    return declared
