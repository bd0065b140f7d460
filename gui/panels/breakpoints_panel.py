"""The Breakpoints panel: every breakpoint with its switch, description and hit count.

The panel edits the Session's own `Breakpoints` in place. The engine thread reads that
collection while a model runs, so every change here is a single dict or attribute
assignment: an edit builds a whole new `Breakpoint` (same id) and swaps it in.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QToolButton,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.panels.bp_editor import BreakpointEditor
from gui.panels.delete_keys import DeleteKeys
from gui.panels.trees import list_tree
from inspectors.breakpoints import Breakpoint, Breakpoints

ENABLED_COLUMN, DESCRIPTION_COLUMN, HITS_COLUMN = range(3)
BREAKPOINT_RED = "#d9363e"
HIT_BACKGROUND = "#fff3c4"
ID_ROLE = Qt.ItemDataRole.UserRole


def breakpoint_icon(conditional: bool, enabled: bool) -> QIcon:
    """A red dot; a conditional breakpoint carries a white bar, a disabled one is hollow grey."""
    pixmap = QPixmap(14, 14)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    colour = QColor(BREAKPOINT_RED if enabled else "#9a9a9a")
    if enabled:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
    else:
        painter.setPen(QPen(colour, 1.6))
        painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawEllipse(2, 2, 10, 10)
    if conditional:
        painter.setPen(QPen(QColor("white") if enabled else colour, 1.6))
        painter.drawLine(5, 6, 9, 6)
        painter.drawLine(5, 8, 9, 8)
    painter.end()
    return QIcon(pixmap)


def is_stop_at_first(bp: Breakpoint, condition: str) -> bool:
    """A location-less breakpoint on `condition`: what the quick NaN / Inf switches make."""
    return bp.node is None and bp.op is None and bp.scope is None and bp.condition == condition


class BreakpointsPanel(QWidget):
    """Lists, switches, edits and deletes the session's breakpoints.

    `changed` fires after any add, remove, enable or edit, so the window can redraw
    its markers and save the breakpoints with the model. Double-clicking a node
    breakpoint emits `node_activated(node_id)`; any other opens the editor.
    """

    changed = Signal()
    node_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._breakpoints = Breakpoints()
        #: How a node is named in the panel's texts (`conv1 (op_0002)`); the debugger
        #: sets it to the open graph's titles.
        self.title: Callable[[str], str] = str
        self._known_ops: list[str] = []
        self._known_scopes: list[tuple[str, ...]] = []
        self._selected_node: str | None = None
        self._current_hit: int | None = None
        self._shown: dict[int, bool] = {}  # id -> enabled, as last drawn
        self._filling = False
        self.editor: BreakpointEditor | None = None  # the open editor, if any
        self._icons = {(c, e): breakpoint_icon(c, e) for c in (False, True) for e in (False, True)}

        self.tree = list_tree(["", "Breakpoint", "Hits"])
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(ENABLED_COLUMN, QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(DESCRIPTION_COLUMN, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(HITS_COLUMN, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setColumnWidth(ENABLED_COLUMN, 44)
        self.tree.itemChanged.connect(self._on_item_changed)
        self.tree.itemDoubleClicked.connect(self._on_double_click)
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        DeleteKeys(self.tree, self.delete_selected)

        self.add_button = self._button("Add…", "Add a breakpoint: a node, an op type or a scope")
        self.add_button.clicked.connect(lambda: self.open_editor())
        self.edit_button = self._button("Edit…", "Change the selected breakpoint")
        self.edit_button.clicked.connect(self.edit_selected)
        self.delete_button = self._button("Delete", "Delete the selected breakpoints (Del)")
        self.delete_button.clicked.connect(self.delete_selected)
        self.enable_all_button = self._button("Enable all", "Switch every breakpoint on")
        self.enable_all_button.clicked.connect(lambda: self.set_all_enabled(True))
        self.disable_all_button = self._button("Disable all", "Switch every breakpoint off")
        self.disable_all_button.clicked.connect(lambda: self.set_all_enabled(False))

        self.stop_at_nan = QCheckBox("Stop at first NaN")
        self.stop_at_nan.setToolTip("Pause after the first node whose output holds a NaN")
        self.stop_at_nan.toggled.connect(lambda on: self._set_stop_at_first("nan", on))
        self.stop_at_inf = QCheckBox("Stop at first Inf")
        self.stop_at_inf.setToolTip("Pause after the first node whose output holds an Inf")
        self.stop_at_inf.toggled.connect(lambda on: self._set_stop_at_first("inf", on))
        self.summary = QLabel()
        self.summary.setObjectName("bpSummary")

        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        bar.setSpacing(0)
        for button in (self.add_button, self.edit_button, self.delete_button):
            bar.addWidget(button)
        bar.addSpacing(8)
        bar.addWidget(self.enable_all_button)
        bar.addWidget(self.disable_all_button)
        bar.addStretch(1)
        quick = QHBoxLayout()
        quick.setContentsMargins(8, 2, 8, 4)
        quick.setSpacing(14)
        quick.addWidget(self.stop_at_nan)
        quick.addWidget(self.stop_at_inf)
        quick.addStretch(1)
        quick.addWidget(self.summary)
        rule = QFrame()
        rule.setFrameShape(QFrame.Shape.HLine)
        rule.setFrameShadow(QFrame.Shadow.Sunken)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        layout.addLayout(quick)
        layout.addWidget(rule)
        layout.addWidget(self.tree)
        self.setStyleSheet("QLabel#bpSummary { color: palette(placeholder-text); }")
        self._rebuild()

    # -- feeding the panel ----------------------------------------------------------------

    def breakpoints(self) -> Breakpoints:
        return self._breakpoints

    def set_breakpoints(self, breakpoints: Breakpoints) -> None:
        """Show and edit `breakpoints` (the Session's collection, edited in place)."""
        self._breakpoints = breakpoints
        self._current_hit = None
        self._rebuild()

    def refresh(self) -> None:
        """Re-read the collection: hit counts after a pause, breakpoints added elsewhere.

        A change the session made itself (it disables a breakpoint whose expression
        raised) emits `changed`, so the window redraws and saves it like an edit here.
        """
        shown = dict(self._shown)
        self._rebuild()
        if self._shown != shown:
            self.changed.emit()

    def set_hit(self, bp_id: int | None) -> None:
        """Highlight the breakpoint the session paused on (None clears it); re-reads the
        collection as `refresh` does."""
        self._current_hit = bp_id
        self.refresh()

    def describe_hit(self, bp_id: int | None, node_id: str | None, message: str) -> tuple[str, str]:
        """(level, text) of the Log line for a pause on breakpoint `bp_id` after `node_id`.

        The breakpoint is named by what it does ("Breakpoint on fc1 if any NaN hit"),
        never by its id: ids are the session's own and grow with every edit.
        """
        bp = next((b for b in self._breakpoints if b.id == bp_id), None)
        title = self.title
        where = title(node_id) if node_id else node_id
        if bp is None:  # deleted since: the session's words are all there is
            return "info", f"Breakpoint hit after {where}: {message}".rstrip(": ")
        if message and message != bp.describe():  # the session's note: its expression raised
            return "warning", f"Breakpoint {bp.describe(title)} stopped at {where}: {message}"
        at = f" at {where}" if node_id and bp.node != node_id else ""
        return "info", f"Breakpoint {bp.describe(title)} hit{at}"

    def set_known_ops(self, ops: list[str]) -> None:
        self._known_ops = sorted(set(ops))

    def set_known_scopes(self, scopes: list[tuple[str, ...]]) -> None:
        self._known_scopes = sorted({tuple(s) for s in scopes if s})

    def set_selected_node(self, node_id: str | None) -> None:
        """The node the editor offers for "This node"."""
        self._selected_node = node_id

    # -- editing ----------------------------------------------------------------------------

    def add_node_breakpoint(self, node_id: str) -> None:
        """A plain breakpoint on `node_id`, unless one is already there."""
        if not any(bp.node == node_id and bp.condition is None for bp in self._breakpoints):
            self._breakpoints.add(node=node_id)
        self._changed()

    def toggle_node(self, node_id: str) -> None:
        """Add a plain breakpoint on `node_id`, or remove the one there (F9)."""
        self._breakpoints.toggle_node(node_id)
        self._changed()

    def add_breakpoint(self, **kwargs) -> Breakpoint:  # noqa: ANN003 - Breakpoint fields
        bp = self._breakpoints.add(**kwargs)
        self._changed()
        return bp

    def remove(self, bp_id: int) -> None:
        self._breakpoints.remove(bp_id)
        self._changed()

    def set_enabled(self, bp_id: int, enabled: bool) -> None:
        self._breakpoints.enable(bp_id, enabled)
        self._changed()

    def set_all_enabled(self, enabled: bool) -> None:
        for bp in self._breakpoints:
            bp.enabled = enabled
        self._changed()

    def selected_ids(self) -> list[int]:
        return [item.data(ENABLED_COLUMN, ID_ROLE) for item in self.tree.selectedItems()]

    def select(self, bp_id: int) -> None:
        item = self._item(bp_id)
        if item is not None:
            self.tree.setCurrentItem(item)

    def delete_selected(self) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        for bp_id in ids:
            self._breakpoints.remove(bp_id)
        self._changed()

    def open_editor(self, bp_id: int | None = None) -> BreakpointEditor:
        """Open the editor (non-blocking): for a new breakpoint, or for `bp_id`."""
        if self.editor is not None:
            self.editor.close()
        existing = self._breakpoints.get(bp_id) if bp_id is not None else None
        editor = BreakpointEditor(
            self,
            breakpoint=existing,
            node_id=self._selected_node,
            known_ops=self._known_ops,
            known_scopes=self._known_scopes,
        )
        editor.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        editor.accepted.connect(lambda: self._apply_editor(editor, bp_id))
        editor.finished.connect(lambda _r: self._forget_editor(editor))
        self.editor = editor
        editor.open()
        return editor

    def edit_selected(self) -> None:
        ids = self.selected_ids()
        if ids:
            self.open_editor(ids[0])

    # -- internals -----------------------------------------------------------------------

    def _button(self, text: str, tip: str) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        return button

    def _apply_editor(self, editor: BreakpointEditor, bp_id: int | None) -> None:
        kwargs = editor.result_kwargs()
        if bp_id is None or bp_id not in {bp.id for bp in self._breakpoints}:
            bp = self._breakpoints.add(**kwargs)
        else:
            old = self._breakpoints.get(bp_id)
            # Same id, so the dict slot (and the list order) stays; one assignment swaps it.
            bp = self._breakpoints.add(Breakpoint(**kwargs, enabled=old.enabled, id=old.id))
        self._changed()
        self.select(bp.id)

    def _forget_editor(self, editor: BreakpointEditor) -> None:
        if self.editor is editor:
            self.editor = None

    def _changed(self) -> None:
        self._rebuild()
        self.changed.emit()

    def _item(self, bp_id: int) -> QTreeWidgetItem | None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.data(ENABLED_COLUMN, ID_ROLE) == bp_id:
                return item
        return None

    def _rebuild(self) -> None:
        """Mirror the collection: one row per breakpoint, selection kept."""
        selected = set(self.selected_ids())
        current = self.tree.currentItem()
        current_id = current.data(ENABLED_COLUMN, ID_ROLE) if current is not None else None
        bps = list(self._breakpoints)
        self._filling = True
        try:
            while self.tree.topLevelItemCount() > len(bps):
                self.tree.takeTopLevelItem(self.tree.topLevelItemCount() - 1)
            while self.tree.topLevelItemCount() < len(bps):
                item = QTreeWidgetItem()
                item.setFlags(
                    Qt.ItemFlag.ItemIsEnabled
                    | Qt.ItemFlag.ItemIsSelectable
                    | Qt.ItemFlag.ItemIsUserCheckable
                )
                item.setTextAlignment(HITS_COLUMN, Qt.AlignmentFlag.AlignRight)
                self.tree.addTopLevelItem(item)
            for i, bp in enumerate(bps):
                self._fill_item(self.tree.topLevelItem(i), bp)
                self.tree.topLevelItem(i).setSelected(bp.id in selected)
            if current_id is not None:
                item = self._item(current_id)
                if item is not None:
                    self.tree.setCurrentItem(item, 0, QItemSelectionModel.SelectionFlag.NoUpdate)
            self.stop_at_nan.setChecked(
                any(is_stop_at_first(bp, "nan") and bp.enabled for bp in bps)
            )
            self.stop_at_inf.setChecked(
                any(is_stop_at_first(bp, "inf") and bp.enabled for bp in bps)
            )
        finally:
            self._filling = False
        self._shown = {bp.id: bp.enabled for bp in bps}
        enabled = sum(bp.enabled for bp in bps)
        if not bps:
            self.summary.setText("No breakpoints — F9 on a node adds one")
        else:
            self.summary.setText(f"{enabled} of {len(bps)} enabled")
        self._update_buttons()

    def _fill_item(self, item: QTreeWidgetItem, bp: Breakpoint) -> None:
        item.setData(ENABLED_COLUMN, ID_ROLE, bp.id)
        item.setCheckState(
            ENABLED_COLUMN, Qt.CheckState.Checked if bp.enabled else Qt.CheckState.Unchecked
        )
        item.setIcon(ENABLED_COLUMN, self._icons[(bp.condition is not None, bp.enabled)])
        item.setText(DESCRIPTION_COLUMN, bp.describe(self.title))
        item.setToolTip(
            DESCRIPTION_COLUMN,
            bp.describe(self.title) + ("\nDouble-click to select the node" if bp.node else ""),
        )
        item.setText(HITS_COLUMN, str(bp.hits))
        palette = self.tree.palette()
        text_colour = palette.text().color() if bp.enabled else palette.placeholderText().color()
        hit = bp.id == self._current_hit
        font = QFont(self.tree.font())
        font.setBold(hit)
        for column in range(3):
            item.setForeground(column, QBrush(text_colour))
            item.setBackground(
                column, QBrush(QColor(HIT_BACKGROUND)) if hit else QBrush(Qt.BrushStyle.NoBrush)
            )
            item.setFont(column, font)

    def _on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._filling or column != ENABLED_COLUMN:
            return
        bp_id = item.data(ENABLED_COLUMN, ID_ROLE)
        enabled = item.checkState(ENABLED_COLUMN) == Qt.CheckState.Checked
        if bp_id is not None and self._breakpoints.get(bp_id).enabled != enabled:
            self.set_enabled(bp_id, enabled)

    def _on_double_click(self, item: QTreeWidgetItem, column: int) -> None:
        if column == ENABLED_COLUMN:
            return
        bp = self._breakpoints.get(item.data(ENABLED_COLUMN, ID_ROLE))
        if bp.node:
            self.node_activated.emit(bp.node)
        else:
            self.open_editor(bp.id)

    def _set_stop_at_first(self, condition: str, on: bool) -> None:
        if self._filling:
            return
        existing = [bp for bp in self._breakpoints if is_stop_at_first(bp, condition)]
        if on:
            if existing:
                for bp in existing:
                    bp.enabled = True
            else:
                self._breakpoints.add(condition=condition)
        else:
            for bp in existing:
                self._breakpoints.remove(bp.id)
        self._changed()

    def _update_buttons(self) -> None:
        ids = self.selected_ids()
        self.edit_button.setEnabled(len(ids) == 1)
        self.delete_button.setEnabled(bool(ids))
        has_any = len(self._breakpoints) > 0
        self.enable_all_button.setEnabled(has_any)
        self.disable_all_button.setEnabled(has_any)

    def _context_menu(self, pos) -> None:  # noqa: ANN001 - QPoint
        menu = QMenu(self.tree)
        ids = self.selected_ids()
        if len(ids) == 1:
            bp = self._breakpoints.get(ids[0])
            if bp.node:
                menu.addAction("Select node", lambda: self.node_activated.emit(bp.node))
            menu.addAction("Edit…", self.edit_selected)
        if ids:
            menu.addAction("Delete", self.delete_selected)
            menu.addSeparator()
        menu.addAction("Add…", lambda: self.open_editor())
        menu.exec(self.tree.viewport().mapToGlobal(pos))
