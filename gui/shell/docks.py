"""The window's panels and its saved layout: docking a panel, first dock sizes, Qt's stray
dock tab bars, and saving / restoring the window's geometry and state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QRect, Qt, QTimer
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QMainWindow,
    QMenu,
    QScrollArea,
    QTabBar,
    QToolBar,
    QWidget,
)

if TYPE_CHECKING:
    from gui.panels.log_panel import LogPanel
    from gui.shell.settings import Settings

    _Base = QMainWindow
else:
    _Base = object

#: The smallest a side panel gets narrow and a bottom panel low; the rest scrolls.
PANEL_MIN_WIDTH = 220
PANEL_MIN_HEIGHT = 80
#: The bottom dock area's first height (with its tab bar), least and most, in pixels.
BOTTOM_DOCK_HEIGHT = (220, 290)


class DockingMixin(_Base):
    """Panels and layout for a QMainWindow (put before it in the bases). The window sets
    `panels` ({} to start), `panels_menu`, `settings`, `log_panel`, `node_dock` and
    `log_dock`, and `_dock_sizes_pending` (True: default dock sizes when first shown)."""

    panels: dict[str, QDockWidget]
    panels_menu: QMenu
    settings: Settings
    log_panel: LogPanel
    node_dock: QDockWidget
    log_dock: QDockWidget
    _dock_sizes_pending: bool

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
        if layout is not None:
            layout.setGeometry(layout.geometry())
        for bar in bars:
            if bar.geometry() == parked:
                bar.setGeometry(kept[bar])
                bar.hide()

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


__all__ = ["BOTTOM_DOCK_HEIGHT", "PANEL_MIN_HEIGHT", "PANEL_MIN_WIDTH", "DockingMixin"]
