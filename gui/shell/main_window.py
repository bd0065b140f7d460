"""The main window: the graph view in the centre, panels around it, menus to drive it.

The window owns no model: it asks `ModelLoader` for one, keeps the neutral `Graph`
it gets back (and the opaque capture object, for the debugger engine), and hands the
graph to `GraphView`. Everything a user can do is an action in the menus, so the
debugger's toolbar and panels can be added later with `add_panel` and `menu`.

The window composes its parts, each in its own module: the breadcrumb bar
(`gui.shell.breadcrumb`), the find bar and search (`gui.shell.find_bar`), the welcome page
(`gui.shell.welcome`), the overlay table (`gui.graph.overlays`), the exports (`gui.shell.export`),
drag and drop (`gui.shell.drop`), the panels and saved layout (`gui.shell.docks`), the actions,
menus and toolbar (`gui.shell.window_actions`) and the style sheet (`gui.shell.stylesheet`).
This module keeps the loading of models and what shows them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QFrame,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QStackedWidget,
    QToolBar,
    QToolButton,
    QWidget,
)

from gui.debugging.engine import Engine
from gui.debugging.loader import LoadResult, ModelLoader
from gui.debugging.run_model import RunModel
from gui.graph.graph_view import GraphView
from gui.graph.overlays import OVERLAYS, RUN_OVERLAYS, apply_overlay, output_sizes, parameter_counts
from gui.panels.log_panel import LogPanel
from gui.panels.node_panel import NodePanel, find_node, human_count
from gui.shell.breadcrumb import BreadcrumbBar
from gui.shell.docks import BOTTOM_DOCK_HEIGHT, PANEL_MIN_HEIGHT, PANEL_MIN_WIDTH, DockingMixin
from gui.shell.drop import MODEL_SUFFIXES, ModelDropMixin, spec_from_mime
from gui.shell.export import Exporter
from gui.shell.find_bar import FindBar, GraphSearch
from gui.shell.names import APP_NAME, FRAMEWORK_NAMES
from gui.shell.settings import Settings
from gui.shell.stylesheet import STYLE_SHEET
from gui.shell.welcome import WelcomePage
from gui.shell.widgets import distinct_keys, flush_column, set_enabled
from gui.shell.window_actions import WindowActionsMixin
from inspectors.engine import EngineClient

#: Capture strategies per framework, as offered by the capture chooser.
CAPTURE_FOR = {"torch": ("auto", "fx", "export", "eager"), "tensorflow": ("auto", "function")}
CAPTURE_TIPS = {
    "auto": "Try each strategy in order and keep the first that works",
    "fx": "torch.fx symbolic trace: one node per layer call, best for reading",
    "export": "torch.export: ATen-level ops with module scopes",
    "eager": "Record ops as the model really runs: works for any model that runs",
    "function": "tf.function concrete graph, with control-flow bodies as subgraphs",
}


class MainWindow(ModelDropMixin, DockingMixin, WindowActionsMixin, QMainWindow):
    """Graphstep's window: open a model, see its graph, inspect its nodes.

    `settings` defaults to the user's settings (or `GRAPHSTEP_SETTINGS`); tests pass
    their own. `show_error_dialogs=False` logs errors without opening a dialog.
    """

    model_loaded = Signal(object)  # LoadResult, after the graph is handed to the view
    load_failed = Signal(str)
    closing = Signal()  # the window is closing: end running work

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        show_error_dialogs: bool = True,
        client: EngineClient | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings or Settings()
        self.show_error_dialogs = show_error_dialogs
        self.error_dialog: QMessageBox | None = None
        self.result: LoadResult | None = None
        self._pending_spec: str | None = None
        self._dock_sizes_pending = True  # default dock sizes, set when first shown
        #: mode -> {node id: number} for the run overlays; set by the debugger.
        self.overlay_source: Any = None
        self._capture_failures: list[dict[str, str]] = []

        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks
            | QMainWindow.DockOption.AllowTabbedDocks
            | QMainWindow.DockOption.AllowNestedDocks
        )
        self.setStyleSheet(STYLE_SHEET)

        # The engine (in this process unless `client` says otherwise) and the run as its
        # events tell it; the run model subscribes first, so every view reads it updated.
        self.engine = Engine(client, self)
        self.run_model = RunModel(self.engine, self)
        self.loader = ModelLoader(self.engine, self)
        self.loader.stage_changed.connect(self._on_stage)
        self.loader.loaded.connect(self._on_loaded)
        self.loader.failed.connect(self._on_failed)
        self.loader.busy_changed.connect(self._on_busy)
        self.loader.cancelled.connect(self._on_cancelled)
        self.loader.stopped.connect(self._on_load_stopped)

        self.view = GraphView()
        self.breadcrumbs = BreadcrumbBar()
        self.find_bar = FindBar()
        self.search = GraphSearch(
            self.view, self.find_bar, lambda: self.result is not None, self._show_view_selection
        )
        self.welcome = WelcomePage()
        self._build_centre()

        self.node_panel = NodePanel()
        self.log_panel = LogPanel()
        self.exporter = Exporter(
            self, self.view, self.log_panel, self._shown_graph, self._on_export_error
        )
        self.panels: dict[str, QDockWidget] = {}
        self.menus: dict[str, QMenu] = {}
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self.node_dock = self.add_panel(
            "Node", self.node_panel, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.log_dock = self.add_panel(
            "Log", self.log_panel, Qt.DockWidgetArea.BottomDockWidgetArea
        )
        self._build_status_bar()
        self._connect_view()

        from gui.debugging.debugger import DebugController  # the run controls and value panels

        self.debugger = DebugController(self)
        from gui.compare.compare_window import attach_compare  # Teaching: compare side by side

        attach_compare(self)
        from gui.teaching.training import (
            attach_training,  # the Training panel and side-by-side window
        )

        attach_training(self)
        from gui.teaching.teaching_panels import attach_explain  # the Explain panel

        attach_explain(self)
        help_menu = self.menus["help"]  # Help stays last, whatever was added above
        self.menuBar().removeAction(help_menu.menuAction())
        self.menuBar().addAction(help_menu.menuAction())

        self._fill_samples()
        self._refresh_recent()
        self._restore_window()
        self._update_actions()

    # -- construction ---------------------------------------------------------------

    def _build_centre(self) -> None:
        graph_page = flush_column(self.breadcrumbs, self.find_bar, self.view)
        self.stack = QStackedWidget()
        welcome_page = QScrollArea()  # a small window scrolls the welcome page
        welcome_page.setWidgetResizable(True)
        welcome_page.setFrameShape(QFrame.Shape.NoFrame)
        welcome_page.setWidget(self.welcome)
        self.stack.addWidget(welcome_page)
        self.stack.addWidget(graph_page)
        self.setCentralWidget(self.stack)

        self.breadcrumbs.up_requested.connect(self.go_up)
        self.breadcrumbs.level_requested.connect(self._go_to_level)
        self.find_bar.search_changed.connect(self.find)
        self.find_bar.next_requested.connect(self.find_next)
        self.find_bar.previous_requested.connect(self.find_previous)
        self.welcome.open_requested.connect(self.open_file_dialog)
        self.welcome.folder_requested.connect(self.open_folder_dialog)
        self.welcome.model_requested.connect(self.open_model)

    def _build_capture_chooser(self, tools: QToolBar) -> None:
        tools.addWidget(QLabel(" Capture "))
        self.capture_combo = QComboBox()
        self.capture_combo.setObjectName("captureCombo")
        for i, name in enumerate(("auto", "fx", "export", "eager", "function")):
            self.capture_combo.addItem(name, name)
            self.capture_combo.setItemData(i, CAPTURE_TIPS[name], Qt.ItemDataRole.ToolTipRole)
        self._set_capture_choice(self.settings.capture_strategy())
        self.capture_combo.currentIndexChanged.connect(self._on_capture_changed)
        tools.addWidget(self.capture_combo)
        self.capture_note = QLabel()
        self.capture_note.setObjectName("captureNote")
        tools.addWidget(self.capture_note)

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.busy_label = QLabel()
        self.busy_label.setObjectName("statusBusy")
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy: the stages have no measurable length
        self.progress.setMaximumWidth(140)
        self.progress.setMaximumHeight(14)
        self.progress.setTextVisible(False)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip(
            "Stop loading this model (Esc). An engine process of its own is ended at once; "
            "in this process it stops before its next stage and its result is dropped."
        )
        self.cancel_button.clicked.connect(self.cancel_loading)
        for widget in (self.busy_label, self.progress, self.cancel_button):
            # permanent: a menu's or a button's hover help must not hide Cancel
            status.addPermanentWidget(widget)
            widget.hide()
        self.model_label = QLabel("No model")
        self.model_label.setObjectName("statusModel")
        self.framework_label = QLabel()
        self.capture_label = QLabel()
        self.counts_label = QLabel()
        for widget in (
            self.model_label,
            self.framework_label,
            self.capture_label,
            self.counts_label,
        ):
            widget.setContentsMargins(8, 0, 8, 0)
            status.addPermanentWidget(widget)

    def _connect_view(self) -> None:
        view = self.view
        view.node_selected.connect(self._on_node_selected)
        view.node_activated.connect(self._on_node_activated)
        view.scope_selected.connect(
            lambda scope: self.statusBar().showMessage(
                f"Scope {' › '.join(scope)}: double-click to expand it", 6000
            )
        )
        view.breadcrumb_changed.connect(self._on_breadcrumb)
        view.note.connect(lambda text: self.log_panel.info(text))
        view.layout_started.connect(lambda: self.statusBar().showMessage("Laying out…"))
        view.layout_finished.connect(self._on_layout_finished)
        self.node_panel.node_requested.connect(self.select_node)
        self.node_panel.subgraph_requested.connect(self.open_subgraph)

    # -- opening models -----------------------------------------------------------

    def capture_strategy(self) -> str:
        return str(self.capture_combo.currentData())

    def open_model(self, spec: str, strategy: str | None = None) -> None:
        """Start loading `spec` off the GUI thread; the current graph stays until it lands."""
        spec = str(spec)
        if strategy:
            self._set_capture_choice(strategy)
        strategy = self.capture_strategy()
        self._pending_spec = spec
        self.log_panel.info(f"Opening {spec} (capture: {strategy})")
        self.loader.load(spec, strategy)

    def reload(self) -> None:
        """Load the open model again (never the last session's model unasked: its code runs)."""
        if self.result is not None:
            self.open_model(self.result.spec)

    def recapture(self, strategy: str) -> None:
        """Capture the open model again with `strategy`, without loading it again."""
        if self.result is None:
            return
        self._set_capture_choice(strategy)
        self.log_panel.info(f"Capturing {self.result.name} with {strategy}")
        self.loader.recapture(strategy)

    def cancel_loading(self) -> None:
        self.loader.cancel()

    def open_file_dialog(self) -> None:
        start = (
            str(Path(self.result.source_path).parent)
            if self.result and self.result.source_path
            else ""
        )
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open model",
            start,
            "Models (*.py *.pt2 *.keras *.h5);;Model files (*.py);;"
            "Exported PyTorch (*.pt2);;Keras (*.keras *.h5);;All files (*)",
        )
        if path:
            self.open_model(path)

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open TensorFlow SavedModel folder")
        if path:
            self.open_model(path)

    def _set_capture_choice(self, strategy: str) -> None:
        index = self.capture_combo.findData(strategy)
        if index >= 0 and index != self.capture_combo.currentIndex():
            self.capture_combo.blockSignals(True)
            self.capture_combo.setCurrentIndex(index)
            self.capture_combo.blockSignals(False)

    def _on_capture_changed(self, _index: int) -> None:
        strategy = self.capture_strategy()
        self.settings.set_capture_strategy(strategy)
        if self.result is not None and not self.loader.is_busy():
            self.recapture(strategy)
        elif self.loader.is_busy() and self._pending_spec:
            self.open_model(self._pending_spec)

    # -- loader results -------------------------------------------------------------

    def _on_stage(self, text: str) -> None:
        self.busy_label.setText(text)

    def _on_busy(self, busy: bool) -> None:
        for widget in (self.busy_label, self.progress, self.cancel_button):
            widget.setVisible(busy)
        self.busy_label.setText(f"Opening {self.loader.spec()}…" if busy else "")
        self.act_cancel.setEnabled(busy)

    def _on_cancelled(self, still_running: str) -> None:
        """The window is free at once; say honestly what of the load goes on unseen."""
        if still_running:
            text = f"Cancelled; {still_running}"
            self.log_panel.info(
                f"Cancelled loading {self.loader.spec()}: {still_running} (an import or a "
                "capture under way cannot be interrupted); its result is dropped."
            )
        else:
            text = "Loading cancelled"
            self.log_panel.info(f"Cancelled loading {self.loader.spec()}")
        self.statusBar().showMessage(text, 8000)

    def _on_load_stopped(self, spec: str, where: str) -> None:
        self.log_panel.info(f"The cancelled load of {spec} has stopped {where}")

    def _on_loaded(self, result: LoadResult) -> None:
        self.result = result
        self._capture_failures = result.failures
        self.settings.add_recent(result.spec)
        self._refresh_recent()
        self._update_capture_choices(result.framework)
        if self.capture_strategy() not in CAPTURE_FOR.get(result.framework, ()):
            self._set_capture_choice("auto")  # the box held the other framework's choice
        for note in getattr(result, "notes", []):
            self.log_panel.warning(note)
        self.stack.setCurrentIndex(1)
        self.node_panel.show_node(result.graph, None)
        self.find_bar.set_count(None)
        self.view.set_graph(result.graph)
        self.breadcrumbs.set_path([result.name])
        debugger = getattr(self, "debugger", None)
        recorded = " (recording)" if debugger is not None and debugger.replaying() else ""
        self.setWindowTitle(f"{result.name}{recorded} — {APP_NAME}")
        self._update_status()
        graph = result.graph
        self.log_panel.info(
            f"Loaded {result.name} ({FRAMEWORK_NAMES.get(result.framework, result.framework)}, "
            f"capture {result.capture}): {len(graph)} nodes, {graph.number_of_edges()} edges "
            f"in {result.seconds:.1f} s"
        )
        for fail in result.failures:
            self.log_panel.warning(
                f"Capture with {fail.get('strategy')} failed: {fail.get('reason')}",
                str(fail.get("error") or ""),
            )
        mode = self.overlay_mode()
        if mode in RUN_OVERLAYS:  # the new graph has not run: back to the op categories
            self.set_overlay("none")
        elif mode != "none":
            self.set_overlay(mode)
        if self.find_bar.isVisible() and self.find_bar.field.text():
            self.find(self.find_bar.field.text())
        self._update_actions()
        self.model_loaded.emit(result)

    def _on_failed(self, message: str, details: str) -> None:
        self.log_panel.error(message, details)
        self.log_dock.show()
        self.log_dock.raise_()
        self.statusBar().showMessage("Could not open the model: see the Log", 8000)
        if self.show_error_dialogs:
            self._show_error("Could not open the model", message, details)
        self.load_failed.emit(message)

    def _show_error(self, title: str, message: str, details: str = "") -> QMessageBox:
        if self.error_dialog is not None:
            self.error_dialog.close()
            self.error_dialog.deleteLater()
        box = QMessageBox(
            QMessageBox.Icon.Critical, title, message, QMessageBox.StandardButton.Ok, self
        )
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if details:
            box.setDetailedText(details)
        box.open()  # window-modal and non-blocking: the event loop (and tests) keep running
        self.error_dialog = box
        return box

    def _on_layout_finished(self, count: int) -> None:
        self.statusBar().clearMessage()
        self._update_counts()

    # -- status ---------------------------------------------------------------------

    def _update_status(self) -> None:
        result = self.result
        if result is None:
            return
        self.model_label.setText(result.name)
        self.model_label.setToolTip(f"{result.spec}\n{result.description}".strip())
        self.framework_label.setText(FRAMEWORK_NAMES.get(result.framework, result.framework))
        text = f"capture: {result.capture}"
        tip = CAPTURE_TIPS.get(result.capture, "")
        if result.failures:
            failed = ", ".join(str(f.get("strategy")) for f in result.failures)
            text += f"  ⚠ {failed} failed"
            tip += "\n\n" + "\n".join(
                f"{f.get('strategy')} failed: {f.get('reason')}" for f in result.failures
            )
        self.capture_label.setText(text)
        self.capture_label.setToolTip(tip)
        self.capture_combo.setToolTip(tip)
        if result.failures:
            first = result.failures[0]
            self.capture_note.setText(f"  ⚠ {first.get('strategy')} failed")
            self.capture_note.setToolTip(tip)
            self.statusBar().showMessage(
                f"{first.get('strategy')} failed: {first.get('reason')}", 10000
            )
        else:
            self.capture_note.setText("")
            self.capture_note.setToolTip("")
        self._update_counts()

    def _update_counts(self) -> None:
        if self.result is None:
            return
        graph = self.view.graph() or self.result.graph
        text = f"{len(graph):,} nodes · {graph.number_of_edges():,} edges"
        if graph is not self.result.graph:
            text = f"{graph.name or 'subgraph'}: " + text
        collapsed = len(self.view.collapsed_scopes())
        if collapsed:
            text += f" · {collapsed} scope{'s' if collapsed != 1 else ''} collapsed"
        self.counts_label.setText(text)

    def _update_capture_choices(self, framework: str) -> None:
        allowed = CAPTURE_FOR.get(framework, ())
        model = self.capture_combo.model()
        for i in range(self.capture_combo.count()):
            item = model.item(i)  # type: ignore[attr-defined]
            item.setEnabled(self.capture_combo.itemData(i) in allowed)

    def _update_actions(self) -> None:
        has_graph = self.result is not None
        set_enabled(
            (
                self.act_reload,
                self.act_export_png,
                self.act_export_svg,
                self.act_fit,
                self.act_zoom_in,
                self.act_zoom_out,
                self.act_zoom_selection,
                self.act_expand_all,
                self.act_find,
                self.act_find_next,
                self.act_find_previous,
                *self.act_export_graph.values(),
                *self.act_collapse.values(),
            ),
            has_graph,
        )
        self.act_reload.setEnabled(has_graph)
        self.act_cancel.setEnabled(self.loader.is_busy())

    # -- menus fed by data ------------------------------------------------------------

    def _fill_samples(self) -> None:
        from inspectors.target import list_samples  # parses the files; imports no framework

        try:
            samples = list_samples()
        except Exception as exc:  # a broken sample file must not stop the app
            self.log_panel.warning(f"Could not list the samples: {exc}")
            samples = []
        self.samples_menu.clear()
        for framework in ("torch", "tensorflow"):
            group = [s for s in samples if s.framework == framework]
            if not group:
                continue
            self.samples_menu.addSection(FRAMEWORK_NAMES[framework])
            for sample in group:
                act = self.samples_menu.addAction(sample.name)
                act.setStatusTip(sample.description)
                act.setToolTip(sample.description)
                act.triggered.connect(lambda _=False, n=sample.name: self.open_model(n))
        self.samples = samples
        self.welcome.set_samples(samples)

    def _refresh_recent(self) -> None:
        recent = self.settings.recent_models()
        self.recent_menu.clear()
        for spec in recent:
            act = self.recent_menu.addAction(spec)
            act.triggered.connect(lambda _=False, s=spec: self.open_model(s))
        if recent:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", self._clear_recent)
        else:
            self.recent_menu.addAction("No recent models").setEnabled(False)
        self.welcome.set_recent(recent)

    def _clear_recent(self) -> None:
        self.settings.clear_recent()
        self._refresh_recent()

    # -- view commands ------------------------------------------------------------------

    def select_node(self, node_id: str) -> None:
        """Select `node_id` in the view (centred) and show it in the Node panel."""
        self.view.select(node_id, center=True)
        self._on_node_selected(node_id)

    def expand_all(self) -> None:
        self.view.expand_all()

    def collapse_to_depth(self, depth: int) -> None:
        self.view.collapse_to_depth(depth)

    def set_highlight_mode(self, mode: str) -> None:
        self.act_highlight[mode].setChecked(True)
        self.view.set_highlight_mode(mode)

    def overlay_mode(self) -> str:
        return self.overlays.mode()

    def set_overlay(self, mode: str) -> None:
        """Colour nodes by overlay `mode` (a key of `gui.graph.overlays.OVERLAYS`)."""
        self.overlays.show_mode(mode)
        note = apply_overlay(self.view, mode, self.overlay_source)
        if note:
            self.statusBar().showMessage(note, 5000)

    def open_find(self) -> None:
        self.search.open()

    def find(self, text: str) -> int:
        """Search the view for `text`; the first match is selected. Returns the match count."""
        return self.search.find(text)

    def find_next(self) -> None:
        self.search.step(forward=True)

    def find_previous(self) -> None:
        self.search.step(forward=False)

    def _show_view_selection(self) -> None:
        selected = self.view.selected()
        if selected and selected != self.node_panel.node_id():
            self._on_node_selected(selected)

    def open_subgraph(self, node_id: str) -> bool:
        return bool(self.view.open_subgraph(node_id))

    def go_up(self) -> None:
        if len(self.breadcrumbs.path()) > 1:
            self.view.go_up()

    def _go_to_level(self, index: int) -> None:
        self.view.go_to_level(index)

    def _on_node_selected(self, node_id: str) -> None:
        graph = self.view.graph() if self.result else None
        if graph is not None and node_id and node_id not in graph:
            graph = self.result.graph  # a node of an enclosing graph (a link to follow)
        self.node_panel.show_node(graph, node_id or None)
        if node_id and graph is not None:
            found = find_node(graph, node_id)
            if found:
                attrs = found[1]
                outs = ", ".join(
                    f"{'?' if s is None else list(s)} {d or ''}".strip()
                    for s, d in attrs.get("outputs") or ()
                )
                self.statusBar().showMessage(
                    f"{attrs.get('label')}  ·  {attrs.get('op')}  ·  {outs}", 6000
                )

    def _on_node_activated(self, node_id: str) -> None:
        self._on_node_selected(node_id)

    def _on_breadcrumb(self, path: list[Any]) -> None:
        self.breadcrumbs.set_path(path)
        self.act_up.setEnabled(len(path) > 1)
        if self.overlay_mode() != "none":
            self.set_overlay(self.overlay_mode())  # values for the graph now shown
        self._update_counts()

    # -- exports --------------------------------------------------------------------

    def export_view(self, path: str | Path) -> Path:
        """The view as PNG or SVG, by `path`'s suffix."""
        return self.exporter.export_view(path)

    def export_graph(self, path: str | Path, fmt: str | None = None) -> Path:
        """The captured graph as JSON, GraphML or DOT (by `fmt`, else `path`'s suffix)."""
        return self.exporter.export_graph(path, fmt)

    def _shown_graph(self) -> tuple[str, Any] | None:
        return (self.result.name, self.result.graph) if self.result is not None else None

    def _on_export_error(self, title: str, message: str) -> None:
        if self.show_error_dialogs:
            self._show_error(title, message)

    # -- closing ----------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.closing.emit()
        self.save_window()
        self.loader.cancel()
        if self.error_dialog is not None:
            self.error_dialog.close()
        super().closeEvent(event)

    def show_about(self) -> None:
        box = QMessageBox(self)
        box.setWindowTitle("About Graphstep")
        box.setIcon(QMessageBox.Icon.Information)
        box.setText(
            "<b>Graphstep</b><br>A debugger for neural-network computation graphs.<br><br>"
            "Open a PyTorch module or a TensorFlow function, explore its graph, and "
            "inspect each node's shapes, parameters and source."
        )
        box.open()
        self._about = box


__all__ = [
    "APP_NAME",
    "BOTTOM_DOCK_HEIGHT",
    "CAPTURE_FOR",
    "CAPTURE_TIPS",
    "FRAMEWORK_NAMES",
    "MODEL_SUFFIXES",
    "OVERLAYS",
    "PANEL_MIN_HEIGHT",
    "PANEL_MIN_WIDTH",
    "RUN_OVERLAYS",
    "MainWindow",
    "distinct_keys",
    "human_count",
    "output_sizes",
    "parameter_counts",
    "spec_from_mime",
]
