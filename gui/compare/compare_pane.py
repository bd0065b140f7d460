"""One side of the compare window: a model, its own loader and engine, and its graph.

A `ComparePane` has an engine of its own (`Engine`): it loads a spec there
(`ModelLoader`), steps it with commands, reads the run from its `RunModel`, and
paints the run on its `CompareGraphView` the way
the main window's debugger does: node states, and in eager mode the graph growing
from `NodeAdded` events. The window on top links two panes; a pane knows nothing of
the other.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui.compare.compare_links import summary_line
from gui.debugging.debugger import PAUSE_WORDS
from gui.debugging.engine import Engine
from gui.debugging.loader import LoadResult, ModelLoader
from gui.debugging.run_model import RunModel, RunReader
from gui.graph.graph_view import GraphView
from gui.graph.live_graph import add_recorded_nodes, empty_live_graph
from gui.shell.widgets import set_enabled
from inspectors import commands as cmds
from inspectors import events as ev
from inspectors.graph import Graph
from inspectors.run_command import at_node

CAPTURES = ("auto", "fx", "export", "eager", "function")
#: While a model runs, its node states refresh at most this often (ms).
REFRESH_MS = 200


class CompareGraphView(GraphView):
    """A GraphView that can also colour nodes by category, with a legend of names.

    `set_categories({node: index}, [(name, (r, g, b)), ...])` paints each node in
    its category's colour (nodes without one stay grey) and draws the names as the
    legend; `set_categories(None)` goes back to the plain view. Numeric overlays
    (`set_overlay`) work as in GraphView.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._categories: tuple[dict[str, int], list[tuple[str, tuple[int, int, int]]]] | None
        self._categories = None

    def set_categories(
        self,
        categories: dict[str, int] | None,
        legend: list[tuple[str, tuple[int, int, int]]] | None = None,
    ) -> None:
        self._categories = (dict(categories), list(legend or [])) if categories else None
        if self._categories is not None:
            # a marker value: the base class then keeps its overlay on through relayouts
            self._overlay = ({}, "", False)
        elif self._overlay is not None and not self._overlay[0]:
            self._overlay = None
        self._apply_overlay()
        self.viewport().update()

    def set_overlay(
        self, values: dict[str, float] | None, title: str = "", log: bool = False
    ) -> None:
        self._categories = None
        super().set_overlay(values, title, log)

    def categories(self) -> dict[str, int]:
        return dict(self._categories[0]) if self._categories else {}

    def set_graph(self, graph: Graph) -> None:
        keep = self._categories
        super().set_graph(graph)
        if keep is not None:  # a new graph of the same side keeps its colouring
            self.set_categories(*keep)

    def _apply_overlay(self) -> None:
        lay = self._layout
        if self._categories is None or lay is None:
            super()._apply_overlay()
            return
        mapping, legend = self._categories
        colours = np.zeros((len(lay), 3), np.uint8)
        best = np.full(len(lay), -1)
        for nid, cat in mapping.items():
            if not 0 <= cat < len(legend):
                continue
            for b in lay.boxes_of(nid):
                # a collapsed box shows the most telling of its members (highest category)
                if cat > best[b]:
                    best[b] = cat
                    colours[b] = legend[cat][1]
        has = best >= 0
        self._item.overlay = colours
        self._item.overlay_has = has

    def _draw_colour_bar(self, painter: QPainter) -> None:
        if self._categories is None:
            super()._draw_colour_bar(painter)
            return
        legend = self._categories[1]
        row = 17
        widest = max((painter.fontMetrics().horizontalAdvance(n) for n, _ in legend), default=0)
        w, h = max(150, widest + 56), 10 + row * len(legend)
        painter.setPen(QPen(QColor("#d5dce5"), 1))
        painter.setBrush(QColor(255, 255, 255, 235))
        painter.drawRoundedRect(QRectF(10, 10, w, h), 6, 6)
        for i, (name, rgb) in enumerate(legend):
            y = 15 + i * row
            painter.setPen(QPen(QColor("#5f6b7a"), 1))
            painter.setBrush(QColor(*rgb))
            painter.drawRoundedRect(QRectF(18, y + 2, 18, 11), 3, 3)
            painter.setPen(QColor("#33404d"))
            painter.drawText(QRectF(44, y, w - 40, 15), Qt.AlignmentFlag.AlignVCenter, name)


class ComparePane(RunReader, QFrame):
    """One model in the compare window: spec, run controls, summary line and graph."""

    loaded = Signal(object)  # LoadResult, once its Session is running
    load_failed = Signal(str)
    paused = Signal(object)  # Paused
    graph_replaced = Signal()  # the view shows a new graph (loaded, or an eager run began)
    user_selected = Signal(str)  # a node the user picked ("" when cleared)
    running_changed = Signal(bool)  # its model started or stopped running

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.setObjectName(f"comparePane{title}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.result: LoadResult | None = None
        self._engine = Engine(parent=self)  # this side's own engine, for the pane's life
        self.run = RunModel(self._engine, self)
        self.engine: Engine | None = None  # the engine while a session runs, else None
        self.live_graph: Graph | None = None
        self._own_selection = False
        self._dirty = False
        self._graph_dirty = False
        self._pending: tuple[str, str] | None = None
        self._fit_when_drawn = False
        #: True while this pane must not start a load (set by the window: the other is loading).
        self.must_wait: Any = lambda: False

        self.closed = False
        self.loader = ModelLoader(self._engine, self)
        self.loader.loaded.connect(self._on_loaded)
        self.loader.failed.connect(self._on_load_failed)
        self.loader.stage_changed.connect(lambda text: self.status_label.setText(text))
        self._engine.subscribe(self)

        self.view = CompareGraphView()
        self.view.node_selected.connect(self._on_view_selected)
        self.view.layout_finished.connect(self._on_layout_finished)

        self.title_label = QLabel(f"<b>{title}</b>")
        self.spec_edit = QLineEdit()
        self.spec_edit.setPlaceholderText("model file, sample name or saved model")
        self.spec_edit.returnPressed.connect(lambda: self.open())
        self.samples_combo = QComboBox()
        self.samples_combo.setToolTip("Samples")
        self.samples_combo.addItem("samples…", "")
        self.capture_combo = QComboBox()
        self.capture_combo.setToolTip("Capture strategy")
        for name in CAPTURES:
            self.capture_combo.addItem(name, name)
        self.open_button = QPushButton("Open")
        self.open_button.clicked.connect(lambda: self.open())
        self.samples_combo.activated.connect(self._on_sample_chosen)

        self.step_button = QPushButton("↓ Step")
        self.over_button = QPushButton("↷ Over")
        self.continue_button = QPushButton("▶ Continue")
        self.restart_button = QPushButton("⟲ Restart")
        for button, command, tip in (
            (self.step_button, cmds.Step(), "Run exactly one node of this side"),
            (self.over_button, cmds.StepOver(), "Run the next node of this side; scopes run whole"),
            (self.continue_button, cmds.Continue(), "Run this side to the end"),
            (self.restart_button, cmds.Restart(), "Start this side's run again"),
        ):
            button.setToolTip(tip)
            button.clicked.connect(lambda _=False, c=command: self.send(c))
        self.position_label = QLabel("")
        self.position_label.setObjectName("comparePosition")
        self.status_label = QLabel("Open a model.")
        self.status_label.setObjectName("compareStatus")
        self.summary_label = QLabel("")
        self.summary_label.setObjectName("compareSummary")
        self.summary_label.setWordWrap(True)
        self.link_label = QLabel("")
        self.link_label.setObjectName("compareLink")
        self.link_label.setWordWrap(True)
        self.link_label.setStyleSheet("color: #1a5fb4;")

        top = QHBoxLayout()
        top.addWidget(self.title_label)
        top.addWidget(self.spec_edit, 1)
        top.addWidget(self.samples_combo)
        top.addWidget(self.capture_combo)
        top.addWidget(self.open_button)
        run = QHBoxLayout()
        for button in (
            self.step_button,
            self.over_button,
            self.continue_button,
            self.restart_button,
        ):
            run.addWidget(button)
        run.addWidget(self.position_label, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(3)
        layout.addLayout(top)
        layout.addLayout(run)
        layout.addWidget(self.status_label)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.link_label)
        layout.addWidget(self.view, 1)

        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._refresh_if_dirty)
        self._timer.start()
        self._update_buttons()

    # ------------------------------------------------------------------ opening

    def set_samples(self, samples: list[Any]) -> None:
        for sample in samples:
            self.samples_combo.addItem(f"{sample.name} ({sample.framework})", sample.name)
            i = self.samples_combo.count() - 1
            self.samples_combo.setItemData(i, sample.description, Qt.ItemDataRole.ToolTipRole)

    def _on_sample_chosen(self, index: int) -> None:
        name = self.samples_combo.itemData(index)
        if name:
            self.spec_edit.setText(name)
            self.open()
        self.samples_combo.setCurrentIndex(0)

    def strategy(self) -> str:
        return str(self.capture_combo.currentData())

    def set_strategy(self, strategy: str | None) -> None:
        index = self.capture_combo.findData(strategy or "auto")
        self.capture_combo.setCurrentIndex(max(0, index))

    def open(self, spec: str | None = None, strategy: str | None = None) -> None:
        """Load `spec` (default: the line edit's) and start a Session on it."""
        if spec is not None:
            self.spec_edit.setText(spec)
        if strategy is not None:
            self.set_strategy(strategy)
        spec = self.spec_edit.text().strip()
        if not spec:
            self.status_label.setText("Give a model to open.")
            return
        if self.must_wait():
            # Two framework imports at once on two threads can see each other half
            # initialised (tensorflow's import probes torch and the reverse): one at a time.
            self._pending = (spec, self.strategy())
            self.status_label.setText(f"{spec}: waiting for the other side to finish loading…")
            return
        self._pending = None
        self.status_label.setText(f"Loading {spec}…")
        self.loader.load(spec, self.strategy())

    def load_pending(self) -> None:
        """Start the load that waited for the other side, if any."""
        if self._pending is not None and not self.must_wait():
            spec, strategy = self._pending
            self.open(spec, strategy)

    def waiting(self) -> bool:
        return self._pending is not None

    def _on_load_failed(self, message: str, _details: str) -> None:
        self.status_label.setText(f"⚠ {message}")
        self.load_failed.emit(message)

    def _on_loaded(self, result: LoadResult) -> None:
        if self.closed:  # the window closed while this model was loading
            return
        self.engine = None  # the engine ends the old session and starts one on this model
        self.result = result
        self.live_graph = None
        self.view.set_graph(result.graph)
        failures = "; ".join(f"{f['strategy']} failed: {f['reason']}" for f in result.failures)
        self.status_label.setText(
            f"{result.name} loaded in {result.seconds:.1f} s"
            + (f" · {failures}" if failures else "")
        )
        self.status_label.setToolTip(failures)
        self._update_summary()
        self._update_buttons()

    def _on_session_unavailable(self, unavailable: ev.SessionUnavailable) -> None:
        """Exploring still works without stepping."""
        self.status_label.setText(unavailable.message)
        self._announce()

    def _on_session_started(self, _started: ev.SessionStarted) -> None:
        self.engine = self._engine
        self._update_buttons()
        self._announce()

    def _announce(self) -> None:
        if self.result is not None:
            self.graph_replaced.emit()
            self.loaded.emit(self.result)

    def shutdown(self) -> None:
        """End this side's engine (the window is closing)."""
        self.engine = None
        self._engine.shutdown(timeout=5.0)
        self._update_buttons()
        self.running_changed.emit(False)

    def close(self) -> None:  # type: ignore[override]
        """The window is closing: drop a load still on its way, end the engine."""
        self.closed = True
        self._pending = None
        self.loader.cancel()
        self.shutdown()
        super().close()

    # ------------------------------------------------------------------ commands

    def send(self, command: cmds.Command) -> None:
        if self.engine is not None:
            self.engine.send(command)

    def running(self) -> bool:
        return self.engine is not None and self.engine.running

    def finished(self) -> bool:
        return self.last_pause is not None and self.last_pause.reason == ev.FINISHED

    def run_over(self) -> bool:
        """True when this side's run has ended (finished or failed): only a restart goes on."""
        pause = self.last_pause
        return pause is not None and pause.reason in (ev.FINISHED, ev.EXCEPTION)

    def full_graph(self) -> Graph | None:
        """The captured graph (for eager: the one recorded at capture, not the one growing)."""
        return self.result.graph if self.result is not None else None

    # ------------------------------------------------------------------ selection

    def select(self, node_id: str | None, center: bool = True) -> None:
        """Select without telling the window (no echo back to the other side)."""
        self._own_selection = True
        try:
            self.view.select(node_id, center=center)
        finally:
            self._own_selection = False

    def moving_itself(self) -> bool:
        """True while the pane scrolls to a node it selected itself (not the user's move)."""
        return self._own_selection

    def _on_view_selected(self, node_id: str) -> None:
        if not self._own_selection:
            self.user_selected.emit(node_id)

    # ------------------------------------------------------------------ events

    def _on_nodes_added(self, added: list[ev.NodeAdded]) -> None:
        if self.live_graph is None:
            self.live_graph = empty_live_graph(self.full_graph())
            self.view.set_graph(self.live_graph)
            self.graph_replaced.emit()
        add_recorded_nodes(self.live_graph, added)
        self._graph_dirty = True
        self._dirty = True

    def _on_nodes_stepped(self, _stepped: list[ev.NodeStepped]) -> None:
        self._dirty = True

    def _on_paused(self, pause: ev.Paused) -> None:
        if pause.reason == ev.FINISHED and self.eager:
            # the whole recorded graph is there now: show all of it
            self._fit_when_drawn = self._graph_dirty or self.view.is_busy()
            if not self._fit_when_drawn:
                self.view.zoom_to_fit()
        self._refresh_states()
        node = pause.node_id
        graph = self.view.graph()
        if node and graph is not None and node in graph and pause.reason != ev.READY:
            self.select(node, center=False)
            self.view.reveal_node(node)
        self._update_buttons()
        self.paused.emit(pause)

    def _on_running_changed(self, running: bool) -> None:
        self._update_buttons()
        self.running_changed.emit(running)

    def _on_failed(self, failed: ev.Failed) -> None:
        self.status_label.setText(
            f"⚠ {at_node(failed.node_id or 'the model', failed.message)[:120]}"
        )
        self._dirty = True

    def _on_restarted(self, _restarted: ev.Restarted) -> None:
        if self.eager:
            self.live_graph = empty_live_graph(self.full_graph())
            self.view.set_graph(self.live_graph)
            self.graph_replaced.emit()
        self._refresh_states()
        self._update_summary()

    def _on_layout_finished(self, _count: int) -> None:
        if self._fit_when_drawn and not self._graph_dirty:
            self._fit_when_drawn = False
            self.view.zoom_to_fit()

    def _refresh_if_dirty(self) -> None:
        if self._dirty:
            self._refresh_states()

    def _refresh_states(self) -> None:
        self._dirty = False
        if self._graph_dirty and self.live_graph is not None:
            self._graph_dirty = False
            self.view.add_nodes_incremental(self.live_graph)
            self._update_summary()
        graph = self.view.graph()
        if graph is None:
            return
        self.view.set_node_states(self.marks.states(graph.nodes))
        self._update_position()

    # ------------------------------------------------------------------ text

    def _update_summary(self) -> None:
        graph = self.full_graph()
        if graph is None or self.result is None:
            self.summary_label.setText("")
            return
        shown = len(self.live_graph) if self.live_graph is not None else None
        self.summary_label.setText(summary_line(graph, self.result.capture, shown))

    def _update_position(self) -> None:
        if self.engine is None:
            self.position_label.setText("")
            return
        pause = self.last_pause
        total = len(self.full_graph() or []) if self.eager else self.run.total
        word = "running…" if self.engine.running else ""
        if pause is not None and not self.engine.running:
            word = PAUSE_WORDS.get(pause.reason, pause.reason)
            if pause.node_id and pause.reason != ev.READY:
                word += f" at {pause.node_id}"
        over = pause is not None and pause.reason in (ev.FINISHED, ev.GRADIENT, ev.EXCEPTION)
        grow = " (growing)" if self.eager and not over else ""
        self.position_label.setText(f"node {len(self.marks.executed)} of {total}{grow} · {word}")

    def _update_buttons(self) -> None:
        run_buttons = (self.step_button, self.over_button, self.continue_button)
        set_enabled((*run_buttons, self.restart_button), self.engine is not None)
        self._update_position()

    def set_link_text(self, text: str) -> None:
        self.link_label.setText(text)

    def fit_scale(self) -> float:
        """The scale `zoom_to_fit` gives this view (1.0 before a layout)."""
        lay = self.view.current_layout()
        if lay is None or not lay.width or not lay.height:
            return 1.0
        port = self.view.viewport().rect()
        fit = min(port.width() / lay.width, port.height() / lay.height)
        return min(1.5, fit) if fit > 0 else 1.0

    def relative_view(self) -> tuple[float, tuple[float, float]]:
        """Zoom relative to fit, and the centre as a fraction of the drawn graph's size."""
        lay = self.view.current_layout()
        c = self.view.mapToScene(self.view.viewport().rect().center())
        zoom = self.view.transform().m11() / self.fit_scale()
        if lay is None or not lay.width or not lay.height:
            return zoom, (0.5, 0.5)
        return zoom, (c.x() / lay.width, c.y() / lay.height)

    def set_relative_view(self, zoom: float, rel: tuple[float, float]) -> None:
        """Zoom to `zoom` times this view's fit, centred at a fraction of the drawn graph."""
        lay = self.view.current_layout()
        if lay is None or not math.isfinite(zoom) or zoom <= 0:
            return
        scale = zoom * self.fit_scale()
        current = self.view.transform().m11()
        if abs(current - scale) > 1e-6 * scale:
            self.view.scale(scale / current, scale / current)
        self.view.centerOn(rel[0] * lay.width, rel[1] * lay.height)
