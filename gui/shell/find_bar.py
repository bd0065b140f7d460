"""Finding nodes: the find bar above the graph, and the search that drives the view with it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QLineEdit, QWidget

from gui.graph.graph_view import GraphView
from gui.shell.widgets import tool_button


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
        self.previous_button = tool_button(
            "▲", "Previous match (Shift+Enter, Shift+F3)", self.previous_requested
        )
        self.next_button = tool_button("▼", "Next match (Enter, F3)", self.next_requested)
        close = tool_button("✕", "Close (Esc)", self.close_bar, auto_raise=True)
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

    def text(self) -> str:
        return self.field.text()

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


class GraphSearch:
    """What the find bar does to the view: find, walk the matches, clear on close.

    `searchable` says whether a graph is shown; `show_selection` is told after each
    move, so the window can show the node the view selected.
    """

    def __init__(
        self,
        view: GraphView,
        bar: FindBar,
        searchable: Callable[[], bool],
        show_selection: Callable[[], None],
    ) -> None:
        self.view = view
        self.bar = bar
        self._searchable = searchable
        self._show_selection = show_selection
        bar.closed.connect(self._on_closed)

    def open(self) -> None:
        self.bar.open_bar()
        if self.bar.text():
            self.find(self.bar.text())

    def find(self, text: str) -> int:
        """Search the view for `text`; the first match is selected. Returns the match count."""
        if not self._searchable():
            return 0
        count = self.view.find(text)
        self.bar.set_count(count if text else None)
        self._show_selection()
        return count

    def step(self, forward: bool = True) -> None:
        """Select the next (or previous) match; opens the bar when it is closed."""
        if not self.bar.isVisible():
            self.open()
            return
        if forward:
            self.view.find_next()
        else:
            self.view.find_previous()
        self._show_selection()

    def refresh(self) -> None:
        """Search again for what the open bar holds (a new graph is shown)."""
        if self.bar.isVisible() and self.bar.text():
            self.find(self.bar.text())

    def _on_closed(self) -> None:
        self.view.find("")
        self.view.setFocus()


__all__ = ["FindBar", "GraphSearch"]
