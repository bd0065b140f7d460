"""Small widget helpers shared by the windows and panels.

Each helper stands for a few lines that several places used to spell out again: a tool
button with its text, tip and slot; a column of widgets without margins; a text-only
toolbar; enabling a set of actions or buttons at once; key sequences without repeats.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QPalette
from PySide6.QtWidgets import QToolBar, QToolButton, QVBoxLayout, QWidget


def tool_button(
    text: str,
    tip: str = "",
    slot: Any = None,
    *,
    auto_raise: bool = False,
) -> QToolButton:
    """A QToolButton showing `text`, with `tip` as its tooltip, calling `slot` (a callable
    or a signal) when clicked."""
    button = QToolButton()
    button.setText(text)
    if tip:
        button.setToolTip(tip)
    button.setAutoRaise(auto_raise)
    if slot is not None:
        button.clicked.connect(slot)
    return button


def flush_column(*widgets: QWidget, stretch_last: bool = True) -> QWidget:
    """A widget stacking `widgets` top to bottom without margins or spacing; the last one
    takes the room left over (unless `stretch_last` is false)."""
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    for i, widget in enumerate(widgets):
        last = i == len(widgets) - 1
        layout.addWidget(widget, 1 if last and stretch_last else 0)
    return page


def text_toolbar(
    title: str, object_name: str, icon_texts: Iterable[tuple[QAction, str]] = ()
) -> QToolBar:
    """A toolbar showing its actions as text only, each action with its short toolbar text."""
    bar = QToolBar(title)
    bar.setObjectName(object_name)
    bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    for action, text in icon_texts:
        action.setIconText(text)
    return bar


def set_enabled(items: Iterable[QAction | QWidget], enabled: bool) -> None:
    """Enable (or disable) every action or widget of `items`."""
    for item in items:
        item.setEnabled(enabled)


def muted_colour(widget: QWidget) -> str:
    """The colour name of `widget`'s placeholder text: for secondary text in rich text."""
    return widget.palette().color(QPalette.ColorRole.PlaceholderText).name()


def distinct_keys(keys: Sequence[Any]) -> list[QKeySequence]:
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


def make_action(
    owner: QWidget,
    text: str,
    slot: Callable[..., Any] | None = None,
    shortcut: Any = None,
    tip: str = "",
    checkable: bool = False,
    keys_in_tip: bool = False,
) -> QAction:
    """An action of `owner` (added to it, so its shortcut works anywhere in it): `shortcut`
    is one key or a list of keys, `tip` its status and tool tip (with the keys after it
    when `keys_in_tip`), `slot` what it runs."""
    action = QAction(text, owner)
    if shortcut is not None:
        if isinstance(shortcut, list | tuple):
            action.setShortcuts(distinct_keys(shortcut))
        else:
            action.setShortcut(QKeySequence(shortcut))
    if tip:
        action.setStatusTip(tip)
        keys = [shortcut] if isinstance(shortcut, str) else []
        if isinstance(shortcut, list | tuple):
            keys = [k for k in shortcut if isinstance(k, str)]
        action.setToolTip(f"{tip} ({', '.join(keys)})" if keys_in_tip and keys else tip)
    action.setCheckable(checkable)
    if slot is not None:
        action.triggered.connect(lambda _=False: slot())
    owner.addAction(action)
    return action
