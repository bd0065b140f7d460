"""The Tensor panel: one node output's value or gradient, seen as numbers, pictures and health.

The window hands it summaries and (when kept) full numpy arrays; the panel never asks
the engine for anything except through its signals:

- `value_edited(node_id, index, array)`: the user overrode the value (edited a cell,
  scaled, zeroed, loaded a `.npy`...); the session should replace it and go on.
- `fetch_requested(node_id, index)`: the full value is not here (dropped past the
  memory budget, or never kept); the session should recompute it and show it again.
- `mode_changed(mode)`: the user switched between "value" and "gradient".

Widgets, named for tests and inspection:

- `output_combo`: the output selector (hidden for single-output nodes).
- `value_button`, `gradient_button`: the value / gradient switch.
- `save_button`, `override_button` (menu `override_menu`): save `.npy`, override.
- `summary_view` (`SummaryView`): `summary_view.stats_label`, `summary_view.health_labels`.
- `dropped_note`, `note_label`, `recompute_button`: shown when the full value is missing.
- `message_label`: inline errors and confirmations (no modal boxes).
- `histogram_plot` (`HistogramPlot`, bars in `histogram_plot.bars`).
- `view_tabs`: Heatmap / Line / Table pages.
- `heatmap_plot` (`HeatmapPlot`): `heatmap_image` is its ImageItem, `heatmap_plot.colorbar`.
  `slice_spins` holds a QSpinBox per picked leading dimension (batch and channel for
  4-D), `layout_combo` NCHW/NHWC and `grid_check` the channel grid for 4-D; `grid`
  is the drawn `ChannelGrid` (None when a single slice is drawn); `heatmap_info`
  describes the slice or the value under the mouse.
- `line_plot` (`LinePlot`) for 1-D values.
- `table` (QTableView) over `table_model` (`ArrayTableModel`), for slices of at most
  `MAX_TABLE_ELEMENTS` values; editable in value mode.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QWheelEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractScrollArea,
    QApplication,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTabBar,
    QTableView,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gui.panels import tensor_overrides as overrides
from gui.panels.tensor_plots import HeatmapPlot, HistogramPlot, LinePlot, swatch
from gui.panels.tensor_slices import (
    NAN_RGBA,
    NEG_INF_RGBA,
    POS_INF_RGBA,
    ChannelGrid,
    SliceLayout,
    channel_grid,
    display_image,
    full_index,
    guess_layout,
    line_points,
    nonfinite_rgba,
    slice_layout,
    symmetric_levels,
    take_slice,
)
from gui.panels.tensor_summary import TEXT_SOFT, SummaryView, format_count, shape_text
from gui.panels.tensor_table import MAX_TABLE_ELEMENTS, ArrayTableModel, format_value
from inspectors.tensors import TensorSummary, summarize

VALUE, GRADIENT = "value", "gradient"
HEATMAP_TAB, LINE_TAB, TABLE_TAB = 0, 1, 2

ACCENT = "#1a73e8"
SEGMENT_STYLE = (
    "QToolButton { border: 1px solid #c5cfdc; padding: 2px 9px; background: #f6f8fa;"
    " color: #33404d; }"
    "QToolButton:checked { background: " + ACCENT + "; border-color: " + ACCENT + ";"
    " color: white; }"
    "QToolButton:disabled { color: #a3acb8; }"
    "QToolButton#left { border-top-left-radius: 3px; border-bottom-left-radius: 3px; }"
    "QToolButton#right { border-top-right-radius: 3px; border-bottom-right-radius: 3px;"
    " border-left: none; }"
)
MESSAGE_STYLES = {
    "error": "QLabel { background: #fce8e6; color: #a50e0e; border-radius: 3px; padding: 4px 6px; }",
    "info": "QLabel { background: #e8f0fe; color: #174ea6; border-radius: 3px; padding: 4px 6px; }",
}
NOTE_STYLE = (
    "QFrame#dropped_note { background: #fef7e0; border: 1px solid #f9e3a1; border-radius: 4px; }"
    "QLabel { color: #5c4400; }"
)


def _view_page() -> tuple[QWidget, QVBoxLayout]:
    """A page of the view tabs (Heatmap, Table) and the column its parts stack in."""
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.setContentsMargins(0, 4, 0, 0)
    layout.setSpacing(3)
    return page, layout


def _soft_note() -> QLabel:
    """A wrapping label in the soft text colour, for a line that explains a view."""
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {TEXT_SOFT};")
    return label


class ScrollThroughTabBar(QTabBar):
    """A tab bar the mouse wheel passes over: the wheel scrolls the panel around it.

    Qt's tab bar turns the wheel into a tab switch, so scrolling the Tensor panel
    flipped Heatmap / Line / Table whenever the pointer crossed the tabs.
    """

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        area = self.parentWidget()
        while area is not None and not isinstance(area, QAbstractScrollArea):
            area = area.parentWidget()
        if area is None:
            event.ignore()  # nothing scrolls here: let a parent have it
            return
        QApplication.sendEvent(area.verticalScrollBar(), event)


class TensorPanel(QWidget):
    """Shows one node's output value or gradient: summary, histogram, heatmap / line, table."""

    value_edited = Signal(str, int, object)  # node_id, output index, new numpy array
    fetch_requested = Signal(str, int)  # node_id, output index: recompute the full value
    mode_changed = Signal(str)  # "value" | "gradient", when the user (or set_mode) switches

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._node_id: str | None = None
        self._label = ""
        self._summaries: list[TensorSummary | None] = []
        self._values: list[np.ndarray | None] = []
        self._grad_summaries: list[TensorSummary | None] | None = None
        self._grads: list[np.ndarray | None] | None = None
        self._dropped: list[bool] = []
        self._output = 0
        self._wanted_mode = VALUE
        self._mode = VALUE
        self._layout_name = "NCHW"
        self._slice: SliceLayout | None = None
        self._slice_key: tuple | None = None
        self._four_d = False
        self._step = 1
        self._last_dir = ""
        self.grid: ChannelGrid | None = None
        self.slice_spins: list[QSpinBox] = []
        self.setMinimumWidth(200)
        self._build()
        self.clear()

    # -- construction ---------------------------------------------------------------

    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.stack = QStackedWidget()
        outer.addWidget(self.stack)

        self.placeholder_label = QLabel()
        self.placeholder_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder_label.setWordWrap(True)
        self.placeholder_label.setStyleSheet(f"color: {TEXT_SOFT}; padding: 12px;")
        self.stack.addWidget(self.placeholder_label)

        page = QWidget()
        self.stack.addWidget(page)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(6, 6, 6, 4)
        layout.setSpacing(5)

        header = QHBoxLayout()
        header.setSpacing(6)
        self.title_label = QLabel()
        self.title_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.title_label.setWordWrap(True)  # a narrow panel wraps it rather than cut it
        header.addWidget(self.title_label, 1)
        self.value_button = self._segment("Value", "left")
        self.gradient_button = self._segment("Gradient", "right")
        self.mode_group = QButtonGroup(self)
        self.mode_group.setExclusive(True)
        self.mode_group.addButton(self.value_button)
        self.mode_group.addButton(self.gradient_button)
        self.value_button.setChecked(True)
        self.value_button.toggled.connect(lambda on: on and self.set_mode(VALUE))
        self.gradient_button.toggled.connect(lambda on: on and self.set_mode(GRADIENT))
        segments = QHBoxLayout()
        segments.setSpacing(0)
        segments.addWidget(self.value_button)
        segments.addWidget(self.gradient_button)
        header.addLayout(segments)
        layout.addLayout(header)

        tools = QHBoxLayout()
        tools.setSpacing(4)
        self.output_combo = QComboBox()
        self.output_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.output_combo.setMinimumContentsLength(12)
        self.output_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.output_combo.setToolTip("Which output of the node to show")
        self.output_combo.currentIndexChanged.connect(self._on_output_chosen)
        tools.addWidget(self.output_combo, 1)
        tools.addStretch(0)  # keeps the buttons right-aligned while the selector is hidden
        tools.addStretch(1)
        self.save_button = QToolButton()
        self.save_button.setText("Save .npy")
        self.save_button.setToolTip("Save the array shown as a NumPy .npy file")
        self.save_button.clicked.connect(lambda: self.save_npy())
        tools.addWidget(self.save_button)
        #: values that cannot be changed (a recording): no override offered
        self.read_only = False
        self.override_button = QToolButton()
        self.override_button.setText("Override")
        self.override_button.setToolTip("Replace this output's value and go on from here")
        self.override_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.override_menu = QMenu(self.override_button)
        self.scale_action = self._menu_action("Scale by factor…", lambda: self.override_scale())
        self.zero_action = self._menu_action("Zero", self.override_zero)
        self.abs_action = self._menu_action("Absolute value", self.override_abs)
        self.finite_action = self._menu_action("Replace NaN / Inf with 0", self.override_nonfinite)
        self.override_menu.addSeparator()
        self.load_action = self._menu_action("Load from .npy…", lambda: self.override_load())
        self.override_button.setMenu(self.override_menu)
        tools.addWidget(self.override_button)
        layout.addLayout(tools)

        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setVisible(False)
        layout.addWidget(self.message_label)

        self.summary_view = SummaryView()
        self.summary_view.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        layout.addWidget(self.summary_view)

        self.dropped_note = QFrame()
        self.dropped_note.setObjectName("dropped_note")
        self.dropped_note.setStyleSheet(NOTE_STYLE)
        note = QHBoxLayout(self.dropped_note)
        note.setContentsMargins(8, 5, 5, 5)
        self.note_label = QLabel()
        self.note_label.setWordWrap(True)
        note.addWidget(self.note_label, 1)
        self.recompute_button = QPushButton("Recompute")
        self.recompute_button.setToolTip("Run the graph again up to this node to get its value")
        self.recompute_button.clicked.connect(self._on_recompute)
        note.addWidget(self.recompute_button, 0, Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(self.dropped_note)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        self.histogram_plot = HistogramPlot()
        self.histogram_plot.setMinimumHeight(60)
        self.splitter.addWidget(self.histogram_plot)
        self.view_tabs = QTabWidget()
        self.view_tabs.setTabBar(ScrollThroughTabBar(self.view_tabs))
        self.view_tabs.setDocumentMode(True)
        self.view_tabs.addTab(self._build_heatmap_page(), "Heatmap")
        self.line_plot = LinePlot()
        self.line_plot.setMinimumHeight(120)
        self.view_tabs.addTab(self.line_plot, "Line")
        self.view_tabs.addTab(self._build_table_page(), "Table")
        self.view_tabs.currentChanged.connect(lambda _i: self._sync_heatmap_options())
        self.splitter.addWidget(self.view_tabs)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([110, 400])
        layout.addWidget(self.splitter, 1)
        self.filler = QWidget()  # takes the height the views leave when no full value is here
        self.filler.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        layout.addWidget(self.filler, 1)

    def _segment(self, text: str, side: str) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setObjectName(side)
        button.setCheckable(True)
        button.setStyleSheet(SEGMENT_STYLE)
        return button

    def _menu_action(self, text: str, slot) -> QAction:
        action = QAction(text, self)
        action.triggered.connect(lambda _checked=False: slot())
        self.override_menu.addAction(action)
        return action

    def _build_heatmap_page(self) -> QWidget:
        page, layout = _view_page()
        self.slice_bar = QHBoxLayout()
        self.slice_bar.setSpacing(4)
        self.spin_row = QHBoxLayout()
        self.spin_row.setSpacing(4)
        self.slice_bar.addLayout(self.spin_row)
        self.slice_bar.addStretch(1)
        # 4-D options get a row of their own, so the view tabs stay readable.
        self.heatmap_options = QWidget()
        options = QHBoxLayout(self.heatmap_options)
        options.setContentsMargins(0, 0, 2, 0)
        options.setSpacing(6)
        self.layout_combo = QComboBox()
        self.layout_combo.addItems(["NCHW", "NHWC"])
        self.layout_combo.setToolTip("Axis order of this 4-D activation")
        self.layout_combo.currentTextChanged.connect(self._on_layout_chosen)
        options.addWidget(self.layout_combo)
        self.grid_check = QCheckBox("Grid")
        self.grid_check.setToolTip(
            "Tile every channel of the selected batch item; double-click a tile to open it"
        )
        self.grid_check.toggled.connect(lambda _on: self._render_data(keep_view=False))
        options.addWidget(self.grid_check)
        options.addStretch(1)
        layout.addWidget(self.heatmap_options)
        layout.addLayout(self.slice_bar)
        self.heatmap_plot = HeatmapPlot()
        self.heatmap_plot.setMinimumHeight(150)
        self.heatmap_plot.pixel_hovered.connect(self._on_pixel_hovered)
        self.heatmap_plot.pixel_left.connect(self._show_slice_info)
        self.heatmap_plot.pixel_double_clicked.connect(self._on_pixel_double_clicked)
        layout.addWidget(self.heatmap_plot, 1)
        self.heatmap_info = _soft_note()
        self.heatmap_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.heatmap_info)
        self._slice_text = ""
        return page

    def _build_table_page(self) -> QWidget:
        page, layout = _view_page()
        self.table_note = _soft_note()
        layout.addWidget(self.table_note)
        self.table_model = ArrayTableModel(self)
        # Queued: the table's editor finishes committing before the table is rebuilt.
        self.table_model.cell_edited.connect(
            self._on_cell_edited, Qt.ConnectionType.QueuedConnection
        )
        self.table = QTableView()
        self.table.setModel(self.table_model)
        self.table.setAlternatingRowColors(False)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ContiguousSelection)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        self.table.setStyleSheet("QTableView { font-family: monospace; gridline-color: #e3e7ec; }")
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.horizontalHeader().setDefaultSectionSize(72)
        layout.addWidget(self.table, 1)
        return page

    # -- public API -----------------------------------------------------------------

    @property
    def heatmap_image(self):
        """The heatmap's pyqtgraph ImageItem (`heatmap_image.image` is the drawn array)."""
        return self.heatmap_plot.image

    def node_id(self) -> str | None:
        return self._node_id

    def output_index(self) -> int:
        return self._output

    def mode(self) -> str:
        """The mode shown: "gradient" only while the node has gradients to show."""
        return self._mode

    def show_node(
        self,
        node_id: str,
        label: str,
        summaries: tuple[TensorSummary, ...],
        values: list[np.ndarray | None],
        grad_summaries: tuple[TensorSummary | None, ...] | None = None,
        grads: list[np.ndarray | None] | None = None,
        dropped: list[bool] | None = None,
    ) -> None:
        """Show a node's outputs: summaries always, full values (and gradients) when kept.

        The selected output, slice and mode carry over when the same node is shown again.
        """
        same_node = node_id == self._node_id
        self._node_id = node_id
        self._label = label or node_id
        self._summaries = list(summaries)
        count = max(len(self._summaries), len(values))
        self._values = list(values) + [None] * (count - len(values))
        self._summaries += [None] * (count - len(self._summaries))
        self._grad_summaries = list(grad_summaries) if grad_summaries is not None else None
        self._grads = list(grads) if grads is not None else None
        self._dropped = list(dropped or []) + [False] * count
        if not same_node:
            self._output = 0
            self._slice_key = None
            self._layout_name = ""
            self._show_message("")
        self._output = min(self._output, max(count - 1, 0))
        self._mode = GRADIENT if self._wanted_mode == GRADIENT and self._has_gradients() else VALUE
        self._fill_outputs()
        self._sync_mode_buttons()
        self.stack.setCurrentIndex(1)
        self._render()

    def set_mode(self, mode: str) -> None:
        """Show values or gradients; gradients only when the node has them."""
        if mode not in (VALUE, GRADIENT):
            raise ValueError(f"mode must be 'value' or 'gradient', not {mode!r}")
        self._wanted_mode = mode
        effective = GRADIENT if mode == GRADIENT and self._has_gradients() else VALUE
        changed = effective != self._mode
        self._mode = effective
        self._sync_mode_buttons()
        if changed:
            self._render()
            self.mode_changed.emit(effective)

    def clear(self, message: str = "") -> None:
        """Empty the panel, showing `message` (or a hint) in its place."""
        self._node_id = None
        self._summaries, self._values, self._dropped = [], [], []
        self._grad_summaries = self._grads = None
        self._slice_key = None
        self.grid = None
        self.table_model.set_array(None)
        self.heatmap_plot.clear_image()
        self.placeholder_label.setText(html.escape(message or "Select a node to see its values."))
        self.stack.setCurrentIndex(0)

    def current_summary(self) -> TensorSummary | None:
        """The summary shown (value or gradient) of the selected output."""
        if self._node_id is None:
            return None
        source = self._grad_summaries if self._mode == GRADIENT else self._summaries
        summary = _at(source, self._output)
        if summary is None:
            array = self.current_array()
            if array is not None:
                return summarize(array)
        return summary

    def current_array(self) -> np.ndarray | None:
        """The full array shown (value or gradient) of the selected output, when it is here."""
        if self._node_id is None:
            return None
        source = self._grads if self._mode == GRADIENT else self._values
        array = _at(source, self._output)
        return array if isinstance(array, np.ndarray) else None

    def set_output(self, index: int) -> None:
        self.output_combo.setCurrentIndex(index)

    def slice_indices(self) -> tuple[int, ...]:
        """The index picked in each leading dimension (e.g. (batch, channel) for 4-D)."""
        return tuple(spin.value() for spin in self.slice_spins)

    def set_slice(self, *indices: int) -> None:
        for spin, i in zip(self.slice_spins, indices, strict=False):
            spin.blockSignals(True)
            spin.setValue(int(i))
            spin.blockSignals(False)
        self._render_data(keep_view=True)

    def set_channel_grid(self, on: bool) -> None:
        self.grid_check.setChecked(on)

    def set_layout_name(self, name: str) -> None:
        """ "NCHW" or "NHWC" for 4-D activations."""
        self.layout_combo.setCurrentText(name)

    # -- save and override ----------------------------------------------------------

    def save_npy(self, path: str | None = None) -> str | None:
        """Save the array shown; asks for a file when `path` is None. The path saved, or None."""
        array = self.current_array()
        if array is None:
            return None
        if path is None:
            suffix = "_grad" if self._mode == GRADIENT else ""
            name = f"{_file_stem(self._label)}_out{self._output}{suffix}.npy"
            default = str(Path(self._last_dir) / name) if self._last_dir else name
            path, _ = QFileDialog.getSaveFileName(
                self, "Save array", default, "NumPy array (*.npy)"
            )
            if not path:
                return None
        if not path.endswith(".npy"):
            path += ".npy"
        try:
            np.save(path, array, allow_pickle=False)
        except (OSError, ValueError) as exc:
            self._show_message(f"Could not save {Path(path).name}: {exc}", "error")
            return None
        self._last_dir = str(Path(path).parent)
        self._show_message(f"Saved {shape_text(array.shape)} to {Path(path).name}.", "info")
        return path

    def override_scale(self, factor: float | None = None) -> None:
        """Multiply the value by `factor` (asked for when None)."""
        if self._override_source() is None:
            return
        if factor is None:
            factor, ok = QInputDialog.getDouble(
                self, "Scale value", "Multiply every value by:", 1.0, -1e12, 1e12, 6
            )
            if not ok:
                return
        self._override(lambda a: overrides.scaled(a, factor), f"scaled by {factor:g}")

    def override_zero(self) -> None:
        self._override(overrides.zeroed, "set to zero")

    def override_abs(self) -> None:
        self._override(overrides.absolute, "replaced by its absolute value")

    def override_nonfinite(self) -> None:
        self._override(overrides.finite_or_zero, "with NaN and Inf replaced by 0")

    def override_load(self, path: str | None = None) -> None:
        """Replace the value with a `.npy` file of the same shape (asked for when None)."""
        array = self._override_source()
        if array is None:
            return
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Load value", self._last_dir, "NumPy array (*.npy)"
            )
            if not path:
                return
        try:
            loaded = overrides.loaded_like(path, array)
        except overrides.OverrideError as exc:
            self._show_message(str(exc), "error")
            return
        self._last_dir = str(Path(path).parent)
        self._override(lambda _a: loaded, f"loaded from {Path(path).name}")

    def _override_source(self) -> np.ndarray | None:
        if self._mode != VALUE or self._node_id is None:
            return None
        return self.current_array()

    def _override(self, make, what: str) -> None:
        array = self._override_source()
        if array is None:
            return
        self._apply(make(array), f"Value {what}: the run goes on from here with it.")

    def _apply(self, new: np.ndarray, message: str) -> None:
        """Emit the overridden value and show it until the session sends its own."""
        assert self._node_id is not None
        index = self._output
        self.value_edited.emit(self._node_id, index, new)
        old = _at(self._summaries, index)
        self._values[index] = new
        self._summaries[index] = summarize(new, device=old.device if old else "cpu")
        self._show_message(message, "info")
        self._render(keep_view=True)

    # -- rendering ------------------------------------------------------------------

    def _has_gradients(self) -> bool:
        summaries = self._grad_summaries or []
        arrays = self._grads or []
        return any(g is not None for g in summaries) or any(g is not None for g in arrays)

    def _sync_mode_buttons(self) -> None:
        has = self._has_gradients()
        self.gradient_button.setEnabled(has)
        self.gradient_button.setToolTip(
            "Show the gradient of the loss with respect to this output"
            if has
            else "No gradients yet: run backward first"
        )
        for button, mode in ((self.value_button, VALUE), (self.gradient_button, GRADIENT)):
            button.blockSignals(True)
            button.setChecked(self._mode == mode)
            button.blockSignals(False)

    def _fill_outputs(self) -> None:
        combo = self.output_combo
        combo.blockSignals(True)
        combo.clear()
        for i, summary in enumerate(self._summaries):
            if summary is None:
                text = f"output {i}"
            elif summary.is_tensor:
                text = f"output {i} · {shape_text(summary.shape)} {summary.dtype}"
            else:
                text = f"output {i} · {summary.kind}"
            combo.addItem(text)
        combo.setCurrentIndex(self._output)
        combo.setVisible(len(self._summaries) > 1)
        combo.blockSignals(False)

    def _on_output_chosen(self, index: int) -> None:
        if index < 0 or self._node_id is None:
            return
        self._output = index
        self._slice_key = None
        self._render()

    def _render(self, keep_view: bool = False) -> None:
        summary = self.current_summary()
        array = self.current_array()
        gradient = self._mode == GRADIENT
        title = f"<b>{html.escape(self._label)}</b>"
        if len(self._summaries) > 1:
            title += f" <span style='color:{TEXT_SOFT}'>·&nbsp;output&nbsp;{self._output}</span>"
        if gradient:
            title += f" <span style='color:{TEXT_SOFT}'>·&nbsp;gradient</span>"
        self.title_label.setText(title)
        self.title_label.setToolTip(f"{self._label} ({self._node_id})")
        self.summary_view.set_summary(summary, "gradient" if gradient else "value")

        tensor = summary is not None and summary.is_tensor
        missing = tensor and array is None
        self.dropped_note.setVisible(missing)
        if missing:
            if gradient:
                self.note_label.setText("Only the gradient's summary is kept for this output.")
            elif self._dropped[self._output]:
                self.note_label.setText(
                    "Full value dropped to stay within the memory budget. "
                    "Recompute runs the graph again up to this node."
                )
            else:
                self.note_label.setText("The full value of this output is not here.")
            self.recompute_button.setVisible(not gradient)
        self.splitter.setVisible(tensor or array is not None)
        self.histogram_plot.setVisible(bool(tensor and summary.size))
        self.histogram_plot.set_summary(summary if tensor else None)
        self.view_tabs.setVisible(array is not None)
        self.filler.setVisible(array is None)
        self.histogram_plot.setMaximumHeight(16777215 if array is not None else 180)

        numeric = array is not None and (
            np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_
        )
        self.save_button.setEnabled(array is not None)
        self.override_button.setEnabled(bool(numeric) and not gradient and not self.read_only)
        self.override_button.setToolTip(
            "Overrides replace values, not gradients"
            if gradient
            else "Replace this output's value and go on from here"
        )
        self._render_data(keep_view=keep_view)
        # Rows appeared or vanished: lay out now, inner layouts first, rather than one
        # posted LayoutRequest per nesting level, so the very next paint is right.
        self.summary_view.layout().activate()
        self.stack.widget(1).layout().activate()

    def _render_data(self, keep_view: bool = False) -> None:
        array = self.current_array()
        if array is None or self._node_id is None:
            self.grid = None
            self.table_model.set_array(None)
            return
        ndim = array.ndim
        self.view_tabs.setTabVisible(HEATMAP_TAB, ndim >= 2)
        self.view_tabs.setTabVisible(LINE_TAB, ndim == 1)
        if ndim >= 2:
            self._ensure_slice_controls(array)
            self._draw_heatmap(array, keep_view)
            table_view = take_slice(array, self._slice, self.slice_indices())
        else:
            self._slice = None
            self.grid = None
            self._four_d = False
            self._sync_heatmap_options()
            if ndim == 1:
                self.line_plot.set_line(*line_points(array))
            table_view = array
        self._fill_table(table_view)
        if not self.view_tabs.isTabVisible(self.view_tabs.currentIndex()):
            for i in (HEATMAP_TAB, LINE_TAB, TABLE_TAB):
                if self.view_tabs.isTabVisible(i):
                    self.view_tabs.setCurrentIndex(i)
                    break

    def _fill_table(self, view: np.ndarray) -> None:
        editable = (
            not self.read_only
            and self._mode == VALUE
            and (np.issubdtype(view.dtype, np.number) or view.dtype == np.bool_)
        )
        if view.size <= MAX_TABLE_ELEMENTS:
            self.table_model.set_array(view, editable=editable)
            self.table.setVisible(True)
            where = "this slice" if view.ndim < self.current_array().ndim else "all values"
            hint = " Double-click a cell to override it." if editable else ""
            self.table_note.setText(f"{format_count(view.size)} values: {where}.{hint}")
        else:
            self.table_model.set_array(None)
            self.table.setVisible(False)
            self.table_note.setText(
                f"{'This slice' if view.ndim >= 2 else 'This vector'} has "
                f"{format_count(view.size)} values; the table shows up to "
                f"{MAX_TABLE_ELEMENTS:,}. Use the heatmap, or save the array as .npy."
            )

    def _ensure_slice_controls(self, array: np.ndarray) -> None:
        """(Re)build the slice spin boxes when the rank, layout or picked sizes change."""
        four = array.ndim == 4
        if not self._layout_name:
            summary = _at(self._summaries, self._output)
            self._layout_name = guess_layout(array.shape, summary.device if summary else "")
        layout = slice_layout(array.ndim, self._layout_name if four else "NCHW")
        sizes = tuple(array.shape[axis] for axis, _ in layout.picked)
        key = (array.ndim, self._layout_name if four else "", sizes)
        self._four_d = four
        self._sync_heatmap_options()
        self.layout_combo.blockSignals(True)
        self.layout_combo.setCurrentText(self._layout_name)
        self.layout_combo.blockSignals(False)
        if key == self._slice_key:
            return
        old = {
            name: spin.value()
            for name, spin in zip(self._spin_names(), self.slice_spins, strict=True)
        }
        while self.spin_row.count():
            item = self.spin_row.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.slice_spins = []
        for (axis, name), size in zip(layout.picked, sizes, strict=True):
            label = QLabel(name)
            label.setStyleSheet(f"color: {TEXT_SOFT};")
            spin = QSpinBox()
            spin.setRange(0, max(size - 1, 0))
            spin.setSuffix(f" / {size}")
            spin.setToolTip(f"Index along axis {axis} ({name}), 0 to {size - 1}")
            spin.setKeyboardTracking(False)
            spin.setValue(min(old.get(name, 0), max(size - 1, 0)))
            spin.setProperty("slice_name", name)
            spin.valueChanged.connect(lambda _v: self._render_data(keep_view=True))
            self.spin_row.addWidget(label)
            self.spin_row.addWidget(spin)
            self.slice_spins.append(spin)
        self._slice = layout
        self._slice_key = key

    def _sync_heatmap_options(self) -> None:
        on_heatmap = self.view_tabs.currentIndex() == HEATMAP_TAB
        self.heatmap_options.setVisible(self._four_d and on_heatmap)

    def _spin_names(self) -> list[str]:
        return [str(spin.property("slice_name")) for spin in self.slice_spins]

    def _draw_heatmap(self, array: np.ndarray, keep_view: bool) -> None:
        assert self._slice is not None
        picks = self.slice_indices()
        use_grid = array.ndim == 4 and self.grid_check.isChecked()
        channel_spin = self.slice_spins[1] if array.ndim == 4 else None
        if channel_spin is not None:
            channel_spin.setEnabled(not use_grid)
        if use_grid:
            grid = channel_grid(array, picks[0], self._layout_name)
            image, overlay = grid.image, grid.overlay
            self.grid = grid
            self._step = grid.step
            text = f"batch {picks[0]} · {grid.count} channels · {grid.rows}×{grid.cols} grid"
        else:
            view = take_slice(array, self._slice, picks)
            image, self._step = display_image(view)
            overlay = nonfinite_rgba(image)
            self.grid = None
            text = f"slice {view.shape[0]}×{view.shape[1]}"
        if self._step > 1:
            text += f" · every {self._step}th pixel drawn"
        levels = symmetric_levels(image)
        self.heatmap_plot.set_image(image, levels, overlay, keep_view=keep_view)
        legend = self._nonfinite_legend(image)
        if legend:
            text += " · " + legend
        self._slice_text = text
        self._show_slice_info()

    def _nonfinite_legend(self, image: np.ndarray) -> str:
        parts = []
        for name, colour, count in (
            ("NaN", NAN_RGBA, int(np.isnan(image).sum()) - self._gap_count()),
            ("+inf", POS_INF_RGBA, int(np.isposinf(image).sum())),
            ("−inf", NEG_INF_RGBA, int(np.isneginf(image).sum())),
        ):
            if count > 0:
                parts.append(f"{swatch(colour)} {name} {format_count(count)}")
        return " ".join(parts)

    def _gap_count(self) -> int:
        """NaN pixels of the channel grid that are gaps between tiles, not values."""
        g = self.grid
        if g is None:
            return 0
        th, tw = g.tile
        return int(g.image.size - g.count * th * tw)

    def _show_slice_info(self) -> None:
        self.heatmap_info.setText(self._slice_text)

    def _on_pixel_hovered(self, row: int, col: int) -> None:
        array = self.current_array()
        if array is None or self._slice is None:
            return
        index = self._pixel_index(row, col)
        if index is None:
            self._show_slice_info()
            return
        where = ", ".join(str(i) for i in index)
        value = format_value(array[index])
        self.heatmap_info.setText(f"[{where}] = <b>{html.escape(value)}</b>")

    def _pixel_index(self, row: int, col: int) -> tuple[int, ...] | None:
        """The full-array index under heatmap pixel (row, col), or None over a grid gap."""
        picks = self.slice_indices()
        if self.grid is not None:
            found = self.grid.locate(row, col)
            if found is None:
                return None
            channel, y, x = found
            if self._layout_name == "NHWC":
                return (picks[0], y, x, channel)
            return (picks[0], channel, y, x)
        assert self._slice is not None
        return full_index(self._slice, picks, row * self._step, col * self._step)

    def _on_pixel_double_clicked(self, row: int, col: int) -> None:
        if self.grid is None:
            return
        found = self.grid.locate(row, col)
        if found is None:
            return
        spin = self.slice_spins[1]
        spin.blockSignals(True)
        spin.setValue(found[0])
        spin.blockSignals(False)
        self.grid_check.setChecked(False)

    def _on_layout_chosen(self, name: str) -> None:
        if name and name != self._layout_name:
            self._layout_name = name
            self._render_data(keep_view=False)

    def _on_cell_edited(self, row: int, col: int, value: object) -> None:
        array = self._override_source()
        if array is None:
            return
        if array.ndim >= 2:
            assert self._slice is not None
            index = full_index(self._slice, self.slice_indices(), row, col)
        elif array.ndim == 1:
            index = (row,)
        else:
            index = ()
        new = overrides.with_cell(array, index, value)
        where = ", ".join(str(i) for i in index)
        self._apply(new, f"Set [{where}] to {format_value(new[index])}: the run goes on from here.")

    def _on_recompute(self) -> None:
        if self._node_id is not None:
            self.fetch_requested.emit(self._node_id, self._output)

    def _show_message(self, text: str, kind: str = "info") -> None:
        self.message_label.setText(html.escape(text))
        self.message_label.setStyleSheet(MESSAGE_STYLES.get(kind, MESSAGE_STYLES["info"]))
        self.message_label.setProperty("kind", kind if text else "")
        self.message_label.setVisible(bool(text))


def _at(items: list | None, index: int):
    if items is None or not 0 <= index < len(items):
        return None
    return items[index]


def _file_stem(label: str) -> str:
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in label).strip("_")
    return stem or "tensor"
