"""The breakpoint editor: where a breakpoint looks and when it stops, checked as you type."""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from inspectors.breakpoints import STATS, Breakpoint

#: Location kinds, in the order the editor lists them.
LOCATIONS = ("node", "op", "scope", "any")

#: (condition stored on the Breakpoint, text in the combo).
CONDITION_CHOICES: tuple[tuple[str | None, str], ...] = (
    (None, "Always"),
    ("nan", "Output has a NaN"),
    ("inf", "Output has an Inf"),
    ("nonfinite", "Output has a NaN or an Inf"),
    ("threshold", "A statistic crosses a value"),
    ("expression", "A Python expression is true"),
)

ERROR_STYLE = "color: #c0392b;"


def scope_text(scope: tuple[str, ...]) -> str:
    return "/".join(scope)


class BreakpointEditor(QDialog):
    """Edit one breakpoint's location and condition; OK stays disabled while it is invalid.

    The dialog never touches a `Breakpoints` collection: the caller reads
    `result_kwargs()` after `accepted` and adds or replaces the breakpoint itself.
    """

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        breakpoint: Breakpoint | None = None,
        node_id: str | None = None,
        known_ops: list[str] | None = None,
        known_scopes: list[tuple[str, ...]] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit breakpoint" if breakpoint else "Add breakpoint")
        self.setMinimumWidth(440)

        # -- where ---------------------------------------------------------------------
        self.node_radio = QRadioButton("This node")
        self.op_radio = QRadioButton("Every op of type")
        self.scope_radio = QRadioButton("Entering scope")
        self.any_radio = QRadioButton("Any node")
        self._location_group = QButtonGroup(self)
        for i, radio in enumerate(
            (self.node_radio, self.op_radio, self.scope_radio, self.any_radio)
        ):
            self._location_group.addButton(radio, i)

        self.node_edit = QLineEdit(node_id or "")
        self.node_edit.setPlaceholderText("node id")
        self.op_combo = QComboBox()
        self.op_combo.setEditable(True)
        self.op_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.op_combo.addItems(sorted(set(known_ops or ())))
        self.op_combo.lineEdit().setPlaceholderText("op type, e.g. Conv2d or MatMul")
        self.scope_combo = QComboBox()
        self.scope_combo.setEditable(True)
        self.scope_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        for scope in sorted({tuple(s) for s in known_scopes or () if s}):
            self.scope_combo.addItem(scope_text(scope), scope)
        self.scope_combo.lineEdit().setPlaceholderText("scope path, e.g. encoder/layer0")
        any_hint = QLabel("Useful with a condition: stop at the first NaN anywhere.")
        any_hint.setObjectName("hint")

        where = QGroupBox("Where")
        grid = QGridLayout(where)
        grid.setColumnStretch(1, 1)
        grid.addWidget(self.node_radio, 0, 0)
        grid.addWidget(self.node_edit, 0, 1)
        grid.addWidget(self.op_radio, 1, 0)
        grid.addWidget(self.op_combo, 1, 1)
        grid.addWidget(self.scope_radio, 2, 0)
        grid.addWidget(self.scope_combo, 2, 1)
        grid.addWidget(self.any_radio, 3, 0)
        grid.addWidget(any_hint, 3, 1)

        # -- when ----------------------------------------------------------------------
        self.condition_combo = QComboBox()
        for value, text in CONDITION_CHOICES:
            self.condition_combo.addItem(text, value)

        self.stat_combo = QComboBox()
        self.stat_combo.addItems(list(STATS))
        self.direction_combo = QComboBox()
        self.direction_combo.addItem("above", True)
        self.direction_combo.addItem("below", False)
        self.value_edit = QLineEdit("0")
        self.value_edit.setPlaceholderText("a number, e.g. 1e4")
        threshold = QWidget()
        row = QHBoxLayout(threshold)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.stat_combo)
        row.addWidget(self.direction_combo)
        row.addWidget(self.value_edit, 1)

        self.expression_edit = QLineEdit()
        self.expression_edit.setPlaceholderText("(t > 1e3).any()")
        expression_hint = QLabel(
            "<code>t</code> is the output as a numpy array; <code>np</code> is numpy."
        )
        expression_hint.setObjectName("hint")
        expression = QWidget()
        col = QVBoxLayout(expression)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.expression_edit)
        col.addWidget(expression_hint)

        self.condition_details = QStackedWidget()
        self.condition_details.addWidget(QWidget())  # nothing more to say
        self.condition_details.addWidget(threshold)
        self.condition_details.addWidget(expression)

        when = QGroupBox("When")
        form = QFormLayout(when)
        form.addRow("Stop if", self.condition_combo)
        form.addRow(self.condition_details)

        # -- result --------------------------------------------------------------------
        self.preview = QLabel()
        self.preview.setObjectName("preview")
        self.preview.setWordWrap(True)
        self.error_label = QLabel()
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)

        layout = QVBoxLayout(self)
        layout.addWidget(where)
        layout.addWidget(when)
        layout.addWidget(self.preview)
        layout.addWidget(self.error_label)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.setStyleSheet(
            "QLabel#hint { color: palette(placeholder-text); }QLabel#preview { font-weight: bold; }"
        )

        if breakpoint is not None:
            self._fill(breakpoint)
        else:
            self.set_location("node" if node_id else "any")
        self._location_group.idToggled.connect(self._on_location_toggled)
        self.node_edit.textChanged.connect(self.validate)
        self.op_combo.currentTextChanged.connect(self._on_op_text)
        self.scope_combo.currentTextChanged.connect(self._on_scope_text)
        self.condition_combo.currentIndexChanged.connect(self._on_condition)
        self.stat_combo.currentIndexChanged.connect(self.validate)
        self.direction_combo.currentIndexChanged.connect(self.validate)
        self.value_edit.textChanged.connect(self.validate)
        self.expression_edit.textChanged.connect(self.validate)
        self._on_condition()

    # -- filling in (also what tests drive) ---------------------------------------------

    def set_location(self, kind: str, value: str | tuple[str, ...] | None = None) -> None:
        """`node`, `op`, `scope` or `any`, with the node id, op type or scope path."""
        radio = (self.node_radio, self.op_radio, self.scope_radio, self.any_radio)[
            LOCATIONS.index(kind)
        ]
        radio.setChecked(True)
        if kind == "node" and value is not None:
            self.node_edit.setText(str(value))
        elif kind == "op" and value is not None:
            self.op_combo.setCurrentText(str(value))
        elif kind == "scope" and value is not None:
            text = value if isinstance(value, str) else scope_text(tuple(value))
            self.scope_combo.setCurrentText(text)
        self._update_enabled()
        self.validate()

    def set_condition(
        self,
        condition: str | None,
        *,
        stat: str | None = None,
        above: bool | None = None,
        value: float | None = None,
        expression: str | None = None,
    ) -> None:
        """Pick a condition and, for thresholds and expressions, its details."""
        self.condition_combo.setCurrentIndex(self.condition_combo.findData(condition))
        if stat is not None:
            self.stat_combo.setCurrentText(stat)
        if above is not None:
            self.direction_combo.setCurrentIndex(0 if above else 1)
        if value is not None:
            self.value_edit.setText(f"{value:g}")
        if expression is not None:
            self.expression_edit.setText(expression)
        self.validate()

    def location(self) -> str:
        return LOCATIONS[max(self._location_group.checkedId(), 0)]

    def condition(self) -> str | None:
        return self.condition_combo.currentData()

    def result_kwargs(self) -> dict[str, Any]:
        """The Breakpoint fields the dialog describes (location, condition and details)."""
        kind = self.location()
        kwargs: dict[str, Any] = {"node": None, "op": None, "scope": None}
        if kind == "node":
            kwargs["node"] = self.node_edit.text().strip()
        elif kind == "op":
            kwargs["op"] = self.op_combo.currentText().strip()
        elif kind == "scope":
            kwargs["scope"] = self._scope_value()
        condition = self.condition()
        kwargs["condition"] = condition
        if condition == "threshold":
            kwargs["stat"] = self.stat_combo.currentText()
            kwargs["above"] = bool(self.direction_combo.currentData())
            kwargs["value"] = self._number() or 0.0
        elif condition == "expression":
            kwargs["expression"] = self.expression_edit.text().strip()
        return kwargs

    def error(self) -> str:
        """Why the breakpoint cannot be made as it stands, or "" when it can."""
        kind = self.location()
        if kind == "node" and not self.node_edit.text().strip():
            return "Select a node on the graph first, or type its id."
        if kind == "op" and not self.op_combo.currentText().strip():
            return "Name an op type."
        if kind == "scope" and not self._scope_value():
            return "Name a scope."
        condition = self.condition()
        if condition == "threshold" and self._number() is None:
            return f"{self.value_edit.text().strip() or 'An empty value'!r} is not a number."
        if condition == "expression":
            text = self.expression_edit.text().strip()
            if not text:
                return "Write an expression over t, the output array."
            try:
                compile(text, "<breakpoint>", "eval")
            except SyntaxError as exc:
                where = f" (column {exc.offset})" if exc.offset else ""
                return f"SyntaxError: {exc.msg}{where}"
        return ""

    def validate(self) -> bool:
        """Show the error (or a preview of the breakpoint) and enable OK accordingly."""
        message = self.error()
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))
        self.ok_button.setEnabled(not message)
        if message:
            self.preview.setText("")
        else:
            kwargs = self.result_kwargs()
            text = Breakpoint(**{**kwargs, "condition": None}).describe()
            self.preview.setText("Stop " + text + self._condition_text(kwargs))
        return not message

    # -- internals ----------------------------------------------------------------------

    def _fill(self, bp: Breakpoint) -> None:
        if bp.node:
            self.set_location("node", bp.node)
        elif bp.op:
            self.set_location("op", bp.op)
        elif bp.scope is not None:
            self.set_location("scope", bp.scope)
        else:
            self.set_location("any")
        self.set_condition(
            bp.condition,
            stat=bp.stat,
            above=bp.above,
            value=bp.value,
            expression=bp.expression,
        )

    def _condition_text(self, kwargs: dict[str, Any]) -> str:
        if kwargs["condition"] is None:
            return ""
        # describe() phrases the condition; only the " if ..." part is wanted here.
        full = Breakpoint(**{**kwargs, "node": None, "op": None, "scope": None}).describe()
        return full.removeprefix("on any node")

    def _scope_value(self) -> tuple[str, ...]:
        text = self.scope_combo.currentText().strip()
        index = self.scope_combo.findText(text)
        if index >= 0 and self.scope_combo.itemData(index) is not None:
            return tuple(self.scope_combo.itemData(index))
        return tuple(part for part in text.split("/") if part)

    def _number(self) -> float | None:
        try:
            value = float(self.value_edit.text().strip())
        except ValueError:
            return None
        return None if math.isnan(value) else value

    def _update_enabled(self) -> None:
        kind = self.location()
        self.node_edit.setEnabled(kind == "node")
        self.op_combo.setEnabled(kind == "op")
        self.scope_combo.setEnabled(kind == "scope")

    def _on_location_toggled(self, _id: int, checked: bool) -> None:
        if checked:
            self._update_enabled()
            self.validate()

    def _on_op_text(self, _text: str) -> None:
        if self.location() != "op":
            self.op_radio.setChecked(True)
        self.validate()

    def _on_scope_text(self, _text: str) -> None:
        if self.location() != "scope":
            self.scope_radio.setChecked(True)
        self.validate()

    def _on_condition(self) -> None:
        condition = self.condition()
        page = {"threshold": 1, "expression": 2}.get(condition or "", 0)
        self.condition_details.setCurrentIndex(page)
        self.condition_details.setVisible(page != 0)
        if page == 2:
            self.expression_edit.setFocus()
        self.validate()
