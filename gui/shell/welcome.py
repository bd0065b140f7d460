"""The welcome page: what the window shows before a model is open, with ways to open one
(buttons, the samples, the models opened recently)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui.shell.names import APP_NAME, FRAMEWORK_NAMES
from gui.shell.widgets import muted_colour


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
        muted = muted_colour(self)
        for sample in samples:
            framework = FRAMEWORK_NAMES.get(sample.framework, sample.framework)
            item = QListWidgetItem()
            item.setToolTip(sample.description)
            item.setData(Qt.ItemDataRole.UserRole, sample.name)
            label = QLabel(
                f"<b>{html.escape(sample.name)}</b>&nbsp; "
                f"<span style='color:{muted}'>{framework}</span><br>"
                f"<span style='color:{muted}'>{html.escape(sample.description)}</span>"
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


__all__ = ["WelcomePage"]
