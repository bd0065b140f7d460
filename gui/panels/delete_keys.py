"""Delete / Backspace on a list removes its selected rows (Breakpoints, Watch)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QWidget


class DeleteKeys(QObject):
    """Event filter: Delete or Backspace pressed in `widget` calls `remove`."""

    def __init__(self, widget: QWidget, remove: Callable[[], None]) -> None:
        super().__init__(widget)
        self._remove = remove
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if event.type() == QEvent.Type.KeyPress and event.key() in (  # type: ignore[attr-defined]
            Qt.Key.Key_Delete,
            Qt.Key.Key_Backspace,
        ):
            self._remove()
            return True
        return super().eventFilter(watched, event)
