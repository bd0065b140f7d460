"""A small overview of the whole graph in a corner of the view; click or drag to jump."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QWidget

from gui.graph.colors import CATEGORIES
from gui.graph.layout import Layout

_BORDERS = [QColor(c[2]) for c in CATEGORIES]


class Minimap(QWidget):
    """Draws a cached picture of the layout and the part of it the view shows."""

    jumped = Signal(QPointF)  # scene point to centre on

    def __init__(self, parent: QWidget | None = None, size: tuple[int, int] = (200, 150)) -> None:
        super().__init__(parent)
        self.setFixedSize(*size)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self._image: QImage | None = None
        self._scale = 1.0
        self._offset = QPointF()
        self._scene = QRectF()
        self._visible = QRectF()
        self.visible_rect_of: Callable[[], QRectF] | None = None
        self._layout: Layout | None = None
        self._colours: np.ndarray | None = None  # (n, 3) uint8 per box, or category colours

    def set_size(self, width: int, height: int) -> None:
        """Resize, drawing the overview again at the new size."""
        if (width, height) == (self.width(), self.height()):
            return
        self.setFixedSize(width, height)
        self.set_layout(self._layout)

    def set_colours(self, colours: np.ndarray | None) -> None:
        """Colour each box by a row of RGB (a value overlay), or by category with None."""
        self._colours = colours
        self.set_layout(self._layout)

    def set_layout(self, layout: Layout | None) -> None:
        self._image = None
        self._layout = layout
        if layout is None or len(layout) == 0:
            self.update()
            return
        w, h = self.width() - 8, self.height() - 8
        scale = min(w / max(layout.width, 1.0), h / max(layout.height, 1.0))
        self._scale = scale
        self._scene = QRectF(0, 0, layout.width, layout.height)
        self._offset = QPointF(
            4 + (w - layout.width * scale) / 2, 4 + (h - layout.height * scale) / 2
        )
        img = QImage(self.width(), self.height(), QImage.Format.Format_ARGB32_Premultiplied)
        img.fill(QColor(255, 255, 255, 235))
        p = QPainter(img)
        p.translate(self._offset)
        p.scale(scale, scale)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor("#e9eef5"))
        g = layout.group_rects
        depth = layout.group_depth
        if len(g):
            p.drawRects([QRectF(*row) for row in g[depth == 1].tolist()])
        r = layout.rects.copy()
        # boxes at least a pixel high, so a huge graph still shows its shape
        r[:, 2:] = np.maximum(r[:, 2:], 1.2 / max(scale, 1e-6))
        colours = self._colours
        if colours is not None and len(colours) == len(layout):
            # a few dozen shades at most: one brush per shade
            shades, which = np.unique(colours // 8 * 8, axis=0, return_inverse=True)
            which = which.reshape(-1)
            for i, shade in enumerate(shades.tolist()):
                p.setBrush(QColor(*shade))
                p.drawRects([QRectF(*row) for row in r[which == i].tolist()])
        else:
            for c in np.unique(layout.cats).tolist():
                p.setBrush(_BORDERS[c])
                p.drawRects([QRectF(*row) for row in r[layout.cats == c].tolist()])
        p.end()
        self._image = img
        self.update()

    def set_visible_rect(self, rect: QRectF) -> None:
        self._visible = rect
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.setPen(QPen(QColor("#c5cfdc"), 1))
        p.setBrush(QColor(255, 255, 255, 235))
        p.drawRect(self.rect().adjusted(0, 0, -1, -1))
        if self._image is None:
            return
        p.drawImage(0, 0, self._image)
        if not self._visible.isEmpty():
            r = QRectF(
                self._offset.x() + self._visible.x() * self._scale,
                self._offset.y() + self._visible.y() * self._scale,
                self._visible.width() * self._scale,
                self._visible.height() * self._scale,
            ).intersected(QRectF(self.rect()).adjusted(1, 1, -2, -2))
            p.setPen(QPen(QColor("#1a73e8"), 1.5))
            p.setBrush(QColor(26, 115, 232, 30))
            p.drawRect(r)

    def _jump(self, pos: QPointF) -> None:
        if self._image is None or self._scale <= 0:
            return
        x = (pos.x() - self._offset.x()) / self._scale
        y = (pos.y() - self._offset.y()) / self._scale
        self.jumped.emit(QPointF(x, y))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._jump(event.position())
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._jump(event.position())
        event.accept()
