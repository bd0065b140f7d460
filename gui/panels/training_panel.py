"""The Training panel: step a model file's training loop iteration by iteration, with
live plots of the loss and of every other reported metric (phi, grad_phi, …).

The training loop runs in the engine, next to its model (`inspectors.engine`, the
`Train*` commands); the panel speaks to it through `TrainingWorker` and draws the
metrics that come back as events. Nothing here runs model code.
"""

from __future__ import annotations

import math
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gui.debugging.engine import Engine
from gui.panels.tensor_plots import style_plot
from gui.panels.training_worker import TrainingWorker

LOSS_COLOUR = "#d93025"
METRIC_COLOURS = ("#1a73e8", "#188038", "#9334e6", "#e37400", "#007b83")
REFERENCE_COLOUR = "#5f6b7a"


def metric_colour(index: int) -> str:
    return METRIC_COLOURS[index % len(METRIC_COLOURS)]


class MetricPlot(pg.PlotWidget):
    """One metric over iterations, with an optional dashed reference line."""

    def __init__(self, name: str, colour: str, *, log_y: bool = False) -> None:
        super().__init__()
        style_plot(self)
        self.name = name
        self.log_y = log_y
        item = self.getPlotItem()
        item.setTitle(
            f"<span style='color:{colour}'>{name}{' (log scale)' if log_y else ''}</span>",
            size="9pt",
        )
        item.setLabel("bottom", "iteration", color=REFERENCE_COLOUR, size="8pt")
        item.showGrid(x=True, y=True, alpha=0.15)
        item.setLogMode(x=False, y=log_y)
        self.setMinimumSize(180, 150)
        self.curve = self.plot(
            [],
            [],
            pen=pg.mkPen(colour, width=2),
            symbol="o",
            symbolSize=4,
            symbolPen=pg.mkPen(colour),
            symbolBrush=pg.mkBrush(colour),
        )
        self.reference: pg.InfiniteLine | None = None
        self.xs: list[float] = []
        self.ys: list[float] = []

    def set_reference(self, value: float, text: str) -> None:
        if self.reference is None:
            self.reference = pg.InfiniteLine(
                pos=value,
                angle=0,
                pen=pg.mkPen(REFERENCE_COLOUR, width=1, style=Qt.PenStyle.DashLine),
                label=text,  # under the line: the view's range may end at the line
                labelOpts={
                    "position": 0.35,
                    "color": REFERENCE_COLOUR,
                    "anchors": [(0.5, 0), (0.5, 0)],
                },
            )
            self.addItem(self.reference)
        else:
            self.reference.setValue(value)
            self.reference.label.setFormat(text)

    def add_point(self, x: float, y: float) -> None:
        self.xs.append(x)
        self.ys.append(y if not self.log_y or y > 0 else math.nan)
        self.curve.setData(self.xs, self.ys, connect="finite")

    def clear_points(self) -> None:
        self.xs, self.ys = [], []
        self.curve.setData([], [])


class TrainingPanel(QWidget):
    """Buttons to step / run / stop / reset the training loop, a rule chooser, live plots.

    `iterated(number, metrics)` and `was_reset()` mirror the worker for listeners such
    as the side-by-side view. "Step forward…" asks the engine to load the next
    iteration's forward, which the window's debugger then steps.
    """

    iterated = Signal(int, object)
    was_reset = Signal()
    run_finished = Signal(int)

    def __init__(
        self, parent: QWidget | None = None, *, title: str = "", engine: Engine | None = None
    ) -> None:
        super().__init__(parent)
        self.worker = TrainingWorker(engine, self)
        self.info: dict[str, Any] = {}
        self.history: dict[str, list[float]] = {}
        self.plots: dict[str, MetricPlot] = {}
        self.running = False
        self.available = False
        self._run_target = 0
        self._run_done = 0
        self._updating_rules = False

        self.title = QLabel(title)
        self.title.setObjectName("trainingTitle")
        self.title.setVisible(bool(title))
        self.title.setStyleSheet("font-weight: 600;")
        self.step_button = QPushButton("Step iteration")
        self.step_button.setToolTip("Run one iteration of train_step on the next batch.")
        self.run_button = QPushButton("Run")
        self.run_count = QSpinBox()
        self.run_count.setRange(1, 100_000)
        self.run_count.setValue(20)
        self.run_count.setSuffix(" iterations")
        self.run_button.setToolTip("Run this many iterations, plotting each as it lands.")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the iteration under way.")
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("A fresh model from build(): back to iteration 0.")
        self.forward_button = QPushButton("Step forward…")
        self.forward_button.setToolTip(
            "Open the next iteration's forward pass in the debugger, at the current "
            "parameters, to step it node by node."
        )
        self.forward_button.setVisible(False)
        self.rule_combo = QComboBox()
        self.rule_combo.setToolTip("The update rule: TRAIN_STEPS in the model file.")
        self.rule_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.setMaximumHeight(16)
        self.progress.setFormat("%v / %m")
        self.status = QLabel()
        self.status.setObjectName("trainingStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        for widget in (self.step_button, self.run_button, self.run_count, self.stop_button):
            controls.addWidget(widget)
        controls.addWidget(self.reset_button)
        controls.addStretch(1)
        choices = QHBoxLayout()
        choices.setContentsMargins(0, 0, 0, 0)
        choices.addWidget(QLabel("Update rule"))
        choices.addWidget(self.rule_combo)
        choices.addWidget(self.forward_button)
        choices.addWidget(self.progress)
        choices.addStretch(1)

        self.plot_row = QHBoxLayout()
        self.plot_row.setContentsMargins(0, 0, 0, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.title)
        layout.addLayout(controls)
        layout.addLayout(choices)
        layout.addWidget(self.status)
        layout.addLayout(self.plot_row, 1)

        self.step_button.clicked.connect(lambda: self.run_iterations(1))
        self.run_button.clicked.connect(lambda: self.run_iterations(self.run_count.value()))
        self.run_count.valueChanged.connect(lambda _n: self._show_next_run())
        self.stop_button.clicked.connect(self.stop)
        self.reset_button.clicked.connect(lambda: self.reset())
        self.forward_button.clicked.connect(self.worker.capture_forward)
        self.rule_combo.currentTextChanged.connect(self._on_rule_chosen)
        self.worker.ready.connect(self._on_ready)
        self.worker.unavailable.connect(self._on_unavailable)
        self.worker.iterated.connect(self._on_iterated)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        self.clear(
            "Open a model file with a training loop (data() and train_step) to train it here."
        )

    # ---------------------------------------------------------------- loading

    def train_loaded(self, name: str) -> None:
        """Train a fresh copy of the model the engine has loaded (that one stays as it is)."""
        self._loading(name)
        self.worker.load_current()

    def load_spec(self, spec: str) -> None:
        """Load `spec` in the engine and train it."""
        self._loading(spec)
        self.worker.load_spec(spec)

    def clear(self, message: str) -> None:
        self.available = False
        self.running = False
        self._clear_plots()
        self.status.setText(message)
        self._update_buttons()

    def _loading(self, name: str) -> None:
        self.clear(f"Loading the training loop of {name}…")
        self.title.setText(self.title.text() or name)

    # --------------------------------------------------------------- commands

    def run_iterations(self, n: int) -> None:
        if not self.available or self.running:
            return
        self.running = True
        self._run_target = n
        self._run_done = 0
        self.progress.setRange(0, n)
        self.progress.setValue(0)
        self._update_buttons()
        self.worker.step(n)

    def stop(self) -> None:
        self.worker.stop()

    def reset(self, rule: str | None = None) -> None:
        if not self.info:
            return
        self.running = False
        self.worker.reset(rule)
        self._update_buttons()

    def set_rule(self, rule: str) -> None:
        """Choose the update rule by name (resets the model, for a fair comparison)."""
        self.rule_combo.setCurrentText(rule)

    def shutdown(self) -> None:
        self.worker.shutdown()

    # ----------------------------------------------------------------- events

    def _on_rule_chosen(self, rule: str) -> None:
        if not self._updating_rules and rule and rule != self.info.get("rule"):
            self.reset(rule)

    def _on_ready(self, info: dict[str, Any]) -> None:
        self.info = info
        self.available = True
        self.running = False
        self._updating_rules = True
        self.rule_combo.clear()
        self.rule_combo.addItems(info["rules"])
        self.rule_combo.setCurrentText(info["rule"])
        self._updating_rules = False
        self._clear_plots()
        framework = {"torch": "PyTorch", "tensorflow": "TensorFlow"}.get(
            info["framework"], info["framework"]
        )
        if not self.title.text():
            self.title.setText(info["name"])
        lr = info.get("learning_rate")
        self.status.setText(
            f"{info['name']} ({framework}) · update rule: {info['rule']}"
            + (f" · learning rate {lr:g}" if isinstance(lr, int | float) else "")
            + " · iteration 0: press Step iteration or Run."
        )
        self._show_next_run()
        self._update_buttons()
        self.was_reset.emit()

    def _show_next_run(self) -> None:
        """Between runs the progress bar reads 0 of the iterations Run will make."""
        if not self.running:
            self.progress.setRange(0, self.run_count.value())
            self.progress.setValue(0)

    def _on_unavailable(self, text: str) -> None:
        self.info = {}
        self.clear(text)

    def _on_iterated(self, number: int, metrics: dict[str, float]) -> None:
        for name in metrics:
            if name not in self.history:
                self.history[name] = [math.nan] * (number - 1)
                self._add_plot(name)
        for name, values in self.history.items():
            value = metrics.get(name, math.nan)
            values.append(value)
            self.plots[name].add_point(number, value)
        self._run_done += 1
        if self.running:
            self.progress.setValue(min(self._run_done, self._run_target))
        parts = [f"iteration {number}"] + [f"{name} {value:.4g}" for name, value in metrics.items()]
        refs = self.info.get("references", {})
        parts += [f"(hidden {name} = {value:g})" for name, value in refs.items() if name in metrics]
        self.status.setText(" · ".join(parts))
        self.iterated.emit(number, metrics)

    def _on_finished(self, done: int) -> None:
        self.running = False
        self._update_buttons()
        self.run_finished.emit(done)

    def _on_failed(self, message: str, details: str) -> None:
        self.status.setText(f"<span style='color:{LOSS_COLOUR}'>{message}</span>")
        self.status.setToolTip(details)

    # ------------------------------------------------------------------ plots

    def _clear_plots(self) -> None:
        self.history = {}
        for plot in self.plots.values():
            self.plot_row.removeWidget(plot)
            plot.deleteLater()
        self.plots = {}

    def _add_plot(self, name: str) -> None:
        if name == "loss":
            plot = MetricPlot(name, LOSS_COLOUR, log_y=True)
        else:
            others = sum(1 for n in self.plots if n != "loss")
            plot = MetricPlot(name, metric_colour(others))
        reference = self.info.get("references", {}).get(name)
        if reference is not None:
            plot.set_reference(reference, f"hidden {name} = {reference:g}")
        elif name.startswith("grad"):
            plot.set_reference(0.0, "0: a minimum")
        self.plots[name] = plot
        # the loss first, then the metrics in the order they were reported
        index = 0 if name == "loss" else self.plot_row.count()
        self.plot_row.insertWidget(index, plot, 1)

    def _update_buttons(self) -> None:
        idle = self.available and not self.running
        for widget in (self.step_button, self.run_button, self.reset_button, self.rule_combo):
            widget.setEnabled(idle)
        self.forward_button.setEnabled(idle)
        self.run_count.setEnabled(self.available)
        self.stop_button.setEnabled(self.running)
        self.progress.setVisible(self.available)
