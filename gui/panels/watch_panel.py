"""The Watch panel: pinned nodes, their latest summaries, and a statistic over runs.

A watch remembers its last summary in the current run and, for every finished run,
the summary it ended with; the plotted history is the chosen statistic of those, so
switching the statistic redraws every past run too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QSplitter,
    QToolButton,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.panels.delete_keys import DeleteKeys
from gui.panels.trees import list_tree
from inspectors.tensors import TensorSummary

#: Statistics the history can follow: name -> text in the combo.
STATISTICS = {
    "mean": "mean",
    "std": "std",
    "min": "min",
    "max": "max",
    "absmax": "abs max",
    "nan": "NaN count",
}
COLUMNS = ("Node", "Shape", "Min", "Max", "Mean", "Std", "NaN / Inf")
NODE, SHAPE, MIN, MAX, MEAN, STD, HEALTH = range(len(COLUMNS))
#: Line colours for the history plot, one per watch in turn.
LINE_COLOURS = ("#3a6fc4", "#d07b2c", "#2e7d3c", "#b9557a", "#7b5cc0", "#2b9488", "#a39358")
BAD_BACKGROUND = "#f8d7d5"
BAD_TEXT = "#b3261e"


def number(value: float) -> str:
    """Compact text for a statistic: 4 significant digits, `nan` and `inf` spelled out."""
    if math.isnan(value):
        return "–"
    return f"{value:.4g}"


def swatch(colour: str) -> QIcon:
    """A short thick line in the plot colour of a watch: the table's legend."""
    pixmap = QPixmap(16, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(QColor(colour), 3)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    painter.drawLine(2, 6, 14, 6)
    painter.end()
    return QIcon(pixmap)


def shape_text(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


@dataclass
class Watch:
    """One pinned node: its summary this run and the summaries runs ended with."""

    node_id: str
    label: str = ""
    summary: TensorSummary | None = None  # the latest shown (may be from an earlier run)
    stale: bool = True  # `summary` is not from the current run
    runs: list[tuple[int, TensorSummary | None]] = field(default_factory=list)


def statistic(summary: TensorSummary | None, name: str) -> float:
    """`name` of a summary; NaN when there is no tensor to measure."""
    if summary is None or not summary.is_tensor:
        return math.nan
    return summary.stat(name)


class WatchPanel(QWidget):
    """Pinned nodes in a table, updated as they step, and a plot of one statistic over runs.

    Rows are greyed while stale (a new run began and the node has not run yet).
    Double-clicking a row emits `node_activated(node_id)`; adding or removing a watch
    emits `changed`, so the window can save the watch list.
    """

    node_activated = Signal(str)
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._watches: dict[str, Watch] = {}
        self._items: dict[str, QTreeWidgetItem] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._colours: dict[str, str] = {}  # node id -> its line colour
        self._statistic = "absmax"
        self._run = 1  # the number of the run in progress

        self.tree = list_tree(COLUMNS)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(NODE, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
            self.tree.headerItem().setTextAlignment(column, Qt.AlignmentFlag.AlignRight)
        self.tree.itemDoubleClicked.connect(
            lambda item, _c: self.node_activated.emit(item.data(NODE, Qt.ItemDataRole.UserRole))
        )
        self.tree.currentItemChanged.connect(lambda *_: self._redraw_plot())
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        DeleteKeys(self.tree, self.remove_selected)

        self.statistic_combo = QComboBox()
        for name, text in STATISTICS.items():
            self.statistic_combo.addItem(text, name)
        self.statistic_combo.setCurrentIndex(list(STATISTICS).index(self._statistic))
        self.statistic_combo.setToolTip("The statistic plotted for each finished run")
        self.statistic_combo.currentIndexChanged.connect(
            lambda i: self.set_statistic(self.statistic_combo.itemData(i))
        )
        self.remove_button = QToolButton()
        self.remove_button.setText("Remove")
        self.remove_button.setToolTip("Stop watching the selected nodes (Del)")
        self.remove_button.setAutoRaise(True)
        self.remove_button.clicked.connect(self.remove_selected)
        self.summary = QLabel()
        self.summary.setObjectName("watchSummary")

        bar = QHBoxLayout()
        bar.setContentsMargins(8, 2, 4, 2)
        bar.addWidget(self.summary)
        bar.addStretch(1)
        bar.addWidget(QLabel("Plot"))
        bar.addWidget(self.statistic_combo)
        bar.addWidget(self.remove_button)

        self.plot = pg.PlotWidget(background=self.palette().color(QPalette.ColorRole.Base))
        self.plot.setMinimumHeight(110)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.showGrid(x=False, y=True, alpha=0.25)
        item = self.plot.getPlotItem()
        axis_pen = pg.mkPen(self.palette().color(QPalette.ColorRole.Mid))
        text_pen = pg.mkPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(axis_pen)
            axis.setTextPen(text_pen)
        item.getAxis("bottom").setTickSpacing(major=1, minor=1)
        item.setLabel("bottom", "run", color=text_pen.color().name())
        self.plot_title = QLabel()
        self.plot_title.setObjectName("plotTitle")
        self.plot_empty = QLabel()  # instead of empty axes until a watch has a finished run
        self.plot_empty.setObjectName("plotTitle")
        self.plot_empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.plot_empty.setWordWrap(True)
        self.plot_empty.setMinimumHeight(40)

        plot_box = QWidget()
        plot_layout = QVBoxLayout(plot_box)
        plot_layout.setContentsMargins(8, 4, 4, 0)
        plot_layout.setSpacing(0)
        plot_layout.addWidget(self.plot_title)
        plot_layout.addWidget(self.plot)
        plot_layout.addWidget(self.plot_empty)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.tree)
        self.splitter.addWidget(plot_box)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        layout.addWidget(self.splitter)
        self.setStyleSheet(
            "QLabel#watchSummary, QLabel#plotTitle { color: palette(placeholder-text); }"
        )
        self._update_summary()
        self._redraw_plot()

    # -- watches ---------------------------------------------------------------------------

    def add_watch(self, node_id: str, label: str = "") -> None:
        """Pin `node_id` (shown as `label` when given); already watched: only relabel."""
        if node_id in self._watches:
            if label:
                self._watches[node_id].label = label
                self._fill(node_id)
            return
        self._watches[node_id] = Watch(node_id, label)
        item = QTreeWidgetItem()
        item.setData(NODE, Qt.ItemDataRole.UserRole, node_id)
        for column in range(1, len(COLUMNS)):
            item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight)
        self.tree.addTopLevelItem(item)
        self._items[node_id] = item
        colour = LINE_COLOURS[(len(self._watches) - 1) % len(LINE_COLOURS)]
        self._colours[node_id] = colour
        item.setIcon(NODE, swatch(colour))
        self._curves[node_id] = self.plot.plot([], [], pen=pg.mkPen(colour, width=1.5))
        self._fill(node_id)
        if self.tree.currentItem() is None:
            self.tree.setCurrentItem(item)
        self._update_summary()
        self._redraw_plot()
        self.changed.emit()

    def remove_watch(self, node_id: str) -> None:
        if node_id not in self._watches:
            return
        # Curve and colour go first: taking the row out moves the current item, whose
        # slot redraws the plot from these tables.
        self.plot.removeItem(self._curves.pop(node_id))
        self._colours.pop(node_id)
        self._watches.pop(node_id)
        item = self._items.pop(node_id)
        self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))
        self._update_summary()
        self._redraw_plot()
        self.changed.emit()

    def remove_selected(self) -> None:
        for item in self.tree.selectedItems():
            self.remove_watch(item.data(NODE, Qt.ItemDataRole.UserRole))

    def watched(self) -> list[str]:
        return list(self._watches)

    def is_watched(self, node_id: str) -> bool:
        return node_id in self._watches

    def select(self, node_id: str) -> None:
        if node_id in self._items:
            self.tree.setCurrentItem(self._items[node_id])

    def clear(self) -> None:
        """Forget every watch and its history (a different model was opened)."""
        for node_id in list(self._watches):
            self.remove_watch(node_id)
        self._run = 1
        self._redraw_plot()

    # -- execution ---------------------------------------------------------------------------

    def update_summary(self, node_id: str, summary: TensorSummary | None) -> None:
        """A node ran (or was overridden): refresh its row if it is watched."""
        watch = self._watches.get(node_id)
        if watch is None:
            return
        watch.summary = summary
        watch.stale = False
        self._fill(node_id)

    def run_finished(self) -> None:
        """Close the run: each watch's last summary this run becomes a point of its history."""
        for watch in self._watches.values():
            watch.runs.append((self._run, None if watch.stale else watch.summary))
        self._run += 1
        self._redraw_plot()

    def run_restarted(self) -> None:
        """A new run began: rows turn grey until their node runs again."""
        for watch in self._watches.values():
            watch.stale = True
            self._fill(watch.node_id)

    def history(self, node_id: str) -> list[float]:
        """The chosen statistic per finished run (NaN where the node did not run)."""
        watch = self._watches.get(node_id)
        if watch is None:
            return []
        return [statistic(s, self._statistic) for _, s in watch.runs]

    def statistic(self) -> str:
        return self._statistic

    def set_statistic(self, name: str) -> None:
        """Plot `name` over runs: mean, std, min, max, absmax or nan (a count)."""
        if name not in STATISTICS:
            raise ValueError(f"unknown statistic {name!r}; use one of {tuple(STATISTICS)}")
        self._statistic = name
        index = list(STATISTICS).index(name)
        if self.statistic_combo.currentIndex() != index:
            self.statistic_combo.setCurrentIndex(index)  # comes back here once, then stops
            return
        self._redraw_plot()

    # -- internals ---------------------------------------------------------------------------

    def _fill(self, node_id: str) -> None:
        watch = self._watches[node_id]
        item = self._items[node_id]
        s = watch.summary
        item.setText(NODE, watch.label or node_id)
        item.setToolTip(NODE, node_id if not watch.label else f"{watch.label} ({node_id})")
        if s is None:
            texts = ["", "", "", "", "", ""]
            tip = "Not run yet"
        elif not s.is_tensor:
            texts = [s.kind, "", "", "", "", ""]
            tip = s.line()
        else:
            health = f"{s.nan} / {s.inf}"
            texts = [
                shape_text(s.shape),
                number(s.min),
                number(s.max),
                number(s.mean),
                number(s.std),
                health,
            ]
            tip = s.line()
        if watch.stale and s is not None:
            tip += "\n(from an earlier run: this node has not run yet in this one)"
        palette = self.tree.palette()
        normal = palette.text().color()
        grey = palette.placeholderText().color()
        bad = s is not None and s.is_tensor and s.nonfinite > 0
        for column, text in enumerate(texts, start=1):
            item.setText(column, text)
        for column in range(len(COLUMNS)):
            if column:
                item.setToolTip(column, tip)
            item.setForeground(column, QBrush(grey if watch.stale else normal))
            item.setBackground(column, QBrush(Qt.BrushStyle.NoBrush))
        if bad:
            item.setBackground(HEALTH, QBrush(QColor(BAD_BACKGROUND)))
            item.setForeground(HEALTH, QBrush(grey if watch.stale else QColor(BAD_TEXT)))

    def _update_summary(self) -> None:
        n = len(self._watches)
        if n == 0:
            self.summary.setText("No watches — right-click a node to watch it")
        else:
            self.summary.setText(f"{n} watch{'es' if n != 1 else ''}")
        self.remove_button.setEnabled(n > 0)

    def _redraw_plot(self) -> None:
        current = self.tree.currentItem()
        selected = current.data(NODE, Qt.ItemDataRole.UserRole) if current is not None else None
        for node_id, curve in self._curves.items():
            watch = self._watches.get(node_id)
            if watch is None:
                continue
            xs = [run for run, _ in watch.runs]
            ys = [statistic(s, self._statistic) for _, s in watch.runs]
            colour = QColor(self._colours[node_id])
            if node_id != selected:
                colour.setAlpha(90)
            width = 2.5 if node_id == selected else 1.2
            curve.setData(
                xs,
                ys,
                connect="finite",
                pen=pg.mkPen(colour, width=width),
                symbol="o",
                symbolSize=6 if node_id == selected else 4,
                symbolPen=pg.mkPen(colour),
                symbolBrush=pg.mkBrush(colour),
            )
            curve.setZValue(1 if node_id == selected else 0)
        label = STATISTICS[self._statistic]
        has_data = any(watch.runs for watch in self._watches.values())
        self.plot.setVisible(has_data)
        self.plot_title.setVisible(has_data)
        self.plot_empty.setVisible(not has_data)
        self.plot_empty.setText(
            f"Finish a run to plot each watched node's {label}, one point per run."
            if self._watches
            else "Watched nodes are plotted here, one point per finished run."
        )
        if selected is None:
            self.plot_title.setText(f"{label} per run")
        else:
            watch = self._watches[selected]
            self.plot_title.setText(
                f"{label} per run — <b>{watch.label or selected}</b>"
                f" ({len(watch.runs)} finished run{'s' if len(watch.runs) != 1 else ''})"
            )
        self.plot.getPlotItem().setXRange(0.5, max(self._run - 0.5, 1.5), padding=0)
        self.plot.getPlotItem().enableAutoRange(axis="y")

    def _context_menu(self, pos) -> None:  # noqa: ANN001 - QPoint
        item = self.tree.itemAt(pos)
        if item is None:
            return
        node_id = item.data(NODE, Qt.ItemDataRole.UserRole)
        menu = QMenu(self.tree)
        menu.addAction("Select node", lambda: self.node_activated.emit(node_id))
        menu.addAction("Remove watch", self.remove_selected)
        menu.exec(self.tree.viewport().mapToGlobal(pos))
