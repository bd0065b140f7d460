"""Training in the window: the Training panel fed by the loaded model, its "step the
forward" hand-off to the debugger, and Teaching > Training side by side…, which trains
the PyTorch and the TensorFlow exponent fit next to each other.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from gui.panels.tensor_plots import style_plot
from gui.panels.training_panel import REFERENCE_COLOUR, TrainingPanel

#: The pair the side-by-side view opens with: the same fit in each framework.
DEFAULT_PAIR = ("fit_exponent_torch", "fit_exponent_tf")
SIDE_COLOURS = ("#e8710a", "#1a73e8")  # PyTorch orange, TensorFlow blue
FRAMEWORK_NAMES = {"torch": "PyTorch", "tensorflow": "TensorFlow"}


class TrainingCompare(QWidget):
    """Two Training panels side by side, driven together or each on its own, and one
    plot of a shared metric (phi) from both, so the frameworks' curves can be compared."""

    def __init__(
        self,
        specs: tuple[str, str] = DEFAULT_PAIR,
        parent: QWidget | None = None,
        *,
        metric: str = "phi",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Training side by side — Graphstep")
        self.shared_metric = metric
        self.panels = (TrainingPanel(title=specs[0]), TrainingPanel(title=specs[1]))

        self.step_button = QPushButton("Step both")
        self.run_button = QPushButton("Run both")
        self.run_count = QSpinBox()
        self.run_count.setRange(1, 100_000)
        self.run_count.setValue(20)
        self.run_count.setSuffix(" iterations")
        self.stop_button = QPushButton("Stop")
        self.reset_button = QPushButton("Reset both")
        self.rule_combo = QComboBox()
        self.rule_combo.setToolTip("The update rule for both sides (each side can differ).")
        self.rule_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        both = QHBoxLayout()
        both.addWidget(QLabel("<b>Both sides:</b>"))
        for widget in (self.step_button, self.run_button, self.run_count, self.stop_button):
            both.addWidget(widget)
        both.addWidget(self.reset_button)
        both.addWidget(QLabel("Update rule"))
        both.addWidget(self.rule_combo)
        both.addStretch(1)

        self.combined = pg.PlotWidget()
        style_plot(self.combined)
        item = self.combined.getPlotItem()
        item.setTitle(f"{metric}, both frameworks", size="9pt")
        item.setLabel("bottom", "iteration", color=REFERENCE_COLOUR, size="8pt")
        item.showGrid(x=True, y=True, alpha=0.15)
        item.getAxis("left").setWidth(44)
        self.legend = item.addLegend(offset=(-10, -30), labelTextColor=REFERENCE_COLOUR)
        self.combined.setMinimumHeight(160)
        self.curves: list[Any] = []
        for i, colour in enumerate(SIDE_COLOURS):
            curve = self.combined.plot(
                [],
                [],
                pen=pg.mkPen(colour, width=2 + (1 - i) * 2),  # the first drawn wider: both show
                name=specs[i],
            )
            self.curves.append(curve)
        self.reference: pg.InfiniteLine | None = None
        self.points: list[tuple[list[float], list[float]]] = [([], []), ([], [])]

        sides = QSplitter(Qt.Orientation.Horizontal)
        for panel in self.panels:
            sides.addWidget(panel)
        sides.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addLayout(both)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(sides)
        splitter.addWidget(self.combined)
        splitter.setSizes([440, 300])
        layout.addWidget(splitter, 1)

        self.step_button.clicked.connect(lambda: self.run_iterations(1))
        self.run_button.clicked.connect(lambda: self.run_iterations(self.run_count.value()))
        for panel in self.panels:  # each side's count (and progress) follows the shared one
            self.run_count.valueChanged.connect(panel.run_count.setValue)
        self.stop_button.clicked.connect(self.stop)
        self.reset_button.clicked.connect(self.reset)
        self.rule_combo.textActivated.connect(self.set_rule)
        for i, panel in enumerate(self.panels):
            panel.iterated.connect(lambda n, m, i=i: self._on_iterated(i, n, m))
            panel.was_reset.connect(lambda i=i: self._on_reset(i))
            panel.load_spec(specs[i])

    def run_iterations(self, n: int) -> None:
        for panel in self.panels:
            panel.run_iterations(n)

    def stop(self) -> None:
        for panel in self.panels:
            panel.stop()

    def reset(self) -> None:
        for panel in self.panels:
            panel.reset()

    def set_rule(self, rule: str) -> None:
        for panel in self.panels:
            panel.set_rule(rule)

    def is_running(self) -> bool:
        return any(panel.running for panel in self.panels)

    def shutdown(self) -> None:
        for panel in self.panels:
            panel.shutdown()

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        self.stop()
        super().closeEvent(event)

    def _on_reset(self, side: int) -> None:
        panel = self.panels[side]
        info = panel.info
        framework = FRAMEWORK_NAMES.get(info.get("framework", ""), "")
        name = f"{info.get('name', '')} ({framework}, {info.get('rule', '')})"
        self.legend.getLabel(self.curves[side]).setText(name)
        panel.title.setText(
            f"<span style='color:{SIDE_COLOURS[side]}'>■</span> {info.get('name', '')} "
            f"· {framework}"
        )
        if self.rule_combo.count() == 0:
            self.rule_combo.addItems(info.get("rules", []))
        self.rule_combo.setCurrentText(info.get("rule", ""))
        self.points[side] = ([], [])
        self.curves[side].setData([], [])
        self._show_difference()
        reference = info.get("references", {}).get(self.shared_metric)
        if reference is not None and self.reference is None:
            self.reference = pg.InfiniteLine(
                pos=reference,
                angle=0,
                pen=pg.mkPen(REFERENCE_COLOUR, width=1, style=Qt.PenStyle.DashLine),
                label=f"hidden {self.shared_metric} = {reference:g}",
                labelOpts={
                    "position": 0.3,
                    "color": REFERENCE_COLOUR,
                    "anchors": [(0.5, 0), (0.5, 0)],
                },
            )
            self.combined.addItem(self.reference)

    def _on_iterated(self, side: int, number: int, metrics: dict[str, float]) -> None:
        if self.shared_metric not in metrics:
            return
        xs, ys = self.points[side]
        xs.append(number)
        ys.append(metrics[self.shared_metric])
        self.curves[side].setData(xs, ys)
        self._show_difference()

    def _show_difference(self) -> None:
        """Title the combined plot with the largest gap between the sides so far."""
        (xa, ya), (xb, yb) = self.points
        both = min(len(ya), len(yb))
        text = f"{self.shared_metric}, both frameworks"
        if both:
            gap = max(abs(a - b) for a, b in zip(ya[:both], yb[:both], strict=True))
            text += f" · largest difference over {both} iterations: {gap:.2g}" + (
                " (the curves lie on top of each other)" if gap < 1e-3 else ""
            )
        self.combined.getPlotItem().setTitle(text, size="9pt")


class TrainingHookup:
    """The window's Training dock, fed by `model_loaded`, and the Teaching menu entry."""

    def __init__(self, window: Any) -> None:
        self.window = window
        self.panel = TrainingPanel(engine=window.engine)  # trains next to the loaded model
        self.panel.forward_button.setVisible(True)
        self.dock = window.add_panel("Training", self.panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        window.log_dock.raise_()  # the Training tab comes forward for a trainable model
        self.panel.was_reset.connect(self.dock.raise_)
        self.compare: TrainingCompare | None = None
        self.forward_spec: str | None = None

        menu = window.menus.get("teaching")
        if menu is None:
            menu = window.menuBar().addMenu("&Teaching")
            window.menus["teaching"] = menu
        self.compare_action = QAction("Training side by side…", window)
        self.compare_action.setStatusTip(
            "Train the PyTorch and the TensorFlow exponent fit next to each other."
        )
        self.compare_action.triggered.connect(self.open_compare)
        menu.addAction(self.compare_action)

        window.model_loaded.connect(self._on_model_loaded)
        window.closing.connect(self.shutdown)

    def _on_model_loaded(self, result: Any) -> None:
        """A new model: train a fresh copy of it (the engine says when it has no loop).
        An iteration's forward handed to the debugger keeps training as it is."""
        if result.origin == "training":
            self.window.log_panel.info(
                f"Iteration {result.detail}'s forward at the current parameters: "
                "step it node by node."
            )
            return
        self.panel.train_loaded(result.name)

    def open_compare(self) -> TrainingCompare:
        if self.compare is None:
            self.compare = TrainingCompare(parent=self.window)
            self.compare.setWindowFlag(Qt.WindowType.Window, True)
            self.compare.resize(1300, 760)
        self.compare.show()
        if QGuiApplication.platformName() != "offscreen":  # offscreen warns on raise()
            self.compare.raise_()
        return self.compare

    def shutdown(self) -> None:
        self.panel.shutdown()
        if self.compare is not None:
            self.compare.shutdown()


def attach_training(window: Any) -> TrainingHookup:
    """Add the Training panel and Teaching > Training side by side… to `window`."""
    hookup = TrainingHookup(window)
    window.training = hookup
    return hookup
