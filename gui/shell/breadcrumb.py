"""The breadcrumb bar above the graph: which (sub)graph the view shows, and a way back up."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QWidget

from gui.shell.widgets import tool_button


class BreadcrumbBar(QFrame):
    """Where the view is: the top graph, then each subgraph opened, with a way back up."""

    up_requested = Signal()
    level_requested = Signal(int)  # index of the crumb clicked

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("breadcrumbBar")
        self.up_button = tool_button(
            "▲ Up", "Back to the enclosing graph (Backspace)", self.up_requested, auto_raise=True
        )
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
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        for i, name in enumerate(self._path):
            if i:
                sep = QLabel("›")
                sep.setObjectName("crumbSeparator")
                self._crumbs.addWidget(sep)
            last = i == len(self._path) - 1
            button = tool_button(
                name, slot=lambda _=False, i=i: self.level_requested.emit(i), auto_raise=True
            )
            button.setEnabled(not last)
            button.setProperty("current", last)
            self._crumbs.addWidget(button)
        inside = len(self._path) > 1
        self.up_button.setVisible(inside)
        self.setVisible(inside)


__all__ = ["BreadcrumbBar"]
