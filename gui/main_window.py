"""The main window: the graph view in the centre, panels around it, menus to drive it.

The window owns no model: it asks `ModelLoader` for one, keeps the neutral `Graph`
it gets back (and the opaque capture object, for the debugger engine), and hands the
graph to `GraphView`. Everything a user can do is an action in the menus, so the
debugger's toolbar and panels can be added later with `add_panel` and `menu`.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QPalette,
)
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QTabBar,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gui.graph_view import GraphView
from gui.loader import LoadResult, ModelLoader
from gui.panels.log_panel import LogPanel
from gui.panels.node_panel import NodePanel, element_count, find_node, human_count
from gui.settings import Settings
from inspectors.graph import Graph

APP_NAME = "Graphstep"
MODEL_SUFFIXES = (".py", ".pt2", ".keras", ".h5")
FRAMEWORK_NAMES = {"torch": "PyTorch", "tensorflow": "TensorFlow"}
#: Capture strategies per framework, as offered by the capture chooser.
CAPTURE_FOR = {"torch": ("auto", "fx", "export", "eager"), "tensorflow": ("auto", "function")}
CAPTURE_TIPS = {
    "auto": "Try each strategy in order and keep the first that works",
    "fx": "torch.fx symbolic trace: one node per layer call, best for reading",
    "export": "torch.export: ATen-level ops with module scopes",
    "eager": "Record ops as the model really runs: works for any model that runs",
    "function": "tf.function concrete graph, with control-flow bodies as subgraphs",
}
OVERLAYS = {
    "none": "Op category",
    "params": "Parameter count",
    "size": "Output size",
    # fed by the debugger from the values of the current run
    "absmax": "|value| max",
    "mean": "Value mean",
    "std": "Value std",
    "nan": "NaN / Inf count",
    "gradnorm": "Gradient norm",
}
#: Overlays whose numbers come from a run (`MainWindow.overlay_source`), not the graph.
RUN_OVERLAYS = ("absmax", "mean", "std", "nan", "gradnorm")
#: The smallest a side panel gets narrow and a bottom panel low; the rest scrolls.
PANEL_MIN_WIDTH = 220
PANEL_MIN_HEIGHT = 80
#: The bottom dock area's first height (with its tab bar), least and most, in pixels.
BOTTOM_DOCK_HEIGHT = (220, 290)


# ----------------------------------------------------------------------- overlays


def parameter_counts(graph: Graph) -> dict[str, float]:
    """Parameters per node: a module's `params`, or a parameter node's own size."""
    values: dict[str, float] = {}
    for node_id, attrs in graph.nx.nodes(data=True):
        params = attrs.get("params") or ()
        if params:
            total = sum(int(p[3]) for p in params if len(p) > 3 and p[3])
        elif attrs.get("kind") == "param" and attrs.get("value"):
            total = element_count(attrs["value"][0]) or 0  # a TF variable: what it holds
        elif attrs.get("kind") == "param":
            total = sum(element_count(shape) or 0 for shape, _ in attrs.get("outputs") or ())
        else:
            continue
        if total:
            values[node_id] = float(total)
    return values


def output_sizes(graph: Graph) -> dict[str, float]:
    """Numbers a node produces: the summed element count of its outputs."""
    values: dict[str, float] = {}
    for node_id, outputs in graph.nx.nodes(data="outputs"):
        counts = [element_count(shape) for shape, _ in outputs or ()]
        if counts and all(c is not None for c in counts):
            values[node_id] = float(sum(counts))  # type: ignore[arg-type]
    return values


def spec_from_mime(mime: QMimeData) -> str | None:
    """The model a drag carries: one local .py / .pt2 / .keras file or SavedModel folder."""
    if not mime.hasUrls():
        return None
    for url in mime.urls():
        if not url.isLocalFile():
            continue
        path = Path(url.toLocalFile())
        if path.suffix in MODEL_SUFFIXES and path.is_file():
            return str(path)
        if path.is_dir() and (path / "saved_model.pb").exists():
            return str(path)
    return None


# ------------------------------------------------------------------- small widgets


class BreadcrumbBar(QFrame):
    """Where the view is: the top graph, then each subgraph opened, with a way back up."""

    up_requested = Signal()
    level_requested = Signal(int)  # index of the crumb clicked

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("breadcrumbBar")
        self.up_button = QToolButton()
        self.up_button.setText("▲ Up")
        self.up_button.setToolTip("Back to the enclosing graph (Backspace)")
        self.up_button.setAutoRaise(True)
        self.up_button.clicked.connect(self.up_requested)
        self._crumbs = QHBoxLayout()
        self._crumbs.setSpacing(2)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.setSpacing(6)
        layout.addWidget(self.up_button)
        layout.addLayout(self._crumbs)
        layout.addStretch(1)
        self._path: list[str] = []
        self.set_path([])

    def path(self) -> list[str]:
        return list(self._path)

    def set_path(self, path: list[Any]) -> None:
        self._path = [str(p) for p in path]
        while self._crumbs.count():
            item = self._crumbs.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        for i, name in enumerate(self._path):
            if i:
                sep = QLabel("›")
                sep.setObjectName("crumbSeparator")
                self._crumbs.addWidget(sep)
            button = QToolButton()
            button.setText(name)
            button.setAutoRaise(True)
            last = i == len(self._path) - 1
            button.setEnabled(not last)
            button.setProperty("current", last)
            button.clicked.connect(lambda _=False, i=i: self.level_requested.emit(i))
            self._crumbs.addWidget(button)
        inside = len(self._path) > 1
        self.up_button.setVisible(inside)
        self.setVisible(inside)


class FindBar(QFrame):
    """Search the graph: type to find, Enter / Shift+Enter to walk the matches."""

    search_changed = Signal(str)
    next_requested = Signal()
    previous_requested = Signal()
    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("findBar")
        self.field = QLineEdit()
        self.field.setPlaceholderText("Find nodes by name, op or id")
        self.field.setClearButtonEnabled(True)
        self.field.setMinimumWidth(140)
        self.field.textChanged.connect(self.search_changed)
        self.field.installEventFilter(self)
        self.count_label = QLabel()
        self.count_label.setMinimumWidth(90)
        self.previous_button = QToolButton()
        self.previous_button.setText("▲")
        self.previous_button.setToolTip("Previous match (Shift+Enter, Shift+F3)")
        self.previous_button.clicked.connect(self.previous_requested)
        self.next_button = QToolButton()
        self.next_button.setText("▼")
        self.next_button.setToolTip("Next match (Enter, F3)")
        self.next_button.clicked.connect(self.next_requested)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Close (Esc)")
        close.setAutoRaise(True)
        close.clicked.connect(self.close_bar)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 3, 8, 3)
        layout.addWidget(QLabel("Find"))
        layout.addWidget(self.field)
        layout.addWidget(self.previous_button)
        layout.addWidget(self.next_button)
        layout.addWidget(self.count_label)
        layout.addStretch(1)
        layout.addWidget(close)
        self.hide()

    def open_bar(self) -> None:
        self.show()
        self.field.setFocus()
        self.field.selectAll()

    def close_bar(self) -> None:
        self.hide()
        self.closed.emit()

    def set_count(self, count: int | None) -> None:
        if count is None or not self.field.text():
            self.count_label.setText("")
        elif count == 0:
            self.count_label.setText("<span style='color:#d9534f'>No matches</span>")
        else:
            self.count_label.setText(f"{count} match{'es' if count != 1 else ''}")

    def eventFilter(self, obj: Any, event: Any) -> bool:  # noqa: N802 - Qt override
        if obj is self.field and event.type() == event.Type.KeyPress:
            key = event.key()
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                    self.previous_requested.emit()
                else:
                    self.next_requested.emit()
                return True
            if key == Qt.Key.Key_Escape:
                self.close_bar()
                return True
        return super().eventFilter(obj, event)


class _WrappingList(QListWidget):
    """A list whose item widgets wrap their text: each row is as tall as its text at the
    list's current width."""

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self.fit_rows()

    def fit_rows(self) -> None:
        width = self.viewport().width()
        for row in range(self.count()):
            item = self.item(row)
            widget = self.itemWidget(item)
            if widget is not None:
                height = widget.heightForWidth(width) if widget.hasHeightForWidth() else -1
                if height < 0:
                    height = widget.sizeHint().height()
                hint = QSize(width, height)
                if item.sizeHint() != hint:
                    item.setSizeHint(hint)


class WelcomePage(QWidget):
    """What the window shows before a model is open: ways to open one."""

    open_requested = Signal()
    folder_requested = Signal()
    model_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcomePage")
        title = QLabel(APP_NAME)
        title.setObjectName("welcomeTitle")
        subtitle = QLabel(
            "Open a PyTorch or TensorFlow model to explore its computation graph.\n"
            "Drop a .py, .pt2 or .keras file or a SavedModel folder anywhere on this window."
        )
        subtitle.setObjectName("welcomeSubtitle")
        subtitle.setWordWrap(True)
        open_button = QPushButton("Open model…")
        open_button.setDefault(True)
        open_button.clicked.connect(self.open_requested)
        folder_button = QPushButton("Open SavedModel folder…")
        folder_button.clicked.connect(self.folder_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(open_button)
        buttons.addWidget(folder_button)
        buttons.addStretch(1)

        self.samples = _WrappingList()
        self.samples.setObjectName("welcomeSamples")
        self.recent = QListWidget()
        self.recent.setObjectName("welcomeList")
        for widget in (self.samples, self.recent):
            widget.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            widget.itemActivated.connect(self._activated)
            widget.itemClicked.connect(self._activated)
            widget.setFrameShape(QFrame.Shape.NoFrame)
        lists = QHBoxLayout()
        lists.setSpacing(24)
        for heading, widget, stretch in (("Samples", self.samples, 3), ("Recent", self.recent, 2)):
            column = QVBoxLayout()
            label = QLabel(heading)
            label.setObjectName("welcomeHeading")
            column.addWidget(label)
            column.addWidget(widget)
            lists.addLayout(column, stretch)

        inner = QVBoxLayout()
        inner.setSpacing(10)
        inner.addWidget(title)
        inner.addWidget(subtitle)
        inner.addSpacing(6)
        inner.addLayout(buttons)
        inner.addSpacing(12)
        inner.addLayout(lists, 1)
        box = QWidget()
        box.setLayout(inner)
        box.setMaximumWidth(900)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(48, 40, 48, 32)
        outer.addStretch(1)
        outer.addWidget(box, 6)
        outer.addStretch(1)

    def set_samples(self, samples: list[Any]) -> None:
        self.samples.clear()
        for sample in samples:
            framework = FRAMEWORK_NAMES.get(sample.framework, sample.framework)
            item = QListWidgetItem()
            item.setToolTip(sample.description)
            item.setData(Qt.ItemDataRole.UserRole, sample.name)
            label = QLabel(
                f"<b>{html.escape(sample.name)}</b>&nbsp; "
                f"<span style='color:{_muted(self)}'>{framework}</span><br>"
                f"<span style='color:{_muted(self)}'>{html.escape(sample.description)}</span>"
            )
            label.setWordWrap(True)
            label.setContentsMargins(6, 8, 6, 8)
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            self.samples.addItem(item)
            self.samples.setItemWidget(item, label)
        self.samples.fit_rows()

    def set_recent(self, recent: list[str]) -> None:
        self.recent.clear()
        for spec in recent:
            item = QListWidgetItem(Path(spec).name if "/" in spec else spec)
            item.setToolTip(spec)
            item.setData(Qt.ItemDataRole.UserRole, spec)
            self.recent.addItem(item)
        if not recent:
            item = QListWidgetItem("Nothing opened yet")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.recent.addItem(item)

    def _activated(self, item: QListWidgetItem) -> None:
        spec = item.data(Qt.ItemDataRole.UserRole)
        if spec:
            self.model_requested.emit(str(spec))


def _muted(widget: QWidget) -> str:
    return widget.palette().color(QPalette.ColorRole.PlaceholderText).name()


STYLE_SHEET = """
#breadcrumbBar, #findBar { border-bottom: 1px solid palette(mid); background: palette(window); }
#breadcrumbBar QToolButton[current="true"] { font-weight: bold; color: palette(text); }
#crumbSeparator { color: palette(mid); }
#welcomeTitle { font-size: 26pt; font-weight: 300; }
#welcomeSubtitle { color: palette(placeholder-text); font-size: 11pt; }
#welcomeHeading { font-size: 9pt; font-weight: bold; color: palette(placeholder-text);
                  text-transform: uppercase; letter-spacing: 1px; }
#welcomeList, #welcomeSamples { background: transparent; font-size: 11pt; }
#welcomeList::item { padding: 5px 2px; }
#welcomeList QScrollBar:vertical, #welcomeSamples QScrollBar:vertical
    { background: transparent; width: 10px; margin: 0; }
#welcomeList QScrollBar::handle:vertical, #welcomeSamples QScrollBar::handle:vertical
    { background: palette(mid); border-radius: 4px; min-height: 24px; margin: 0 1px; }
#welcomeList QScrollBar::handle:vertical:hover, #welcomeSamples QScrollBar::handle:vertical:hover
    { background: palette(dark); }
#welcomeList QScrollBar::add-line:vertical, #welcomeList QScrollBar::sub-line:vertical,
#welcomeSamples QScrollBar::add-line:vertical, #welcomeSamples QScrollBar::sub-line:vertical
    { height: 0; }
#welcomeList QScrollBar::add-page:vertical, #welcomeList QScrollBar::sub-page:vertical,
#welcomeSamples QScrollBar::add-page:vertical, #welcomeSamples QScrollBar::sub-page:vertical
    { background: none; }
#statusModel { font-weight: bold; }
#statusBusy { color: palette(placeholder-text); }
"""


# ----------------------------------------------------------------------- the window


def distinct_keys(keys: list[Any] | tuple[Any, ...]) -> list[QKeySequence]:
    """Key sequences for standard keys (their platform's primary binding only: the others
    may be taken, as Ctrl+G of `FindNext` is by Gradients) and strings, each once: the
    same keys twice (`FindNext` is F3 on Linux, and "F3") make the shortcut ambiguous,
    and Qt then fires neither."""
    found: list[QKeySequence] = []
    for key in keys:
        sequence = QKeySequence(key)
        if not sequence.isEmpty() and all(sequence != f for f in found):
            found.append(sequence)
    return found


class MainWindow(QMainWindow):
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
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings or Settings()
        self.show_error_dialogs = show_error_dialogs
        self.error_dialog: QMessageBox | None = None
        self.result: LoadResult | None = None
        self.captured: Any = None  # the core's capture object, for the debugger engine
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

        self.loader = ModelLoader(self)
        self.loader.stage_changed.connect(self._on_stage)
        self.loader.loaded.connect(self._on_loaded)
        self.loader.failed.connect(self._on_failed)
        self.loader.busy_changed.connect(self._on_busy)
        self.loader.cancelled.connect(self._on_cancelled)
        self.loader.stopped.connect(self._on_load_stopped)

        self.view = GraphView()
        self.breadcrumbs = BreadcrumbBar()
        self.find_bar = FindBar()
        self.welcome = WelcomePage()
        self._build_centre()

        self.node_panel = NodePanel()
        self.log_panel = LogPanel()
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

        from .debugger import DebugController  # the run controls and value panels

        self.debugger = DebugController(self)
        from .compare_window import attach_compare  # Teaching: compare side by side

        attach_compare(self)
        from .training import attach_training  # the Training panel and side-by-side window

        attach_training(self)
        from .teaching_panels import attach_explain  # the Explain panel

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
        graph_page = QWidget()
        layout = QVBoxLayout(graph_page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.breadcrumbs)
        layout.addWidget(self.find_bar)
        layout.addWidget(self.view, 1)
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
        self.find_bar.closed.connect(self._on_find_closed)
        self.welcome.open_requested.connect(self.open_file_dialog)
        self.welcome.folder_requested.connect(self.open_folder_dialog)
        self.welcome.model_requested.connect(self.open_model)

    def _action(
        self,
        text: str,
        slot: Any = None,
        shortcut: Any = None,
        tip: str = "",
        checkable: bool = False,
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, list | tuple):
                action.setShortcuts(distinct_keys(shortcut))
            else:
                action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.setCheckable(checkable)
        if slot is not None:
            action.triggered.connect(lambda _=False: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        a = self._action
        K = QKeySequence.StandardKey
        self.act_open = a(
            "&Open model…", self.open_file_dialog, K.Open, "Open a .py, .pt2 or .keras model"
        )
        self.act_open_folder = a(
            "Open Saved&Model folder…",
            self.open_folder_dialog,
            None,
            "Open a TensorFlow SavedModel folder",
        )
        self.act_reload = a("&Reload", self.reload, "Ctrl+R", "Load the model again from disk")
        self.act_cancel = a(
            "Cancel loading", self.cancel_loading, None, "Stop loading the model being loaded"
        )
        self.act_export_png = a(
            "View as &PNG…",
            lambda: self._export_view_dialog("png"),
            None,
            "Save the visible graph as an image",
        )
        self.act_export_svg = a(
            "View as &SVG…",
            lambda: self._export_view_dialog("svg"),
            None,
            "Save the visible graph as a vector drawing",
        )
        self.act_export_graph = {
            fmt: a(
                f"Graph as {label}…",
                lambda fmt=fmt: self._export_graph_dialog(fmt),
                None,
                f"Save the captured graph as {label}",
            )
            for fmt, label in (("json", "JSON"), ("graphml", "GraphML"), ("dot", "DOT"))
        }
        self.act_quit = a("&Quit", self.close, K.Quit, "Quit Graphstep")

        self.act_zoom_in = a(
            "Zoom &in", lambda: self.view.zoom_in(), [K.ZoomIn, "Ctrl+="], "Zoom in"
        )
        self.act_zoom_out = a("Zoom &out", lambda: self.view.zoom_out(), K.ZoomOut, "Zoom out")
        self.act_fit = a(
            "Zoom to &fit", lambda: self.view.zoom_to_fit(), "Ctrl+0", "Show the whole graph"
        )
        self.act_zoom_selection = a(
            "Zoom to &selection",
            lambda: self.view.zoom_to_selection(),
            "Ctrl+E",
            "Centre and zoom on the selected node",
        )
        self.act_expand_all = a(
            "&Expand all scopes", self.expand_all, "Ctrl+Shift+E", "Open every module / name scope"
        )
        self.act_collapse = {
            depth: a(
                f"Collapse to depth &{depth}",
                lambda d=depth: self.collapse_to_depth(d),
                f"Ctrl+{depth}",
                f"Show scopes {depth} level{'s' if depth > 1 else ''} deep, collapsed below",
            )
            for depth in (1, 2, 3)
        }
        self.act_find = a("&Find…", self.open_find, K.Find, "Find nodes by name, op or id")
        self.act_find_next = a("Find &next", self.find_next, [K.FindNext, "F3"], "Next match")
        self.act_find_previous = a(
            "Find pre&vious", self.find_previous, [K.FindPrevious, "Shift+F3"], "Previous match"
        )
        self.act_up = a("&Up to enclosing graph", self.go_up, "Backspace", "Leave the subgraph")

        self.highlight_group = QActionGroup(self)
        self.act_highlight: dict[str, QAction] = {}
        for mode, text, key in (
            ("none", "No highlight", None),
            ("ancestors", "Highlight &ancestors", "Ctrl+Shift+A"),
            ("descendants", "Highlight &descendants", "Ctrl+Shift+D"),
        ):
            act = a(text, lambda m=mode: self.set_highlight_mode(m), key, checkable=True)
            self.highlight_group.addAction(act)
            self.act_highlight[mode] = act
        self.act_highlight["none"].setChecked(True)

        self.overlay_group = QActionGroup(self)
        self.act_overlay: dict[str, QAction] = {}
        for key, text in OVERLAYS.items():
            act = a(
                text,
                lambda k=key: self.set_overlay(k),
                None,
                f"Colour nodes by {text.lower()}",
                checkable=True,
            )
            self.overlay_group.addAction(act)
            self.act_overlay[key] = act
        self.act_overlay["none"].setChecked(True)
        self.act_about = a("&About Graphstep", self.show_about)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.act_open)
        file_menu.addAction(self.act_open_folder)
        self.recent_menu = file_menu.addMenu("Open &recent")
        file_menu.addAction(self.act_reload)
        file_menu.addSeparator()
        export = file_menu.addMenu("&Export")
        export.addAction(self.act_export_png)
        export.addAction(self.act_export_svg)
        export.addSeparator()
        for act in self.act_export_graph.values():
            export.addAction(act)
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)

        self.samples_menu = bar.addMenu("&Samples")
        self.samples_menu.setToolTipsVisible(True)

        view = bar.addMenu("&View")
        for act in (self.act_zoom_in, self.act_zoom_out, self.act_fit, self.act_zoom_selection):
            view.addAction(act)
        view.addSeparator()
        view.addAction(self.act_expand_all)
        for act in self.act_collapse.values():
            view.addAction(act)
        view.addAction(self.act_up)
        view.addSeparator()
        for act in self.act_highlight.values():
            view.addAction(act)
        view.addSeparator()
        overlay = view.addMenu("&Colour nodes by")
        for act in self.act_overlay.values():
            overlay.addAction(act)
        view.addSeparator()
        view.addAction(self.act_find)
        view.addAction(self.act_find_next)
        view.addAction(self.act_find_previous)
        view.addSeparator()
        self.panels_menu = view.addMenu("&Panels")

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.act_about)
        self.menus = {
            "file": file_menu,
            "samples": self.samples_menu,
            "view": view,
            "help": help_menu,
        }

    def _build_toolbar(self) -> None:
        tools = QToolBar("Graph")
        tools.setObjectName("graphToolBar")
        tools.setMovable(True)
        tools.setIconSize(QSize(16, 16))
        tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for act, short in (
            (self.act_open, "Open…"),
            (self.act_fit, "Fit"),
            (self.act_zoom_in, "+"),
            (self.act_zoom_out, "−"),
            (self.act_expand_all, "Expand all"),
            (self.act_collapse[1], "Collapse"),
            (self.act_find, "Find"),
        ):
            act.setIconText(short)
        tools.addAction(self.act_open)
        tools.addAction(self.act_reload)
        tools.addSeparator()
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
        tools.addSeparator()
        tools.addAction(self.act_fit)
        tools.addAction(self.act_zoom_in)
        tools.addAction(self.act_zoom_out)
        tools.addAction(self.act_expand_all)
        tools.addAction(self.act_collapse[1])
        tools.addSeparator()
        tools.addWidget(QLabel(" Colour by "))
        self.overlay_combo = QComboBox()
        for key, text in OVERLAYS.items():
            self.overlay_combo.addItem(text, key)
        self.overlay_combo.currentIndexChanged.connect(
            lambda i: self.set_overlay(self.overlay_combo.itemData(i))
        )
        tools.addWidget(self.overlay_combo)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        tools.addWidget(spacer)
        tools.addAction(self.act_find)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, tools)
        self.toolbar = tools

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
            "Stop loading this model. It stops before its next stage; an import or a "
            "capture already running finishes in the background, and its result is dropped."
        )
        self.cancel_button.clicked.connect(self.cancel_loading)
        for widget in (self.busy_label, self.progress, self.cancel_button):
            status.addWidget(widget)
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

    def add_panel(
        self,
        name: str,
        widget: QWidget,
        area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea,
    ) -> QDockWidget:
        """Dock `widget` as a movable, closable panel listed in View > Panels.

        The panel sits in a scroll area, so a small window shrinks the dock and
        scrolls the panel rather than refusing to get smaller.
        """
        dock = QDockWidget(name, self)
        dock.setObjectName(f"{name.replace(' ', '')}Dock")
        scroll = QScrollArea()
        scroll.setObjectName("panelScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(widget)
        if area in (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea):
            scroll.setMinimumWidth(PANEL_MIN_WIDTH)
        else:
            scroll.setMinimumHeight(PANEL_MIN_HEIGHT)
        dock.setWidget(scroll)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        existing = [d for d in self.panels.values() if self.dockWidgetArea(d) == area]
        self.addDockWidget(area, dock)
        if existing:
            self.tabifyDockWidget(existing[-1], dock)
        self.panels[name] = dock
        self.panels_menu.addAction(dock.toggleViewAction())
        if self.isVisible():
            QTimer.singleShot(0, self.hide_stray_tab_bars)
        return dock

    def hide_stray_tab_bars(self) -> None:
        """Hide dock tab bars the layout no longer places.

        Tabifying docks in a second dock area (and restoring a saved state) leaves
        extra tab bars behind in Qt 6: visible, stale, painted over the panels. The
        layout moves every tab bar it owns, so a bar it leaves where it was parked
        is one of those and is hidden.
        """
        if not self.isVisible():
            return
        parked = QRect(-10_000, -10_000, 1, 1)
        bars = [
            bar
            for bar in self.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly)
            if bar.isVisible()
        ]
        if not bars:
            return
        kept = {bar: bar.geometry() for bar in bars}
        for bar in bars:
            bar.setGeometry(parked)
        layout = self.layout()
        layout.setGeometry(layout.geometry())
        for bar in bars:
            if bar.geometry() == parked:
                bar.setGeometry(kept[bar])
                bar.hide()

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
        if self.captured is None:
            return
        self._set_capture_choice(strategy)
        self.log_panel.info(f"Capturing {self.result.name if self.result else ''} with {strategy}")
        self.loader.recapture(self.captured, strategy)

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
        if self.captured is not None and not self.loader.is_busy():
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
            self.log_panel.warning(
                f"Cancelled loading {self.loader.spec()}: {still_running} (an import or a "
                "capture under way cannot be interrupted); its result is dropped."
            )
        else:
            text = "Loading cancelled"
            self.log_panel.warning(f"Cancelled loading {self.loader.spec()}")
        self.statusBar().showMessage(text, 8000)

    def _on_load_stopped(self, spec: str, where: str) -> None:
        self.log_panel.info(f"The cancelled load of {spec} has stopped {where}")

    def _on_loaded(self, result: LoadResult) -> None:
        self.result = result
        self.captured = result.captured
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
        self.setWindowTitle(f"{result.name} — {APP_NAME}")
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

    def show_captured(self, result: LoadResult) -> None:
        """Show a graph captured elsewhere (e.g. another concrete function) as if just loaded."""
        self._on_loaded(result)

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
        for act in (
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
        ):
            act.setEnabled(has_graph)
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
        action = self.overlay_group.checkedAction()
        for key, act in self.act_overlay.items():
            if act is action:
                return key
        return "none"

    def set_overlay(self, mode: str) -> None:
        """Colour nodes by `mode`: none (op category), params or size."""
        self.act_overlay[mode].setChecked(True)
        index = self.overlay_combo.findData(mode)
        if index != self.overlay_combo.currentIndex():
            self.overlay_combo.blockSignals(True)
            self.overlay_combo.setCurrentIndex(index)
            self.overlay_combo.blockSignals(False)
        graph = self.view.graph()
        if graph is None or mode == "none":
            self.view.set_overlay(None)
            return
        if mode in RUN_OVERLAYS:
            values = self.overlay_source(mode) if self.overlay_source is not None else {}
            log = mode in ("absmax", "gradnorm")  # counts read best on a linear scale
        else:
            values = parameter_counts(graph) if mode == "params" else output_sizes(graph)
            log = True
        self.view.set_overlay(values, title=OVERLAYS[mode], log=log)
        if not values:
            self.statusBar().showMessage(
                f"No node of this graph has a {OVERLAYS[mode].lower()}", 5000
            )

    def open_find(self) -> None:
        self.find_bar.open_bar()
        if self.find_bar.field.text():
            self.find(self.find_bar.field.text())

    def find(self, text: str) -> int:
        """Search the view for `text`; the first match is selected. Returns the match count."""
        if self.result is None:
            return 0
        count = self.view.find(text)
        self.find_bar.set_count(count if text else None)
        self._show_view_selection()
        return count

    def find_next(self) -> None:
        if not self.find_bar.isVisible():
            self.open_find()
            return
        self.view.find_next()
        self._show_view_selection()

    def find_previous(self) -> None:
        if not self.find_bar.isVisible():
            self.open_find()
            return
        self.view.find_previous()
        self._show_view_selection()

    def _on_find_closed(self) -> None:
        self.view.find("")
        self.view.setFocus()

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
        path = Path(path)
        if path.suffix.lower() == ".svg":
            self.view.export_svg(str(path))
        else:
            self.view.export_png(str(path))
        self.log_panel.info(f"Saved the view as {path}")
        return path

    def export_graph(self, path: str | Path, fmt: str | None = None) -> Path:
        """The captured graph as JSON, GraphML or DOT (by `fmt`, else `path`'s suffix)."""
        if self.result is None:
            raise RuntimeError("no model is open")
        path = Path(path)
        fmt = fmt or {".graphml": "graphml", ".dot": "dot", ".gv": "dot"}.get(
            path.suffix.lower(), "json"
        )
        path.write_text(self.result.graph.export(fmt), encoding="utf-8")
        self.log_panel.info(f"Saved the graph as {fmt.upper()} to {path}")
        return path

    def _default_export_name(self, suffix: str) -> str:
        name = self.result.name if self.result else "graph"
        return str(Path.home() / f"{name}.{suffix}")

    def _export_view_dialog(self, fmt: str) -> None:
        filters = {"png": "PNG image (*.png)", "svg": "SVG drawing (*.svg)"}
        path, _ = QFileDialog.getSaveFileName(
            self, "Export view", self._default_export_name(fmt), filters[fmt]
        )
        if path:
            self._guarded(lambda: self.export_view(path))

    def _export_graph_dialog(self, fmt: str) -> None:
        filters = {
            "json": "JSON (*.json)",
            "graphml": "GraphML (*.graphml)",
            "dot": "Graphviz DOT (*.dot *.gv)",
        }
        path, _ = QFileDialog.getSaveFileName(
            self, "Export graph", self._default_export_name(fmt), filters[fmt]
        )
        if path:
            self._guarded(lambda: self.export_graph(path, fmt))

    def _guarded(self, job: Any) -> None:
        try:
            job()
        except OSError as exc:
            self.log_panel.error(f"Could not save: {exc}")
            if self.show_error_dialogs:
                self._show_error("Could not save", str(exc))

    # -- drag and drop -------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if spec_from_mime(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        if spec_from_mime(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        spec = spec_from_mime(event.mimeData())
        if spec:
            event.acceptProposedAction()
            self.open_model(spec)

    # -- window state ---------------------------------------------------------------------

    def _restore_window(self) -> None:
        """The saved size and layout; anything unreadable gives the default one.

        Whatever the saved layout held, the menu bar, the toolbars and the status bar
        come back visible: without them nothing says how to get the panels back.
        """
        geometry = self.settings.window_geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1280, 820)
        state = self.settings.window_state()
        if state is not None:
            restored = self.restoreState(state)  # False leaves the default layout as it was
            self._dock_sizes_pending = not restored
            if not restored:
                self.log_panel.warning(
                    "The saved window layout could not be read: the default layout is used."
                )
            QTimer.singleShot(0, self.hide_stray_tab_bars)
        self.show_essentials()

    def show_essentials(self) -> None:
        """Make the menu bar, the toolbars and the status bar visible."""
        self.menuBar().setVisible(True)
        self.statusBar().setVisible(True)
        for bar in self.findChildren(QToolBar, options=Qt.FindChildOption.FindDirectChildrenOnly):
            bar.setVisible(True)

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        QTimer.singleShot(0, self._after_show)

    def _after_show(self) -> None:
        self.hide_stray_tab_bars()
        if self._dock_sizes_pending:
            self._dock_sizes_pending = False
            self.apply_default_dock_sizes()

    def apply_default_dock_sizes(self) -> None:
        """Most of the window to the graph, a wide side panel, a bottom panel tall
        enough for the Watch and Training plots (a third of the window, within bounds)."""
        width, height = self.width(), self.height()
        side = max(PANEL_MIN_WIDTH, min(420, int(width * 0.28)))
        bottom = max(BOTTOM_DOCK_HEIGHT[0], min(BOTTOM_DOCK_HEIGHT[1], int(height * 0.32)))
        self.resizeDocks([self.node_dock], [side], Qt.Orientation.Horizontal)
        self.resizeDocks([self.log_dock], [bottom], Qt.Orientation.Vertical)

    def save_window(self) -> None:
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.settings.sync()

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


__all__ = ["MainWindow", "human_count", "output_sizes", "parameter_counts"]
