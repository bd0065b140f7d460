"""The one QGraphicsItem that draws a whole laid-out graph.

One item instead of one per node: it culls with numpy over the layout's rect
arrays, batches edges into one QPainterPath per frame and boxes into one
`drawRects` per colour, and picks a level of detail from the zoom:

- far (a box is a few pixels): plain coloured rectangles, straight edges, no text;
- mid: rounded boxes with their label, group titles, arrowheads;
- near: a second line with op and output shape, and shapes written on the edges.

Frames painted into the view go through a cached image of the drawn part of the
graph: panning blits it and paints only the newly exposed strips; a zoom, a new
layout or any decoration change (selection, states, overlay...) draws afresh.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from pyqtgraph.functions import arrayToQPath
from PySide6.QtCore import QLineF, QPoint, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QPainter,
    QPainterPath,
    QPen,
    QPolygonF,
    QRegion,
    QTransform,
)
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem

from gui.graph.colors import CATEGORIES
from gui.graph.layout import NODE, SCOPE, STUB, Layout, edge_curves

FAR, MID, NEAR = 0, 1, 2

BACKGROUND = QColor("#fbfcfd")
EDGE = QColor("#9aa6b2")
EDGE_DIM = QColor("#dde2e7")
TEXT = QColor("#1f2933")
TEXT_SOFT = QColor("#5f6b7a")
TEXT_ON_DARK = QColor("#ffffff")
TEXT_SOFT_ON_DARK = QColor("#e3e8ee")
SELECT = QColor("#1a73e8")
MATCH = QColor("#f4b400")
ERROR = QColor("#d93025")
GROUP_FILL = (QColor("#f3f6fa"), QColor("#eaeff6"), QColor("#e2e9f2"))
GROUP_BORDER = QColor("#c5cfdc")

#: `current_nan`: the current node, whose output holds NaN / Inf (outline and mark).
STATE_CODES = {"pending": 1, "executed": 2, "current": 3, "error": 4, "nan": 5, "current_nan": 6}

# attributes the view sets to decorate boxes: assigning one redraws the cached image
_DECORATIONS = frozenset(
    {
        "selected_boxes",
        "match_boxes",
        "highlight",
        "state",
        "breakpoint",
        "overlay",
        "overlay_has",
        "subgraph_boxes",
        "shape_of",
        "shown",
    }
)
LABEL_REACH = 240.0  # scene units an edge label may reach right of its edge
CACHE_MARGIN = 160  # device pixels drawn beyond the view on a pan, so the next few blit

_FILLS = [QColor(c[1]) for c in CATEGORIES]
_BORDERS = [QColor(c[2]) for c in CATEGORIES]


def colormap(t: np.ndarray) -> np.ndarray:
    """Viridis-like colours (n, 3 uint8) for values in [0, 1]."""
    anchors = np.array(
        [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], float
    )
    t = np.clip(np.nan_to_num(t, nan=0.0), 0.0, 1.0) * (len(anchors) - 1)
    i = np.minimum(t.astype(int), len(anchors) - 2)
    f = (t - i)[:, None]
    return (anchors[i] * (1 - f) + anchors[i + 1] * f).astype(np.uint8)


class _EdgeLines:
    """Edges as polylines ready to draw: the segments for culling, their QLineFs (made
    on first use and kept), and the path of all edges and of all arrowheads."""

    def __init__(self, off: np.ndarray, pts: np.ndarray) -> None:
        self.off, self.pts = off, pts
        self.connect = np.ones(len(pts), np.int32)
        if len(off) > 1:
            self.connect[off[1:] - 1] = 0
        # straight segments (x0, y0, x1, y1) and their edge, for culling and drawLines
        inner = np.nonzero(self.connect[:-1])[0] if len(pts) > 1 else np.zeros(0, np.int64)
        self.seg = np.hstack([pts[inner], pts[inner + 1]]) if len(inner) else np.zeros((0, 4))
        self.seg_edge = np.searchsorted(off, inner, side="right") - 1
        self.sx0 = np.minimum(self.seg[:, 0], self.seg[:, 2])
        self.sx1 = np.maximum(self.seg[:, 0], self.seg[:, 2])
        self.sy0 = np.minimum(self.seg[:, 1], self.seg[:, 3])
        self.sy1 = np.maximum(self.seg[:, 1], self.seg[:, 3])
        self.lines: list[QLineF] | None = None
        self.line_made = np.zeros(len(self.seg), bool)
        self.full_path: QPainterPath | None = None
        self.full_arrows: QPainterPath | None = None

    def in_rect(self, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        """Segments whose bounds meet the rectangle."""
        return np.nonzero(
            (self.sx1 >= x0) & (self.sx0 <= x1) & (self.sy1 >= y0) & (self.sy0 <= y1)
        )[0]

    def path(self, idx: np.ndarray) -> QPainterPath:
        """One path through edges `idx`."""
        off = self.off
        lens = off[idx + 1] - off[idx]
        total = int(lens.sum())
        if total == 0:
            return QPainterPath()
        firsts = np.repeat(off[idx] - (np.cumsum(lens) - lens), lens)
        take = firsts + np.arange(total)
        pts = self.pts[take]
        return arrayToQPath(pts[:, 0], pts[:, 1], connect=self.connect[take])

    def subset(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(offsets, points) of edges `idx` alone."""
        off = self.off
        lens = off[idx + 1] - off[idx]
        sub_off = np.zeros(len(idx) + 1, np.int64)
        np.cumsum(lens, out=sub_off[1:])
        take = np.repeat(off[idx] - sub_off[:-1], lens) + np.arange(int(sub_off[-1]))
        return sub_off, self.pts[take]

    def arrows(self, idx: np.ndarray, size: float) -> QPainterPath:
        """Arrowheads of edges `idx` drawn as curves: a curve enters its target
        vertically, whatever the slant of the route's last step."""
        tip = self.pts[self.off[idx + 1] - 1]
        prev = self.pts[self.off[idx + 1] - 2].copy()
        prev[:, 0] = tip[:, 0]
        return arrow_path(tip, prev, size)

    def segment_lines(self, segs: np.ndarray) -> list[QLineF]:
        """The QLineF of each segment number, made once and kept for later frames."""
        lines = self.lines
        if lines is None:
            lines = self.lines = [None] * len(self.seg)  # type: ignore[list-item]
        new = segs[~self.line_made[segs]]
        if len(new):
            for i, row in zip(new.tolist(), self.seg[new].tolist(), strict=True):
                lines[i] = QLineF(*row)
            self.line_made[new] = True
        return [lines[i] for i in segs.tolist()]

    def draw_segments(self, painter: QPainter, segs: np.ndarray, antialias: bool) -> None:
        """Antialiased (few edges): kept QLineFs, half the cost of a path. Else one path,
        built from the arrays: making tens of thousands of QLineFs takes a third of a second.
        """
        if antialias:
            painter.drawLines(self.segment_lines(segs))
            return
        xy = self.seg[segs]
        connect = np.zeros(2 * len(segs), np.int32)
        connect[::2] = 1
        painter.drawPath(arrayToQPath(xy[:, 0::2].ravel(), xy[:, 1::2].ravel(), connect=connect))


def arrow_path(tip: np.ndarray, prev: np.ndarray, size: float) -> QPainterPath:
    """Filled triangles pointing from `prev` to `tip`, one per row."""
    d = tip - prev
    norm = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9)[:, None]
    d = d / norm
    perp = np.column_stack([-d[:, 1], d[:, 0]])
    base = tip - d * size
    a = base + perp * size * 0.45
    b = base - perp * size * 0.45
    pts = np.stack([tip, a, b, tip], axis=1).reshape(-1, 2)
    connect = np.tile(np.array([1, 1, 1, 0], np.int32), len(tip))
    return arrayToQPath(pts[:, 0], pts[:, 1], connect=connect)


def curve_path(off: np.ndarray, pts: np.ndarray) -> QPainterPath:
    """The edges (offsets, route points) drawn as `gui.graph.layout.edge_curves` bends them."""
    c_off, c_pts = edge_curves(off, pts)
    if not len(c_pts):
        return QPainterPath()
    connect = np.ones(len(c_pts), np.int32)
    connect[c_off[1:] - 1] = 0
    return arrayToQPath(c_pts[:, 0], c_pts[:, 1], connect=connect)


def text_colours(fill: QColor) -> tuple[QColor, QColor]:
    """Label and secondary-text colours readable on `fill`: dark on light fills, white
    on dark ones, whichever contrasts more (WCAG relative luminance)."""

    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    lum = (
        0.2126 * channel(fill.redF())
        + 0.7152 * channel(fill.greenF())
        + 0.0722 * channel(fill.blueF())
    )
    # contrast with white: 1.05 / (lum + 0.05); with TEXT (luminance ~0.022): (lum + 0.05) / 0.072
    if (lum + 0.05) ** 2 < 1.05 * 0.072:
        return TEXT_ON_DARK, TEXT_SOFT_ON_DARK
    return TEXT, TEXT_SOFT


class GraphItem(QGraphicsItem):
    """Draws a `Layout`; the view owns interaction and sets the decoration arrays."""

    def __init__(self) -> None:
        super().__init__()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self.layout: Layout | None = None
        self.force_lod: int | None = None  # exports draw everything at full detail
        self.selected_boxes = np.zeros(0, np.int64)
        self.match_boxes = np.zeros(0, np.int64)
        self.highlight: np.ndarray | None = None  # bool per box, None = no highlight
        self.state = np.zeros(0, np.int8)  # STATE_CODES per box
        #: Boxes drawn (None: all). An eager run growing into a graph laid out before
        #: shows only what it has run so far, each box where it will stay.
        self.shown: np.ndarray | None = None
        self.breakpoint = np.zeros(0, bool)
        self.overlay: np.ndarray | None = None  # (n, 3) uint8 colours, or None
        self.overlay_has = np.zeros(0, bool)
        self.subgraph_boxes = np.zeros(0, bool)
        self.shape_of: Callable[[int], str] | None = None  # box -> output shape text
        self._font = QFont()
        self._font.setPixelSize(11)
        self._font_bold = QFont(self._font)
        self._font_bold.setWeight(QFont.Weight.DemiBold)
        self._font_small = QFont()
        self._font_small.setPixelSize(9)
        self._font_title = QFont()
        self._font_title.setPixelSize(11)
        self._font_title.setWeight(QFont.Weight.DemiBold)
        self._fm = QFontMetricsF(self._font_bold)
        self._fm_small = QFontMetricsF(self._font_small)
        self._elided: dict[tuple[int, int], str] = {}
        # edges as routed, straight (drawn from afar); up close they are drawn as curves,
        # made for the edges in view (all of them: once, kept)
        self._straight: _EdgeLines | None = None
        self._curves_full: QPainterPath | None = None
        self._version = 0  # bumped by every change that alters the drawing
        self._cache: QImage | None = None
        self._spare: QImage | None = None  # the previous image, reused on the next pan
        self._cache_rect = QRect()  # what the image holds, in grid pixels (see _paint_cached)
        self._cache_key: tuple[Any, ...] | None = None

    def __setattr__(self, name: str, value: object) -> None:
        if name in _DECORATIONS:
            self.invalidate()
        super().__setattr__(name, value)

    def invalidate(self) -> None:
        """Forget the cached image: the next frame draws everything afresh."""
        self._version = getattr(self, "_version", 0) + 1

    # -- data --------------------------------------------------------------------------

    def set_layout(self, layout: Layout) -> None:
        self.prepareGeometryChange()
        self.layout = layout
        n = len(layout)
        r = layout.rects
        self._x0, self._y0 = r[:, 0], r[:, 1]
        self._x1, self._y1 = r[:, 0] + r[:, 2], r[:, 1] + r[:, 3]
        self._qrects = [QRectF(*row) for row in r.tolist()]
        g = layout.group_rects
        self._gx0, self._gy0 = g[:, 0], g[:, 1]
        self._gx1, self._gy1 = g[:, 0] + g[:, 2], g[:, 1] + g[:, 3]
        pts, off = layout.edge_pts, layout.edge_off
        if len(off) > 1 and len(pts):
            starts = off[:-1]
            self._ex0 = np.minimum.reduceat(pts[:, 0], starts)
            self._ex1 = np.maximum.reduceat(pts[:, 0], starts)
            self._ey0 = np.minimum.reduceat(pts[:, 1], starts)
            self._ey1 = np.maximum.reduceat(pts[:, 1], starts)
        else:
            self._ex0 = self._ex1 = self._ey0 = self._ey1 = np.zeros(0)
        self._straight = _EdgeLines(off, pts)
        self._curves_full = None
        # the edge whose shape is written under each source box: its first one
        src = layout.edge_src
        self._label_edge = np.full(n, -1, np.int64)
        if len(src):
            self._label_edge[src[::-1]] = np.arange(len(src))[::-1]
        self._elided.clear()
        self.invalidate()
        self.selected_boxes = np.zeros(0, np.int64)
        self.match_boxes = np.zeros(0, np.int64)
        self.highlight = None
        self.state = np.zeros(n, np.int8)
        self.shown = None
        self.breakpoint = np.zeros(n, bool)
        self.overlay = None
        self.overlay_has = np.zeros(n, bool)
        self.subgraph_boxes = np.zeros(n, bool)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt override)
        if self.layout is None:
            return QRectF()
        return QRectF(0, 0, self.layout.width, self.layout.height)

    def invalidate_edges(self) -> None:
        if self._straight is not None:
            self._straight.full_path = self._straight.full_arrows = None
        self._curves_full = None
        self.invalidate()

    # -- painting ----------------------------------------------------------------------

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        lay = self.layout
        if lay is None or len(lay) == 0:
            return
        t = painter.worldTransform()
        device = painter.device()
        if (
            widget is None  # an export: draw straight into it
            or self.force_lod is not None
            or not t.isAffine()
            or t.m12() != 0
            or t.m21() != 0
            or t.m11() <= 0
            or t.m22() <= 0
            or device is None
            or device.devicePixelRatioF() != 1.0
        ):
            self._draw(painter, option.exposedRect)
            return
        self._paint_cached(painter, option.exposedRect, t)

    def _paint_cached(self, painter: QPainter, exposed: QRectF, t: QTransform) -> None:
        """Blit the cached image, drawing only the part of `exposed` it does not hold yet.

        The image lives on a grid of device pixels fixed to the scene at this scale (the
        view's integer scroll offset removed), so a pan at the same zoom reuses it pixel
        for pixel and only the strips it uncovers are drawn.
        """
        sx, sy = t.m11(), t.m22()
        ix, iy = math.floor(t.dx()), math.floor(t.dy())
        fx, fy = t.dx() - ix, t.dy() - iy
        key = (sx, sy, round(fx, 4), round(fy, 4), self._version)
        grid = QTransform(sx, 0, 0, sy, fx, fy)  # scene -> grid pixels
        whole = grid.mapRect(self.boundingRect().adjusted(-20, -20, 20, 20)).toAlignedRect()
        need = grid.mapRect(exposed).toAlignedRect().intersected(whole)
        if need.isEmpty():
            return
        if key != self._cache_key or self._cache is None or not self._cache_rect.contains(need):
            old, old_rect = self._cache, self._cache_rect
            if key == self._cache_key and old is not None:  # a pan: keep what is still there
                m = CACHE_MARGIN
                rect = need.adjusted(-m, -m, m, m).intersected(whole)
                todo = QRegion(rect).subtracted(QRegion(old_rect))
            else:
                old, rect = None, need
                todo = QRegion(rect)
            # images sized for a pan, whatever they hold now, so the two buffers take turns
            size = need.size() + QSize(2 * CACHE_MARGIN, 2 * CACHE_MARGIN)
            img = self._image_of_size(size, keep=old)
            if self._cache is not img:
                self._spare = self._cache
            p = QPainter(img)
            if old is not None:
                p.drawImage(
                    old_rect.topLeft() - rect.topLeft(), old, QRect(QPoint(), old_rect.size())
                )
            inverse = grid.inverted()[0]
            for r in todo:
                local = r.translated(-rect.topLeft())
                p.setWorldTransform(QTransform())
                p.setClipRect(local)
                p.fillRect(local, BACKGROUND)
                p.setWorldTransform(grid * QTransform.fromTranslate(-rect.x(), -rect.y()))
                self._draw(p, inverse.mapRect(QRectF(r)))
            p.end()
            self._cache, self._cache_rect, self._cache_key = img, rect, key
        painter.save()
        painter.setWorldTransform(QTransform())
        painter.drawImage(
            need.topLeft() + QPoint(ix, iy),
            self._cache,
            need.translated(-self._cache_rect.topLeft()),
        )
        painter.restore()

    def _image_of_size(self, size: QSize, keep: QImage | None) -> QImage:
        """A cache image of `size`, reusing a buffer: fresh pages cost more than the drawing."""
        for img in (self._spare, self._cache):
            if img is not None and img is not keep and img.size() == size:
                return img
        return QImage(size, QImage.Format.Format_RGB32)

    def _draw(self, painter: QPainter, ex: QRectF) -> None:
        """Draw the part of the graph in `ex` (scene coordinates) with `painter`."""
        lay = self.layout
        assert lay is not None
        scale = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        if self.force_lod is not None:
            lod = self.force_lod
        else:
            lod = FAR if scale < 0.3 else (MID if scale < 0.75 else NEAR)
        # marks, shadows and arrowheads reach a little outside what culls them
        pad = max(24.0, 12.0 / max(scale, 1e-6))
        x0, y0 = ex.left() - pad, ex.top() - pad
        x1, y1 = ex.right() + pad, ex.bottom() + pad
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, lod != FAR or scale > 0.12)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)

        if len(lay.group_rects):
            gv = np.nonzero(
                (self._gx1 >= x0) & (self._gx0 <= x1) & (self._gy1 >= y0) & (self._gy0 <= y1)
            )[0]
            self._paint_groups(painter, gv, lod, scale)
        shown = self.shown
        if len(self._ex0):
            # an edge's shape label runs right of where the edge starts
            lx0 = x0 - (LABEL_REACH if lod == NEAR else 0.0)
            ev = (self._ex1 >= lx0) & (self._ex0 <= x1) & (self._ey1 >= y0) & (self._ey0 <= y1)
            if shown is not None:
                ev &= shown[lay.edge_src] & shown[lay.edge_dst]
            self._paint_edges(painter, np.nonzero(ev)[0], lod, scale, (x0, y0, x1, y1))
        bv = np.nonzero((self._x1 >= x0) & (self._x0 <= x1) & (self._y1 >= y0) & (self._y0 <= y1))[
            0
        ]
        if shown is not None:
            bv = bv[shown[bv]]
        self._paint_boxes(painter, bv, lod, scale)
        self._paint_marks(painter, bv, lod, scale)

    def _paint_groups(self, painter: QPainter, idx: np.ndarray, lod: int, scale: float) -> None:
        lay = self.layout
        assert lay is not None
        pen = QPen(GROUP_BORDER, 1.0)
        pen.setCosmetic(True)
        painter.setPen(pen)
        radius = 8.0
        for i in idx.tolist():
            depth = int(lay.group_depth[i])
            painter.setBrush(GROUP_FILL[min(depth - 1, 2)])
            x, y, w, h = lay.group_rects[i].tolist()
            if lod == FAR:
                painter.drawRect(QRectF(x, y, w, h))
            else:
                painter.drawRoundedRect(QRectF(x, y, w, h), radius, radius)
        if lod == FAR and scale * 11 < 5:
            return
        painter.setFont(self._font_title)
        painter.setPen(TEXT_SOFT)
        for i in idx.tolist():
            x, y, w, _ = lay.group_rects[i].tolist()
            scope = lay.group_scopes[i]
            painter.drawText(
                QRectF(x + 10, y + 4, w - 34, 16),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                self._fm.elidedText(scope[-1], Qt.TextElideMode.ElideRight, max(w - 34, 10)),
            )
            # a collapse handle
            painter.drawText(
                QRectF(x + w - 22, y + 4, 14, 16), Qt.AlignmentFlag.AlignCenter, "\u2212"
            )

    def _paint_edges(
        self,
        painter: QPainter,
        idx: np.ndarray,
        lod: int,
        scale: float,
        area: tuple[float, float, float, float],
    ) -> None:
        lay = self.layout
        assert lay is not None
        if len(idx) == 0:
            return
        n_e = len(lay.edge_off) - 1
        keep = None
        if self.highlight is not None:
            keep = self.highlight[lay.edge_src] & self.highlight[lay.edge_dst]
        pen = QPen(EDGE, 1.0)
        pen.setCosmetic(True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        lines = self._straight
        assert lines is not None
        # antialiased hairlines cost about 3x: only worth it when edges are few
        antialias = len(idx) < 1500
        whole = keep is None and len(idx) == n_e
        dpen = QPen(EDGE_DIM, 1.0)
        dpen.setCosmetic(True)
        if lod == FAR:
            if whole:
                painter.setPen(pen)
                painter.setRenderHint(QPainter.RenderHint.Antialiasing, antialias)
                if lines.full_path is None:
                    lines.full_path = lines.path(idx)
                painter.drawPath(lines.full_path)
                return
            # only the segments in view (of the edges asked for)
            segs = lines.in_rect(*area)
            if self.shown is not None:
                asked = np.zeros(n_e, bool)
                asked[idx] = True
                segs = segs[asked[lines.seg_edge[segs]]]
            if keep is not None:
                lit = keep[lines.seg_edge[segs]]
                if (~lit).any():
                    painter.setPen(dpen)
                    lines.draw_segments(painter, segs[~lit], antialias)
                segs = segs[lit]
            painter.setPen(pen)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, antialias)
            if len(segs):
                lines.draw_segments(painter, segs, antialias)
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, antialias)
        if whole:
            if self._curves_full is None:
                self._curves_full = curve_path(lay.edge_off, lay.edge_pts)
            painter.setPen(pen)
            painter.drawPath(self._curves_full)
        else:
            if keep is not None:
                dim = idx[~keep[idx]]
                if len(dim):
                    painter.setPen(dpen)
                    painter.drawPath(curve_path(*lines.subset(dim)))
                idx = idx[keep[idx]]
            painter.setPen(pen)
            if len(idx):
                painter.drawPath(curve_path(*lines.subset(idx)))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(EDGE)
        if whole:
            if lines.full_arrows is None:
                lines.full_arrows = lines.arrows(idx, 7.0)
            painter.drawPath(lines.full_arrows)
        elif len(idx):
            painter.drawPath(lines.arrows(idx, 7.0))
        if lod == NEAR and len(idx) < 3000:
            painter.setFont(self._font_small)
            painter.setPen(TEXT_SOFT)
            # one label per source box: its edges all carry the same output
            for src in np.unique(lay.edge_src[idx]).tolist():
                text = lay.edge_label(int(self._label_edge[src]))
                if text:
                    r = self._qrects[src]
                    painter.drawText(QPointF(r.center().x() + 6, r.bottom() + 11), text)

    def _paint_boxes(self, painter: QPainter, idx: np.ndarray, lod: int, scale: float) -> None:
        lay = self.layout
        assert lay is not None
        if len(idx) == 0:
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, lod != FAR)
        cats = lay.cats[idx]
        qrects = self._qrects
        hl = self.highlight
        state = self.state[idx]
        dimmed = (state == 1) | (hl is not None and ~hl[idx])
        if lod == FAR:
            painter.setPen(Qt.PenStyle.NoPen)
            if self.overlay is not None:
                self._paint_overlay_far(painter, idx, dimmed)
                return
            for c in np.unique(cats).tolist():
                sel = idx[cats == c]
                d = dimmed[cats == c]
                for group, opacity in ((sel[~d], 1.0), (sel[d], 0.3)):
                    if len(group):
                        painter.setOpacity(opacity)
                        painter.setBrush(_BORDERS[c] if scale < 0.12 else _FILLS[c])
                        painter.drawRects([qrects[i] for i in group.tolist()])
            painter.setOpacity(1.0)
            if scale >= 0.12:
                painter.setBrush(Qt.BrushStyle.NoBrush)
                for c in np.unique(cats).tolist():
                    pen = QPen(_BORDERS[c], 1.0)
                    pen.setCosmetic(True)
                    painter.setPen(pen)
                    painter.drawRects([qrects[i] for i in idx[cats == c].tolist()])
            return
        kinds = lay.kinds[idx]
        labels = lay.labels
        ov = self.overlay
        for b, c, k, dm in zip(
            idx.tolist(), cats.tolist(), kinds.tolist(), dimmed.tolist(), strict=True
        ):
            r = qrects[b]
            painter.setOpacity(0.3 if dm else 1.0)
            if ov is not None:
                fill = QColor(*ov[b].tolist()) if self.overlay_has[b] else QColor("#eeeeee")
            else:
                fill = _FILLS[c]
            if self.state[b] == 4:
                fill = QColor("#f9c9c4")
            painter.setPen(QPen(_BORDERS[c], 1.0))
            painter.setBrush(fill)
            if k == SCOPE:
                painter.drawRoundedRect(r.translated(4, 4), 6, 6)
                painter.drawRoundedRect(r, 6, 6)
            elif k == STUB:
                painter.drawRoundedRect(r, r.height() / 2, r.height() / 2)
            else:
                painter.drawRoundedRect(r, 5, 5)
            text_color, soft_color = text_colours(fill)
            painter.setPen(text_color)
            if k == NODE and lod == NEAR:
                self._draw_two_lines(
                    painter,
                    r,
                    6,
                    (3, 16, self._elide(b, labels[b], r.width() - 12, 0)),
                    (19, 13, self._elide(b, self._detail(b), r.width() - 12, 1)),
                    soft_color,
                )
            elif k == NODE:
                painter.setFont(self._font_bold)
                painter.drawText(
                    r,
                    Qt.AlignmentFlag.AlignCenter,
                    self._elide(b, labels[b], r.width() - 10, 0),
                )
            elif k == SCOPE:
                members = int(lay.members[b])
                self._draw_two_lines(
                    painter,
                    r,
                    8,
                    (4, 18, self._elide(b, labels[b], r.width() - 16, 0)),
                    (23, 14, f"{members:,} node{'' if members == 1 else 's'}  \u002b"),
                    soft_color,
                )
            else:
                painter.setFont(self._font_small)
                painter.setPen(soft_color)
                painter.drawText(
                    r, Qt.AlignmentFlag.AlignCenter, self._elide(b, labels[b], r.width() - 8, 2)
                )
        painter.setOpacity(1.0)

    def _paint_overlay_far(self, painter: QPainter, idx: np.ndarray, dimmed: np.ndarray) -> None:
        ov = self.overlay
        assert ov is not None
        has = self.overlay_has[idx]
        painter.setBrush(QColor("#e4e4e4"))
        painter.drawRects([self._qrects[i] for i in idx[~has].tolist()])
        sel = idx[has]
        if len(sel) == 0:
            return
        # quantise to 32 colours so the boxes go out in a few batched calls
        codes = ov[sel].astype(np.int64) // 8
        key = codes[:, 0] * 1024 + codes[:, 1] * 32 + codes[:, 2]
        for k in np.unique(key).tolist():
            group = sel[key == k]
            c = ov[group[0]]
            painter.setBrush(QColor(int(c[0]), int(c[1]), int(c[2])))
            painter.drawRects([self._qrects[i] for i in group.tolist()])

    def _paint_marks(self, painter: QPainter, idx: np.ndarray, lod: int, scale: float) -> None:
        """Selection, search matches, debugger states and breakpoints, on top."""
        if len(idx) == 0:
            return
        pad = 3.0 / max(scale, 0.02) if lod == FAR else 3.0
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setOpacity(1.0)
        vis = np.zeros(len(self.state), bool)
        vis[idx] = True
        for boxes, color, width in (
            (self.match_boxes, MATCH, 2.5),
            (self.selected_boxes, SELECT, 3.0),
        ):
            boxes = boxes[vis[boxes]] if len(boxes) else boxes
            if len(boxes):
                pen = QPen(color, width)
                pen.setCosmetic(True)
                painter.setPen(pen)
                for b in boxes.tolist():
                    painter.drawRoundedRect(self._qrects[b].adjusted(-pad, -pad, pad, pad), 7, 7)
        st = self.state[idx]
        cur = idx[(st == 3) | (st == 6)]
        if len(cur):
            pen = QPen(QColor("#ff8f00"), 3.0)
            pen.setCosmetic(True)
            painter.setPen(pen)
            for b in cur.tolist():
                painter.drawRoundedRect(self._qrects[b].adjusted(-2, -2, 2, 2), 6, 6)
        err = idx[st == 4]
        if len(err):
            pen = QPen(ERROR, 2.0)
            pen.setCosmetic(True)
            painter.setPen(pen)
            for b in err.tolist():
                painter.drawRoundedRect(self._qrects[b], 5, 5)
        nan = idx[(st == 5) | (st == 6)]
        if len(nan):
            painter.setPen(QPen(QColor("#8a5a00"), 1.0))
            painter.setBrush(QColor("#fbbc04"))
            for b in nan.tolist():
                r = self._qrects[b]
                x, y = r.right() - 4, r.top() - 6
                painter.drawPolygon(
                    QPolygonF([QPointF(x, y), QPointF(x + 8, y + 13), QPointF(x - 8, y + 13)])
                )
        bp = idx[self.breakpoint[idx]]
        if len(bp):
            painter.setPen(QPen(QColor("white"), 1.5))
            painter.setBrush(ERROR)
            for b in bp.tolist():
                r = self._qrects[b]
                painter.drawEllipse(QPointF(r.left(), r.center().y()), 6.0, 6.0)
        sub = idx[self.subgraph_boxes[idx]]
        if len(sub) and lod != FAR:
            painter.setPen(QPen(QColor("#c4473d"), 1.0))
            painter.setBrush(QColor("white"))
            painter.setFont(self._font_small)
            for b in sub.tolist():
                r = self._qrects[b]
                badge = QRectF(r.right() - 14, r.bottom() - 10, 18, 14)
                painter.drawRoundedRect(badge, 4, 4)
                painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, "\u2197")

    # -- text helpers --------------------------------------------------------------------

    def _draw_two_lines(
        self,
        painter: QPainter,
        r: QRectF,
        pad: float,
        title: tuple[float, float, str],
        detail: tuple[float, float, str],
        soft_color: QColor,
    ) -> None:
        """A box's two centred lines, `pad` in from its sides: the title in bold, then the
        detail small in `soft_color`; each line is (offset from the box's top, height, text)."""
        x, width, center = r.x() + pad, r.width() - 2 * pad, Qt.AlignmentFlag.AlignCenter
        dy, height, text = title
        painter.setFont(self._font_bold)
        painter.drawText(QRectF(x, r.y() + dy, width, height), center, text)
        dy, height, text = detail
        painter.setFont(self._font_small)
        painter.setPen(soft_color)
        painter.drawText(QRectF(x, r.y() + dy, width, height), center, text)

    def _detail(self, b: int) -> str:
        lay = self.layout
        assert lay is not None
        op = lay.ops[b]
        shape = self.shape_of(b) if self.shape_of is not None else ""
        return f"{op}  {shape}" if shape else op

    def _elide(self, b: int, text: str, width: float, slot: int) -> str:
        key = (b, slot)
        hit = self._elided.get(key)
        if hit is None:
            fm = self._fm if slot == 0 else self._fm_small
            hit = self._elided[key] = fm.elidedText(text, Qt.TextElideMode.ElideRight, width)
        return hit
