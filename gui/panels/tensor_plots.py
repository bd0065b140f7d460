"""The Tensor panel's pyqtgraph views: histogram, heatmap with colour bar, line plot.

Each view draws arrays it is handed; choosing what to draw (slicing, striding, tiling)
lives in `tensor_slices`. All share one light style that matches the graph view.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QFont

from inspectors.tensors import TensorSummary

BACKGROUND = "#ffffff"
AXIS = "#8a96a6"
AXIS_TEXT = "#5f6b7a"
NEGATIVE_BAR = "#6f95e0"
POSITIVE_BAR = "#e07a70"
MIXED_BAR = "#a9b3c1"
LINE = "#1a73e8"
#: Blue-white-red, centred at zero.
DIVERGING = "CET-D1"


def style_plot(plot: pg.PlotWidget) -> None:
    """Light background, quiet axes, small tick labels, no mouse menu."""
    plot.setBackground(BACKGROUND)
    plot.setMenuEnabled(False)
    item = plot.getPlotItem()
    font = QFont()
    font.setPointSizeF(max(6.5, font.pointSizeF() * 0.8))
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setPen(pg.mkPen(AXIS))
        axis.setTextPen(pg.mkPen(AXIS_TEXT))
        axis.setStyle(tickFont=font, tickLength=-4)
    item.getAxis("left").setWidth(38)
    item.layout.setContentsMargins(2, 4, 6, 2)


class HistogramPlot(pg.PlotWidget):
    """The summary's histogram as bars, coloured by sign, with a line at zero.

    `bars` is the BarGraphItem (its `opts['height']` are the counts).
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        style_plot(self)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.bars = pg.BarGraphItem(x0=[], x1=[], height=[], pen=None, brush=MIXED_BAR)
        self.addItem(self.bars)
        self.zero_line = pg.InfiniteLine(0, angle=90, pen=pg.mkPen("#33404d", width=1))
        self.addItem(self.zero_line)
        self.zero_line.setZValue(5)

    def set_summary(self, summary: TensorSummary | None) -> None:
        counts = list(summary.hist_counts) if summary is not None else []
        edges = list(summary.hist_edges) if summary is not None else []
        if not counts or len(edges) != len(counts) + 1:
            self.bars.setOpts(x0=[], x1=[], height=[], brushes=None)
            self.zero_line.setVisible(False)
            self.setXRange(-1, 1, padding=0.02)  # not the range of the tensor shown before
            self.setYRange(0, 1, padding=0.05)
            return
        x0 = np.asarray(edges[:-1], dtype=np.float64)
        x1 = np.asarray(edges[1:], dtype=np.float64)
        brushes = [
            pg.mkBrush(NEGATIVE_BAR if b <= 0 else POSITIVE_BAR if a >= 0 else MIXED_BAR)
            for a, b in zip(x0, x1, strict=True)
        ]
        gap = (x1 - x0) * 0.06
        self.bars.setOpts(
            x0=x0 + gap, x1=x1 - gap, height=np.asarray(counts, dtype=np.float64), brushes=brushes
        )
        self.zero_line.setVisible(bool(edges[0] <= 0 <= edges[-1]))
        self.setXRange(edges[0], edges[-1], padding=0.02)
        self.setYRange(0, max(max(counts), 1), padding=0.05)


class HeatmapPlot(pg.PlotWidget):
    """A 2-D image on a diverging colour map with a colour bar; non-finite pixels marked on top.

    `image` is the ImageItem (row-major: `image.image` is the drawn array as given),
    `overlay` the RGBA ImageItem marking NaN / inf pixels, `colorbar` the ColorBarItem.
    Signals report the image pixel under the mouse: `pixel_hovered(row, col)`,
    `pixel_left()`, `pixel_double_clicked(row, col)`.
    """

    pixel_hovered = Signal(int, int)
    pixel_left = Signal()
    pixel_double_clicked = Signal(int, int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        style_plot(self)
        self.hideButtons()
        item = self.getPlotItem()
        item.invertY(True)
        self.colormap = pg.colormap.get(DIVERGING)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(self.colormap)
        self.addItem(self.image)
        self.overlay = pg.ImageItem(axisOrder="row-major")
        self.overlay.setZValue(10)
        self.addItem(self.overlay)
        self.colorbar = pg.ColorBarItem(
            values=(-1, 1), colorMap=self.colormap, width=10, interactive=False
        )
        self.colorbar.setImageItem(self.image, insert_in=item)
        self.colorbar.getAxis("right").setStyle(tickFont=item.getAxis("left").style["tickFont"])
        self.colorbar.getAxis("right").setTextPen(pg.mkPen(AXIS_TEXT))
        self._shape: tuple[int, int] = (0, 0)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.scene().sigMouseClicked.connect(self._on_mouse_clicked)

    def set_image(
        self,
        image: np.ndarray,
        levels: tuple[float, float],
        overlay: np.ndarray | None = None,
        keep_view: bool = False,
    ) -> None:
        """Draw `image` (float32, 2-D) with colour `levels`; `overlay` is RGBA or None."""
        same_shape = image.shape == self._shape
        self.image.setImage(image, autoLevels=False, levels=levels)
        self.colorbar.setLevels(levels)
        if overlay is None:
            self.overlay.clear()
            self.overlay.setVisible(False)
        else:
            self.overlay.setImage(overlay, autoLevels=False, levels=(0, 255))
            self.overlay.setVisible(True)
        self._shape = (int(image.shape[0]), int(image.shape[1]))
        h, w = self._shape
        ratio = max(h, w) / max(1, min(h, w))
        self.setAspectLocked(ratio <= 4, ratio=1)  # square pixels unless the slice is a strip
        if not (keep_view and same_shape):
            self.getPlotItem().getViewBox().setRange(
                xRange=(0, max(w, 1)), yRange=(0, max(h, 1)), padding=0.01
            )

    def clear_image(self) -> None:
        self.image.clear()
        self.overlay.clear()
        self._shape = (0, 0)

    def _pixel(self, scene_pos: QPointF) -> tuple[int, int] | None:
        vb = self.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(scene_pos):
            return None
        p = vb.mapSceneToView(scene_pos)
        row, col = math.floor(p.y()), math.floor(p.x())
        h, w = self._shape
        if 0 <= row < h and 0 <= col < w:
            return row, col
        return None

    def _on_mouse_moved(self, pos: QPointF) -> None:
        pixel = self._pixel(pos)
        if pixel is None:
            self.pixel_left.emit()
        else:
            self.pixel_hovered.emit(*pixel)

    def _on_mouse_clicked(self, event) -> None:
        if event.double() and event.button() == Qt.MouseButton.LeftButton:
            pixel = self._pixel(event.scenePos())
            if pixel is not None:
                self.pixel_double_clicked.emit(*pixel)


class LinePlot(pg.PlotWidget):
    """A 1-D array against its index; NaN breaks the line and is ticked in red below it.

    `curve` is the PlotDataItem, `nonfinite_marks` the ScatterPlotItem of NaN/inf positions.
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        style_plot(self)
        self.hideButtons()
        self.showGrid(x=False, y=True, alpha=0.15)
        self.zero_line = pg.InfiniteLine(0, angle=0, pen=pg.mkPen("#c5cfdc", width=1))
        self.addItem(self.zero_line)
        self.curve = pg.PlotDataItem(pen=pg.mkPen(LINE, width=1.3), connect="finite")
        self.addItem(self.curve)
        self.nonfinite_marks = pg.ScatterPlotItem(size=7, symbol="t1", pen=None)
        self.nonfinite_marks.setZValue(10)
        self.addItem(self.nonfinite_marks)

    def set_line(self, x: np.ndarray, y: np.ndarray) -> None:
        show_points = len(x) <= 64
        self.curve.setData(
            x,
            y,
            symbol="o" if show_points else None,
            symbolSize=4,
            symbolPen=None,
            symbolBrush=LINE,
        )
        bad = ~np.isfinite(y)
        if bad.any():
            finite = y[~bad]
            base = float(finite.min()) if finite.size else 0.0
            where = np.flatnonzero(bad)[:2000]
            colours = [
                pg.mkBrush("#d93025" if math.isnan(float(y[i])) else "#e8710a") for i in where
            ]
            self.nonfinite_marks.setData(
                x=x[where], y=np.full(len(where), base), brush=colours, symbol="t1"
            )
        else:
            self.nonfinite_marks.setData(x=[], y=[])
        self.autoRange(padding=0.04)


def swatch(colour: tuple[int, int, int, int] | str) -> str:
    """A small coloured square as rich text, for legends."""
    name = QColor(*colour[:3]).name() if isinstance(colour, tuple) else colour
    return f"<span style='color:{name}; font-size:11pt'>■</span>"
