"""The Explain panel: short texts about what just happened, newest first.

The texts come from `inspectors.explain` (headless, tested there); this panel only
shows them, each under a small header, with the framework's own message behind a
link. A "Concrete functions" box above lists a TensorFlow function's traces and
asks for a new one; the panel emits requests and never runs model code itself.
"""

from __future__ import annotations

import contextlib
import html
import re
import time
from dataclasses import dataclass

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from inspectors.explain import Explanation

#: Older entries beyond this many are dropped.
MAX_ENTRIES = 40

_CODE = re.compile(r"`([^`]+)`")


def rich(text: str) -> str:
    """Plain text with `code` spans and line breaks as Qt rich text."""
    escaped = html.escape(text, quote=False)
    escaped = _CODE.sub(r"<code style='color:#7a3e00'>\1</code>", escaped)
    return escaped.replace("\n", "<br>").replace("  ", "&nbsp;&nbsp;")


class ConcreteFunctionsBox(QGroupBox):
    """A tf.function's traces: pick one to show, or trace a new one with another shape."""

    trace_selected = Signal(int)  # index into the list
    retrace_requested = Signal(int)  # the new leading (batch) dimension

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Concrete functions", parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.list = QListWidget()
        self.list.setMaximumHeight(72)
        self.list.setWordWrap(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setToolTip("Every concrete graph the tf.function has traced; click to show one")
        self.list.itemClicked.connect(self._on_clicked)
        layout.addWidget(self.list)
        row = QHBoxLayout()
        row.addWidget(QLabel("Batch size"))
        self.batch = QSpinBox()
        self.batch.setRange(1, 4096)
        self.batch.setToolTip("The new leading dimension of the inputs")
        row.addWidget(self.batch)
        self.retrace_button = QPushButton("Trace with new input shape…")
        self.retrace_button.setToolTip(
            "Call the tf.function with inputs of this batch size: a new signature retraces"
        )
        self.retrace_button.clicked.connect(lambda: self.retrace_requested.emit(self.batch.value()))
        row.addWidget(self.retrace_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.status = QLabel()
        self.status.setWordWrap(True)
        layout.addWidget(self.status)

    def set_traces(self, signatures: list[str], current: int) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for i, sig in enumerate(signatures):
            item = QListWidgetItem(f"{i}: {sig}")
            item.setToolTip(sig)
            self.list.addItem(item)
        if 0 <= current < len(signatures):
            self.list.setCurrentRow(current)
            font = self.list.item(current).font()
            font.setBold(True)
            self.list.item(current).setFont(font)
        self.list.blockSignals(False)

    def signatures(self) -> list[str]:
        return [self.list.item(i).toolTip() for i in range(self.list.count())]

    def set_busy(self, busy: bool, text: str = "") -> None:
        self.retrace_button.setEnabled(not busy)
        self.list.setEnabled(not busy)
        self.status.setText(text)

    def _on_clicked(self, item: QListWidgetItem) -> None:
        self.trace_selected.emit(self.list.row(item))


@dataclass
class _Entry:
    explanation: Explanation
    context: str
    expanded: bool = False


class ExplainPanel(QWidget):
    """Explanations of what just happened, newest first, plus a TF function's traces.

    Entries are one HTML document in a QTextBrowser (it wraps and scrolls long texts
    reliably); each entry's "show the framework's message" link toggles its details.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.functions = ConcreteFunctionsBox()
        self.functions.setVisible(False)
        layout.addWidget(self.functions)
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)
        self.browser.anchorClicked.connect(self._on_anchor)
        self.browser.setPlaceholderText("Open a model: what happens is explained here.")
        layout.addWidget(self.browser, 1)
        self._entries: list[_Entry] = []  # newest first
        self._keys: set[str] = set()

    def add(self, explanation: Explanation, context: str = "") -> bool:
        """Show `explanation` on top; False when its key was already shown for this model.

        An explanation that `replaces` takes the place of the entry with its key (a loop
        iteration: the text follows the run instead of staying at the first one).
        """
        if explanation.key:
            if explanation.key in self._keys:
                if not explanation.replaces:
                    return False
                self._entries = [e for e in self._entries if e.explanation.key != explanation.key]
            self._keys.add(explanation.key)
        stamp = time.strftime("%H:%M:%S")
        self._entries.insert(0, _Entry(explanation, f"{context} · {stamp}" if context else stamp))
        del self._entries[MAX_ENTRIES:]
        self._render()
        return True

    def new_model(self) -> None:
        """Another model is open: the texts about the previous one go."""
        self._keys.clear()
        self._entries.clear()
        self._render()

    def entries(self) -> list[Explanation]:
        """The explanations shown, newest first."""
        return [e.explanation for e in self._entries]

    def toggle_details(self, index: int) -> None:
        """Show or hide the framework's message of entry `index` (0 is the newest)."""
        entry = self._entries[index]
        entry.expanded = not entry.expanded
        self._render()

    def details_shown(self, index: int) -> bool:
        return self._entries[index].expanded

    def text(self) -> str:
        """Every shown title and text, newest first (for tests and copying)."""
        return "\n\n".join(f"{e.title}\n{e.text}" for e in self.entries())

    def _on_anchor(self, url: QUrl) -> None:
        if url.scheme() == "details":
            with contextlib.suppress(ValueError, IndexError):
                self.toggle_details(int(url.path()))

    def _render(self) -> None:
        parts = []
        for i, entry in enumerate(self._entries):
            item = entry.explanation
            block = (
                f"<p style='margin-bottom:2px'><b>{rich(item.title)}</b>"
                f" <span style='color:gray'>· {html.escape(entry.context)}</span></p>"
                f"<p style='margin-top:0'>{rich(item.text)}</p>"
            )
            if item.details:
                word = "Hide" if entry.expanded else "Show"
                arrow = "▾" if entry.expanded else "▸"
                block += f"<p><a href='details:{i}'>{arrow} {word} the framework's message</a></p>"
                if entry.expanded:
                    block += (
                        "<pre style='background:#f4f4f4; white-space:pre-wrap'>"
                        f"{html.escape(item.details)}</pre>"
                    )
            parts.append(block)
        self.browser.setHtml("<hr>".join(parts))
