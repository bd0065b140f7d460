"""The main window's commands: its actions (with their keys and tips), the menus that list
them and the Graph toolbar. A mixin, so each action stays an `act_*` attribute of the
window, where the debugger, the other windows and the tests reach them."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QMenu, QSizePolicy, QToolBar, QWidget

from gui.graph.overlays import OverlayChooser
from gui.shell.export import GRAPH_FORMATS
from gui.shell.widgets import make_action, text_toolbar

if TYPE_CHECKING:
    from gui.graph.graph_view import GraphView
    from gui.shell.export import Exporter

    _Base = QMainWindow
else:
    _Base = object


class WindowActionsMixin(_Base):
    """Builds the window's actions, menus and toolbar (put before QMainWindow in the
    bases). The window provides the slots named below and `_build_capture_chooser`,
    which adds the capture strategy box to the toolbar."""

    if TYPE_CHECKING:
        view: GraphView
        exporter: Exporter
        menus: dict[str, QMenu]

        def open_file_dialog(self) -> None: ...
        def open_folder_dialog(self) -> None: ...
        def reload(self) -> None: ...
        def cancel_loading(self) -> None: ...
        def expand_all(self) -> None: ...
        def collapse_to_depth(self, depth: int) -> None: ...
        def open_find(self) -> None: ...
        def find_next(self) -> None: ...
        def find_previous(self) -> None: ...
        def go_up(self) -> None: ...
        def set_highlight_mode(self, mode: str) -> None: ...
        def set_overlay(self, mode: str) -> None: ...
        def show_about(self) -> None: ...
        def _build_capture_chooser(self, tools: QToolBar) -> None: ...

    def _build_actions(self) -> None:
        a = partial(make_action, self)
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
            "Cancel loading", self.cancel_loading, "Esc", "Stop loading the model being loaded"
        )
        self.act_export_png = a(
            "View as &PNG…",
            lambda: self.exporter.view_dialog("png"),
            None,
            "Save the visible graph as an image",
        )
        self.act_export_svg = a(
            "View as &SVG…",
            lambda: self.exporter.view_dialog("svg"),
            None,
            "Save the visible graph as a vector drawing",
        )
        self.act_export_graph = {
            fmt: a(
                f"Graph as {label}…",
                lambda fmt=fmt: self.exporter.graph_dialog(fmt),
                None,
                f"Save the captured graph as {label}",
            )
            for fmt, label in GRAPH_FORMATS
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

        self.overlays = OverlayChooser(self, self.set_overlay)
        self.overlay_group = self.overlays.group
        self.act_overlay = self.overlays.actions
        self.overlay_combo = self.overlays.combo
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
        tools = text_toolbar(
            "Graph",
            "graphToolBar",
            (
                (self.act_open, "Open…"),
                (self.act_fit, "Fit"),
                (self.act_zoom_in, "+"),
                (self.act_zoom_out, "−"),
                (self.act_expand_all, "Expand all"),
                (self.act_collapse[1], "Collapse"),
                (self.act_find, "Find"),
            ),
        )
        tools.setMovable(True)
        tools.setIconSize(QSize(16, 16))
        tools.addAction(self.act_open)
        tools.addAction(self.act_reload)
        tools.addSeparator()
        self._build_capture_chooser(tools)
        tools.addSeparator()
        tools.addAction(self.act_fit)
        tools.addAction(self.act_zoom_in)
        tools.addAction(self.act_zoom_out)
        tools.addAction(self.act_expand_all)
        tools.addAction(self.act_collapse[1])
        tools.addSeparator()
        tools.addWidget(QLabel(" Colour by "))
        tools.addWidget(self.overlay_combo)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        tools.addWidget(spacer)
        tools.addAction(self.act_find)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, tools)
        self.toolbar = tools


__all__ = ["WindowActionsMixin"]
