"""The Log panel: what the app did and what went wrong, with tracebacks to hand."""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QFont,
    QGuiApplication,
    QIcon,
    QKeySequence,
    QPainter,
    QPixmap,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QToolButton,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.panels.trees import list_tree

LEVELS = ("info", "warning", "error")
LEVEL_COLOURS = {"info": "#4a90d9", "warning": "#e0a030", "error": "#d9534f"}


@dataclass
class LogEntry:
    time: float
    level: str
    message: str
    details: str = ""

    def text(self, with_details: bool = True) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(self.time))
        line = f"{stamp} {self.level.upper():7} {self.message}"
        if with_details and self.details:
            line += "\n" + self.details.rstrip()
        return line


def _dot(colour: str) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(colour))
    painter.drawEllipse(2, 2, 8, 8)
    painter.end()
    return QIcon(pixmap)


class LogPanel(QWidget):
    """Timestamped messages by level; an entry with a traceback expands to show it."""

    logged = Signal(str, str)  # level, message

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._entries: list[LogEntry] = []
        self._icons = {level: _dot(c) for level, c in LEVEL_COLOURS.items()}

        self.tree = list_tree(
            ["Time", "Level", "Message"], decorated=True, uniform_rows=False, framed=True
        )
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.tree.setWordWrap(True)
        header = self.tree.header()
        header.setStretchLastSection(True)
        self.tree.setColumnWidth(0, 90)
        self.tree.setColumnWidth(1, 90)

        copy = QAction("Copy", self.tree)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        copy.triggered.connect(self.copy_selected)
        self.tree.addAction(copy)

        self.summary = QLabel()
        self.summary.setObjectName("logSummary")
        clear = QToolButton()
        clear.setText("Clear")
        clear.setToolTip("Remove every message")
        clear.setAutoRaise(True)
        clear.clicked.connect(self.clear)
        self.clear_button = clear
        copy_all = QToolButton()
        copy_all.setText("Copy all")
        copy_all.setToolTip("Copy every message and traceback to the clipboard")
        copy_all.setAutoRaise(True)
        copy_all.clicked.connect(self.copy_all)

        bar = QHBoxLayout()
        bar.setContentsMargins(6, 2, 6, 2)
        bar.addWidget(self.summary)
        bar.addStretch(1)
        bar.addWidget(copy_all)
        bar.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        layout.addWidget(self.tree)
        self._update_summary()

    def log(self, level: str, message: str, details: str = "") -> LogEntry:
        """Add a message; `details` (a traceback) is shown when the entry is expanded."""
        if level not in LEVELS:
            level = "info"
        entry = LogEntry(time.time(), level, message, details)
        self._entries.append(entry)
        stamp = time.strftime("%H:%M:%S", time.localtime(entry.time))
        first, _, rest = message.partition("\n")
        item = QTreeWidgetItem([stamp, level, first])
        item.setIcon(1, self._icons[level])
        item.setToolTip(2, message)
        item.setData(0, Qt.ItemDataRole.UserRole, len(self._entries) - 1)
        if level == "error":
            item.setForeground(2, QColor(LEVEL_COLOURS["error"]))
        more = "\n".join(part for part in (rest.strip(), details.rstrip()) if part)
        if more:
            child = QTreeWidgetItem(["", "", more])
            mono = QFont("monospace")
            mono.setStyleHint(QFont.StyleHint.Monospace)
            child.setFont(2, mono)
            child.setFlags(child.flags() | Qt.ItemFlag.ItemIsSelectable)
            child.setData(0, Qt.ItemDataRole.UserRole, len(self._entries) - 1)
            item.addChild(child)
            item.setToolTip(2, message + "\n\n(expand for the traceback)" if details else message)
        self.tree.addTopLevelItem(item)
        self.tree.scrollToItem(item)
        self._update_summary()
        self.logged.emit(level, message)
        return entry

    def info(self, message: str, details: str = "") -> LogEntry:
        return self.log("info", message, details)

    def warning(self, message: str, details: str = "") -> LogEntry:
        return self.log("warning", message, details)

    def error(self, message: str, details: str = "") -> LogEntry:
        return self.log("error", message, details)

    def entries(self) -> list[LogEntry]:
        return list(self._entries)

    def clear(self) -> None:
        self._entries.clear()
        self.tree.clear()
        self._update_summary()

    def copy_selected(self) -> None:
        rows = sorted(
            {item.data(0, Qt.ItemDataRole.UserRole) for item in self.tree.selectedItems()}
        )
        text = "\n".join(self._entries[i].text() for i in rows if i is not None)
        if text:
            QGuiApplication.clipboard().setText(text)

    def copy_all(self) -> None:
        QGuiApplication.clipboard().setText("\n".join(e.text() for e in self._entries))

    def _context_menu(self, pos) -> None:  # noqa: ANN001 - QPoint
        menu = QMenu(self.tree)
        menu.addAction("Copy", self.copy_selected)
        menu.addAction("Copy all", self.copy_all)
        menu.addSeparator()
        menu.addAction("Expand all", self.tree.expandAll)
        menu.addAction("Clear", self.clear)
        menu.exec(self.tree.viewport().mapToGlobal(pos))

    def _update_summary(self) -> None:
        counts = {level: 0 for level in LEVELS}
        for entry in self._entries:
            counts[entry.level] += 1
        if not self._entries:
            self.summary.setText("No messages")
            return
        parts = [_plural(len(self._entries), "message")]
        if counts["warning"]:
            parts.append(
                f"<span style='color:{LEVEL_COLOURS['warning']}'>"
                f"{_plural(counts['warning'], 'warning')}</span>"
            )
        if counts["error"]:
            parts.append(
                f"<span style='color:{LEVEL_COLOURS['error']}'>"
                f"{_plural(counts['error'], 'error')}</span>"
            )
        self.summary.setText(" · ".join(parts))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
