"""The Inputs panel: the model's inputs, and a restart with random or loaded ones.

Every action that makes new inputs restarts at once (`restart_requested`), with
arrays of exactly the shapes and dtypes the model runs with now; anything that does
not fit is refused with a message naming what was expected and what was found.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.panels.trees import list_tree
from inspectors.tensors import TensorSummary, summarize

COLUMNS = ("#", "Input", "Shape", "Dtype", "Values")
INDEX, NAME, SHAPE, DTYPE, VALUES = range(len(COLUMNS))
ERROR_STYLE = "color: #c0392b;"
FILE_FILTER = "NumPy arrays (*.npy *.npz);;All files (*)"


class InputError(ValueError):
    """Arrays that cannot stand in for the current inputs; the message says why."""


def shape_text(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def random_like(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An array of `a`'s shape and dtype: normal floats, ints within `a`'s range, random bools."""
    if a.dtype == np.bool_:
        return rng.random(a.shape) < 0.5
    if np.issubdtype(a.dtype, np.complexfloating):
        return (rng.standard_normal(a.shape) + 1j * rng.standard_normal(a.shape)).astype(a.dtype)
    if np.issubdtype(a.dtype, np.floating):
        return rng.standard_normal(a.shape).astype(a.dtype)
    if np.issubdtype(a.dtype, np.integer):
        if a.size == 0:
            return a.copy()
        # Ids and class labels: stay in the range the example used (max inclusive).
        lo, hi = a.min(), a.max()
        return rng.integers(lo, hi, size=a.shape, dtype=a.dtype, endpoint=True)
    return a.copy()  # strings, objects: nothing sensible to draw


def fit(loaded: np.ndarray, like: np.ndarray, what: str) -> np.ndarray:
    """`loaded` as `like`'s dtype, if it has `like`'s shape and converts without loss of kind."""
    if loaded.shape != like.shape:
        raise InputError(
            f"{what}: expected shape {shape_text(like.shape)}, got {shape_text(loaded.shape)}"
        )
    if loaded.dtype == like.dtype:
        return loaded
    if not np.can_cast(loaded.dtype, like.dtype, casting="same_kind"):
        raise InputError(f"{what}: expected dtype {like.dtype}, got {loaded.dtype}")
    return loaded.astype(like.dtype)


class InputsPanel(QWidget):
    """Lists the inputs the model runs with and restarts it with new ones."""

    restart_requested = Signal(object)  # tuple[np.ndarray, ...] shaped like the current inputs

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._arrays: tuple[np.ndarray, ...] = ()
        self._names: list[str] = []
        self._rng = np.random.default_rng()
        self._directory = ""
        self._error = ""

        self.tree = list_tree(COLUMNS, multi_select=False)
        header = self.tree.header()
        header.setStretchLastSection(True)
        for column in (INDEX, NAME, SHAPE, DTYPE):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)

        self.random_button = QPushButton("New random inputs")
        self.random_button.setToolTip(
            "Restart with random inputs of the same shapes and dtypes: normal floats, "
            "integers within the current range, random booleans"
        )
        self.random_button.clicked.connect(self.restart_with_random)
        self.load_button = QPushButton("Load .npy / .npz…")
        self.load_button.setToolTip(
            "Restart with inputs from a file: a .npy for one input, a .npz for several "
            "(matched by name, else by order)"
        )
        self.load_button.clicked.connect(self.load_file)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setObjectName("inputsStatus")
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        bar = QHBoxLayout()
        bar.setContentsMargins(6, 6, 6, 4)
        bar.addWidget(self.random_button)
        bar.addWidget(self.load_button)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        status_row = QHBoxLayout()
        status_row.setContentsMargins(8, 0, 8, 4)
        status_row.addWidget(self.status)
        layout.addLayout(status_row)
        layout.addWidget(self.tree)
        self.setStyleSheet("QLabel#inputsStatus { color: palette(placeholder-text); }")
        self.set_inputs(())

    # -- showing -------------------------------------------------------------------------

    def set_inputs(
        self,
        arrays: tuple[np.ndarray, ...],
        names: list[str] | None = None,
        summaries: list[TensorSummary] | None = None,
    ) -> None:
        """Show the inputs the model runs with (`names` default to `input 0`, `input 1`...).

        Pass `summaries` computed elsewhere for big inputs: summarising a huge array here
        would hold up the GUI thread.
        """
        self._arrays = tuple(np.asarray(a) for a in arrays)
        if names is None or len(names) != len(self._arrays):
            names = [f"input {i}" for i in range(len(self._arrays))]
        self._names = list(names)
        self.tree.clear()
        for i, (name, a) in enumerate(zip(self._names, self._arrays, strict=True)):
            s = summaries[i] if summaries is not None and i < len(summaries) else summarize(a)
            values = s.line().removeprefix(f"{shape_text(s.shape)} {s.dtype}").strip()
            item = QTreeWidgetItem([str(i), name, shape_text(a.shape), str(a.dtype), values])
            item.setTextAlignment(INDEX, Qt.AlignmentFlag.AlignRight)
            item.setToolTip(VALUES, s.line())
            self.tree.addTopLevelItem(item)
        has = bool(self._arrays)
        self.random_button.setEnabled(has)
        self.load_button.setEnabled(has)
        if has:
            self._say("Restart with new values of the same shapes and dtypes.")
        else:
            self._say("Open a model to see its inputs.")

    def inputs(self) -> tuple[np.ndarray, ...]:
        return self._arrays

    def names(self) -> list[str]:
        return list(self._names)

    def error(self) -> str:
        """The message of the last refused action, or ""."""
        return self._error

    # -- new inputs --------------------------------------------------------------------------

    def restart_with_random(self) -> None:
        arrays = tuple(random_like(a, self._rng) for a in self._arrays)
        self._restart(arrays, "Restarted with random inputs.")

    def load_file(self) -> None:
        """Ask for a .npy / .npz file and restart with its arrays if they fit."""
        path, _ = QFileDialog.getOpenFileName(self, "Load inputs", self._directory, FILE_FILTER)
        if path:
            self.load_path(path)

    def load_path(self, path: str | Path) -> bool:
        """Restart with the arrays of `path`; False (and a message) when they do not fit."""
        path = Path(path)
        self._directory = str(path.parent)
        try:
            arrays = self._read(path)
        except InputError as exc:
            self._fail(f"Not loaded: {exc}")
            return False
        except (OSError, ValueError) as exc:
            self._fail(f"Cannot read {path.name}: {exc}")
            return False
        self._restart(arrays, f"Restarted with inputs from {path.name}.")
        return True

    # -- internals ---------------------------------------------------------------------------

    def _read(self, path: Path) -> tuple[np.ndarray, ...]:
        n = len(self._arrays)
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.ndarray):
            if n != 1:
                raise InputError(
                    f"{path.name} holds one array but the model takes {n} inputs: "
                    "save them together with np.savez"
                )
            return (fit(data, self._arrays[0], self._label(0)),)
        with data:
            keys = list(data.files)
            if set(self._names) <= set(keys):
                loaded = [data[name] for name in self._names]
            elif len(keys) == n:
                loaded = [data[key] for key in keys]
            else:
                raise InputError(
                    f"{path.name} holds {len(keys)} arrays ({', '.join(keys)}) but the model "
                    f"takes {n} inputs ({', '.join(self._names)})"
                )
        pairs = zip(loaded, self._arrays, strict=True)
        return tuple(fit(a, like, self._label(i)) for i, (a, like) in enumerate(pairs))

    def _label(self, i: int) -> str:
        name = self._names[i]
        return name if name == f"input {i}" else f"input {i} ({name})"

    def _restart(self, arrays: tuple[np.ndarray, ...], message: str) -> None:
        self.set_inputs(arrays, self._names)
        self._say(message)
        self.restart_requested.emit(arrays)

    def _say(self, message: str) -> None:
        self._error = ""
        self.status.setStyleSheet("")
        self.status.setText(message)

    def _fail(self, message: str) -> None:
        self._error = message
        self.status.setStyleSheet(ERROR_STYLE)
        self.status.setText(message)
