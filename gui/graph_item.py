"""The one QGraphicsItem that draws a whole laid-out graph.

One item instead of one per node: it culls with numpy over the layout's rect
arrays, batches edges into one QPainterPath per frame and boxes into one
`drawRects` per colour, and picks a level of detail from the zoom:

- far (a box is a few pixels): plain coloured rectangles, straight edges, no text;
- mid: rounded boxes with their label, group titles, arrowheads;
- near: a second line with op and output shape, and shapes written on the edges.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from pyqtgraph.functions import arrayToQPath
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem

from .colors import CATEGORIES
from .layout import NODE, SCOPE, STUB, Layout

FAR, MID, NEAR = 0, 1, 2

BACKGROUND = QColor("#fbfcfd")
EDGE = QColor("#9aa6b2")
EDGE_DIM = QColor("#dde2e7")
TEXT = QColor("#1f2933")
TEXT_SOFT = QColor("#5f6b7a")
SELECT = QColor("#1a73e8")
MATCH = QColor("#f4b400")
ERROR = QColor("#d93025")
GROUP_FILL = (QColor("#f3f6fa"), QColor("#eaeff6"), QColor("#e2e9f2"))
GROUP_BORDER = QColor("#c5cfdc")

STATE_CODES = {"pending": 1, "executed": 2, "current": 3, "error": 4, "nan": 5}

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
        self._full_edges: QPainterPath | None = None
        self._full_arrows: QPainterPath | None = None

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
        self._connect = np.ones(len(pts), np.int32)
        if len(off) > 1:
            self._connect[off[1:] - 1] = 0
        self._elided.clear()
        self._full_edges = None
        self._full_arrows = None
        self.selected_boxes = np.zeros(0, np.int64)
        self.match_boxes = np.zeros(0, np.int64)
        self.highlight = None
        self.state = np.zeros(n, np.int8)
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
        self._full_edges = None
        self._full_arrows = None

    # -- painting ----------------------------------------------------------------------

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        lay = self.layout
        if lay is None or len(lay) == 0:
            return
        scale = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        if self.force_lod is not None:
            lod = self.force_lod
        else:
            lod = FAR if scale < 0.3 else (MID if scale < 0.75 else NEAR)
        ex = option.exposedRect
        x0, y0, x1, y1 = ex.left(), ex.top(), ex.right(), ex.bottom()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, lod != FAR or scale > 0.12)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)

        if len(lay.group_rects):
            gv = np.nonzero(
                (self._gx1 >= x0) & (self._gx0 <= x1) & (self._gy1 >= y0) & (self._gy0 <= y1)
            )[0]
            self._paint_groups(painter, gv, lod, scale)
        if len(self._ex0):
            ev = (self._ex1 >= x0) & (self._ex0 <= x1) & (self._ey1 >= y0) & (self._ey0 <= y1)
            self._paint_edges(painter, np.nonzero(ev)[0], lod, scale)
        bv = np.nonzero((self._x1 >= x0) & (self._x0 <= x1) & (self._y1 >= y0) & (self._y0 <= y1))[
            0
        ]
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

    def _edge_path(self, idx: np.ndarray) -> QPainterPath:
        lay = self.layout
        assert lay is not None
        off = lay.edge_off
        lens = off[idx + 1] - off[idx]
        total = int(lens.sum())
        if total == 0:
            return QPainterPath()
        firsts = np.repeat(off[idx] - (np.cumsum(lens) - lens), lens)
        take = firsts + np.arange(total)
        pts = lay.edge_pts[take]
        return arrayToQPath(pts[:, 0], pts[:, 1], connect=self._connect[take])

    def _arrow_path(self, idx: np.ndarray, size: float) -> QPainterPath:
        lay = self.layout
        assert lay is not None
        off = lay.edge_off
        tip = lay.edge_pts[off[idx + 1] - 1]
        prev = lay.edge_pts[off[idx + 1] - 2]
        d = tip - prev
        norm = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9)[:, None]
        d = d / norm
        perp = np.column_stack([-d[:, 1], d[:, 0]])
        base = tip - d * size
        a = base + perp * size * 0.45
        b = base - perp * size * 0.45
        pts = np.stack([tip, a, b, tip], axis=1).reshape(-1, 2)
        connect = np.tile(np.array([1, 1, 1, 0], np.int32), len(idx))
        return arrayToQPath(pts[:, 0], pts[:, 1], connect=connect)

    def _paint_edges(self, painter: QPainter, idx: np.ndarray, lod: int, scale: float) -> None:
        lay = self.layout
        assert lay is not None
        if len(idx) == 0:
            return
        n_e = len(lay.edge_off) - 1
        dim = None
        if self.highlight is not None:
            keep = self.highlight[lay.edge_src[idx]] & self.highlight[lay.edge_dst[idx]]
            dim, idx = idx[~keep], idx[keep]
        pen = QPen(EDGE, 1.0)
        pen.setCosmetic(True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if dim is not None and len(dim):
            dpen = QPen(EDGE_DIM, 1.0)
            dpen.setCosmetic(True)
            painter.setPen(dpen)
            painter.drawPath(self._edge_path(dim))
        painter.setPen(pen)
        # antialiased hairlines cost about 3x: only worth it when edges are few
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, len(idx) < 1500)
        whole = dim is None and len(idx) == n_e
        if whole:
            if self._full_edges is None:
                self._full_edges = self._edge_path(idx)
            painter.drawPath(self._full_edges)
        else:
            painter.drawPath(self._edge_path(idx))
        if lod != FAR:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(EDGE)
            if whole:
                if self._full_arrows is None:
                    self._full_arrows = self._arrow_path(idx, 7.0)
                painter.drawPath(self._full_arrows)
            elif len(idx):
                painter.drawPath(self._arrow_path(idx, 7.0))
        if lod == NEAR and len(idx) < 3000:
            painter.setFont(self._font_small)
            painter.setPen(TEXT_SOFT)
            # one label per source box: its edges all carry the same output
            _, first = np.unique(lay.edge_src[idx], return_index=True)
            once = idx[first]
            for e in once.tolist():
                text = lay.edge_label(e)
                if text:
                    r = self._qrects[int(lay.edge_src[e])]
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
            text_color = TEXT
            if ov is not None and self.overlay_has[b] and int(ov[b].sum()) < 300:
                text_color = QColor("white")
            painter.setPen(text_color)
            if k == NODE:
                painter.setFont(self._font_bold)
                if lod == NEAR:
                    top = QRectF(r.x() + 6, r.y() + 3, r.width() - 12, 16)
                    painter.drawText(
                        top,
                        Qt.AlignmentFlag.AlignCenter,
                        self._elide(b, labels[b], r.width() - 12, 0),
                    )
                    painter.setFont(self._font_small)
                    painter.setPen(TEXT_SOFT if ov is None else text_color)
                    bottom = QRectF(r.x() + 6, r.y() + 19, r.width() - 12, 13)
                    painter.drawText(
                        bottom,
                        Qt.AlignmentFlag.AlignCenter,
                        self._elide(b, self._detail(b), r.width() - 12, 1),
                    )
                else:
                    painter.drawText(
                        r,
                        Qt.AlignmentFlag.AlignCenter,
                        self._elide(b, labels[b], r.width() - 10, 0),
                    )
            elif k == SCOPE:
                painter.setFont(self._font_bold)
                top = QRectF(r.x() + 8, r.y() + 4, r.width() - 16, 18)
                painter.drawText(
                    top, Qt.AlignmentFlag.AlignCenter, self._elide(b, labels[b], r.width() - 16, 0)
                )
                painter.setFont(self._font_small)
                painter.setPen(TEXT_SOFT)
                bottom = QRectF(r.x() + 8, r.y() + 23, r.width() - 16, 14)
                painter.drawText(
                    bottom, Qt.AlignmentFlag.AlignCenter, f"{int(lay.members[b]):,} nodes  \u002b"
                )
            else:
                painter.setFont(self._font_small)
                painter.setPen(TEXT_SOFT)
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
        cur = idx[st == 3]
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
        nan = idx[st == 5]
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
