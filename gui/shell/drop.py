"""Opening a model by dropping its file (or SavedModel folder) on the window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QDragEnterEvent, QDropEvent

MODEL_SUFFIXES = (".py", ".pt2", ".keras", ".h5")


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


class ModelDropMixin:
    """Drag-and-drop handlers for a QWidget (put before it in the bases; the widget must
    `setAcceptDrops(True)`): a drop that carries a model calls `open_model(spec)`."""

    def open_model(self, spec: str, strategy: str | None = None) -> None:
        raise NotImplementedError

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


__all__ = ["MODEL_SUFFIXES", "ModelDropMixin", "spec_from_mime"]
