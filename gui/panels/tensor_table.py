"""A table of raw values: a QAbstractTableModel reading straight from a 2-D numpy view.

The model never copies the array: cells are formatted on demand as the view scrolls.
An edit is parsed to the array's dtype and reported as `cell_edited(row, col, value)`;
the owner decides what the new full array is.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor

#: Tables show slices of at most this many elements.
MAX_TABLE_ELEMENTS = 10_000

NAN_TEXT = QColor("#d93025")
INF_TEXT = QColor("#c26401")
#: Cell tints at full strength for the most negative / most positive value of the slice.
NEGATIVE_TINT = (59, 76, 192)
POSITIVE_TINT = (180, 4, 38)
TINT_ALPHA = 70

_Index = QModelIndex | QPersistentModelIndex


def parse_value(text: str, dtype: np.dtype) -> Any:
    """`text` as one value of `dtype`; ValueError when it is not one."""
    text = text.strip()
    if dtype == np.bool_:
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"not a boolean: {text!r}")
    if np.issubdtype(dtype, np.complexfloating):
        return dtype.type(complex(text.replace(" ", "")))
    if np.issubdtype(dtype, np.integer):
        number = float(text)
        if not number.is_integer():
            raise ValueError(f"not an integer: {text!r}")
        info = np.iinfo(dtype)
        if not info.min <= number <= info.max:
            raise ValueError(f"{text} is outside the range of {dtype}")
        return dtype.type(int(number))
    return dtype.type(float(text))


def format_value(value: Any) -> str:
    if isinstance(value, np.floating | float):
        return f"{float(value):.6g}"
    if isinstance(value, np.bool_ | bool):
        return "true" if value else "false"
    return str(value)


class ArrayTableModel(QAbstractTableModel):
    """Rows and columns of a 0-, 1- or 2-D array view (1-D shows as one column)."""

    cell_edited = Signal(int, int, object)  # row, column, the new value in the array's dtype

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._array = np.zeros((0, 0))
        self._editable = False
        self._scale = 1.0

    def set_array(self, array: np.ndarray | None, editable: bool = False) -> None:
        self.beginResetModel()
        if array is None:
            array = np.zeros((0, 0))
        self._array = array.reshape(1, 1) if array.ndim == 0 else array
        self._array = self._array[:, None] if self._array.ndim == 1 else self._array
        self._editable = editable
        self._scale = self._tint_scale()
        self.endResetModel()

    def array(self) -> np.ndarray:
        """The 2-D view the table shows."""
        return self._array

    def rowCount(self, parent: _Index | None = None) -> int:  # noqa: N802 - Qt override
        return 0 if parent is not None and parent.isValid() else int(self._array.shape[0])

    def columnCount(self, parent: _Index | None = None) -> int:  # noqa: N802 - Qt override
        return 0 if parent is not None and parent.isValid() else int(self._array.shape[1])

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        value = self._array[index.row(), index.column()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return format_value(value)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"[{index.row()}, {index.column()}] = {value!r}"
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole:
            if isinstance(value, np.floating) and math.isnan(value):
                return NAN_TEXT
            if isinstance(value, np.floating) and math.isinf(value):
                return INF_TEXT
            return None
        if role == Qt.ItemDataRole.BackgroundRole:
            return self._tint(value)
        return None

    def headerData(  # noqa: N802 - Qt override
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return str(section)
        if role == Qt.ItemDataRole.TextAlignmentRole and orientation == Qt.Orientation.Vertical:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        base = super().flags(index)
        if self._editable and index.isValid():
            return base | Qt.ItemFlag.ItemIsEditable
        return base

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if not (self._editable and index.isValid() and role == Qt.ItemDataRole.EditRole):
            return False
        try:
            parsed = parse_value(str(value), self._array.dtype)
        except (ValueError, OverflowError, TypeError):
            return False
        self.cell_edited.emit(index.row(), index.column(), parsed)
        return True

    def _tint_scale(self) -> float:
        a = self._array
        if not a.size or not np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_:
            return 0.0
        if np.issubdtype(a.dtype, np.complexfloating):
            return 0.0
        finite = a[np.isfinite(a)] if np.issubdtype(a.dtype, np.floating) else a
        if not finite.size:
            return 0.0
        return float(np.max(np.abs(finite.astype(np.float64))))

    def _tint(self, value: Any) -> QColor | None:
        if not self._scale or isinstance(value, np.bool_ | np.complexfloating):
            return None
        v = float(value)
        if not math.isfinite(v) or v == 0:
            return None
        r, g, b = NEGATIVE_TINT if v < 0 else POSITIVE_TINT
        return QColor(r, g, b, int(TINT_ALPHA * min(1.0, abs(v) / self._scale)))
