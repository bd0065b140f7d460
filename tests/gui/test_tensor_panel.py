"""The Tensor panel fed synthetic arrays and their summaries, offscreen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QInputDialog

from gui.panels.tensor_panel import HEATMAP_TAB, LINE_TAB, TABLE_TAB, TensorPanel
from gui.panels.tensor_slices import (
    MAX_SIDE,
    NAN_RGBA,
    channel_grid,
    guess_layout,
    line_points,
)
from inspectors.tensors import summarize

SHOTS = Path("/tmp/shots")


@pytest.fixture
def panel(qtbot) -> TensorPanel:
    widget = TensorPanel()
    qtbot.addWidget(widget)
    widget.resize(400, 760)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def activation(shape=(2, 5, 6, 7), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def show(panel: TensorPanel, array: np.ndarray, **kwargs) -> None:
    panel.show_node("conv1", "conv1", (summarize(array),), [array], **kwargs)


def test_4d_heatmap_shows_the_selected_slice(panel: TensorPanel) -> None:
    x = activation()
    show(panel, x)
    assert panel.view_tabs.isTabVisible(HEATMAP_TAB)
    assert not panel.view_tabs.isTabVisible(LINE_TAB)
    assert [s.property("slice_name") for s in panel.slice_spins] == ["batch", "channel"]
    np.testing.assert_array_equal(panel.heatmap_image.image, x[0, 0])

    panel.slice_spins[0].setValue(1)
    panel.slice_spins[1].setValue(3)
    assert panel.slice_indices() == (1, 3)
    np.testing.assert_array_equal(panel.heatmap_image.image, x[1, 3])
    # The table follows the slice too.
    np.testing.assert_array_equal(panel.table_model.array(), x[1, 3])

    panel.heatmap_plot.pixel_hovered.emit(2, 4)
    assert f"{x[1, 3, 2, 4]:.6g}" in panel.heatmap_info.text()
    assert "[1, 3, 2, 4]" in panel.heatmap_info.text()


def test_slice_survives_showing_the_same_node_again(panel: TensorPanel) -> None:
    x = activation()
    show(panel, x)
    panel.set_slice(1, 2)
    show(panel, x * 2)
    assert panel.slice_indices() == (1, 2)
    np.testing.assert_array_equal(panel.heatmap_image.image, (x * 2)[1, 2])


def test_channel_grid_tiles_every_channel(panel: TensorPanel) -> None:
    x = activation((2, 10, 4, 5))
    show(panel, x)
    panel.set_channel_grid(True)
    grid = panel.grid
    assert grid is not None
    assert grid.count == 10
    assert (grid.rows, grid.cols) == (3, 4)
    assert grid.rows * grid.cols >= grid.count > (grid.rows - 1) * grid.cols
    assert panel.heatmap_image.image.shape == (3 * 5 - 1, 4 * 6 - 1)
    # Tile 6 (row 1, column 2) holds channel 6 of batch item 0.
    np.testing.assert_array_equal(panel.heatmap_image.image[5:9, 12:17], x[0, 6])
    assert not panel.slice_spins[1].isEnabled()

    panel.slice_spins[0].setValue(1)
    np.testing.assert_array_equal(panel.heatmap_image.image[0:4, 0:5], x[1, 0])

    # Double-clicking a tile opens that channel.
    panel.heatmap_plot.pixel_double_clicked.emit(6, 13)
    assert not panel.grid_check.isChecked()
    assert panel.slice_indices() == (1, 6)
    np.testing.assert_array_equal(panel.heatmap_image.image, x[1, 6])


def test_channels_last_layout(panel: TensorPanel) -> None:
    x = activation((2, 8, 8, 3))
    show(panel, x)
    assert panel.layout_combo.currentText() == "NHWC"
    panel.set_slice(1, 2)
    np.testing.assert_array_equal(panel.heatmap_image.image, x[1, :, :, 2])
    panel.set_layout_name("NCHW")
    np.testing.assert_array_equal(panel.heatmap_image.image, x[1, 2])


def test_1d_shows_a_line_plot(panel: TensorPanel) -> None:
    v = np.linspace(-1, 1, 50, dtype=np.float32) ** 3
    show(panel, v)
    assert panel.view_tabs.isTabVisible(LINE_TAB)
    assert not panel.view_tabs.isTabVisible(HEATMAP_TAB)
    assert panel.view_tabs.currentIndex() == LINE_TAB
    xs, ys = panel.line_plot.curve.getData()
    np.testing.assert_array_equal(xs, np.arange(50))
    np.testing.assert_array_equal(ys, v)


def test_histogram_bars_are_the_summary_counts(panel: TensorPanel) -> None:
    x = activation((64, 64), seed=3)
    summary = summarize(x)
    show(panel, x)
    bars = panel.histogram_plot.bars
    np.testing.assert_array_equal(bars.opts["height"], summary.hist_counts)
    assert len(bars.opts["x0"]) == len(summary.hist_counts)


def test_nan_count_is_highlighted(panel: TensorPanel) -> None:
    x = activation((3, 4))
    x[1, 2] = np.nan
    x[0, 0] = np.nan
    x[2, 3] = np.inf
    show(panel, x)
    chips = panel.summary_view.health_labels
    assert chips["nan"].text() == "NaN 2"
    assert chips["nan"].property("alert") == "nan"
    assert "#d93025" in chips["nan"].styleSheet()
    assert chips["pos_inf"].property("alert") == "inf"
    assert chips["neg_inf"].property("alert") == ""
    # The heatmap marks the NaN pixel in its own colour instead of breaking the scale.
    overlay = panel.heatmap_plot.overlay.image
    assert tuple(overlay[1, 2]) == NAN_RGBA
    assert tuple(overlay[1, 1]) == (0, 0, 0, 0)
    lo, hi = panel.heatmap_plot.colorbar.levels()
    assert np.isfinite(lo) and np.isfinite(hi)
    assert "NaN 2" in panel.heatmap_info.text()


def test_an_all_nan_tensor_drops_the_previous_histogram_range(panel: TensorPanel) -> None:
    show(panel, activation((8, 8)) * 100)
    show(panel, np.full((3, 4), np.nan, dtype=np.float32))
    (x_lo, x_hi), _ = panel.histogram_plot.viewRange()
    assert len(panel.histogram_plot.bars.opts["height"]) == 0
    assert -2 < x_lo < x_hi < 2


def test_a_narrow_panel_shows_every_statistic_and_chip(panel: TensorPanel, qtbot) -> None:
    from PySide6.QtWidgets import QTabBar

    panel.resize(240, 760)
    x = activation((2, 8, 6, 6))
    x[0, 0, 0, :3] = np.nan
    show(panel, x)
    view = panel.summary_view
    qtbot.waitUntil(lambda: view.stats_label.width() <= 240)
    assert view.stats_label.sizeHint().width() <= view.width()  # |max| is not cut off
    chips = [view.health_labels[name] for name in ("negative", "nan")]
    assert chips[0].geometry().bottom() < chips[1].geometry().top()  # rows do not overlap
    assert chips[1].geometry().bottom() <= view.height()
    assert "576&nbsp;values" in view.header_label.text()  # number and unit stay together
    bar = panel.view_tabs.findChild(QTabBar)
    assert bar.tabRect(bar.count() - 1).right() <= bar.width()  # no tab behind scroll arrows
    assert panel.layout_combo.isVisible()


def test_the_wheel_over_the_view_tabs_scrolls_the_panel_not_the_tabs(qtbot) -> None:
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QScrollArea

    scroll = QScrollArea()  # as the window docks it: a small dock scrolls the panel
    scroll.setWidgetResizable(True)
    panel = TensorPanel()
    scroll.setWidget(panel)
    qtbot.addWidget(scroll)
    scroll.resize(400, 300)
    scroll.show()
    qtbot.waitExposed(scroll)
    show(panel, activation((6, 7)))
    panel.view_tabs.setCurrentIndex(HEATMAP_TAB)
    bar = panel.view_tabs.tabBar()
    qtbot.waitUntil(bar.isVisible)
    scrolled = scroll.verticalScrollBar()
    assert scrolled.maximum() > 0
    for _ in range(3):
        middle = QPointF(bar.rect().center())
        wheel = QWheelEvent(
            middle,
            QPointF(bar.mapToGlobal(middle.toPoint())),
            QPoint(),
            QPoint(0, -120),  # one notch down, the way Qt's tab bar goes to the next tab
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(bar, wheel)
    assert panel.view_tabs.currentIndex() == HEATMAP_TAB
    assert scrolled.value() > 0  # the wheel went on to the panel's scroll area


def test_a_narrow_panel_shows_the_whole_title(panel: TensorPanel, qtbot) -> None:
    from PySide6.QtGui import QTextDocument

    x = activation()
    show(panel, x, grad_summaries=(summarize(x),), grads=[x])
    panel.set_mode("gradient")
    panel.resize(240, 760)
    label = panel.title_label
    qtbot.waitUntil(lambda: label.width() < 120)
    doc = QTextDocument()
    doc.setDefaultFont(label.font())
    doc.setDocumentMargin(0)
    doc.setHtml(label.text())
    doc.setTextWidth(label.contentsRect().width())
    assert doc.toPlainText().replace("\xa0", " ") == "conv1 · gradient"
    assert doc.idealWidth() <= label.contentsRect().width()  # wrapped, not cut
    assert doc.size().height() <= label.contentsRect().height() + 1


def test_clean_tensor_has_no_alerts(panel: TensorPanel) -> None:
    show(panel, activation((3, 4)))
    chips = panel.summary_view.health_labels
    assert all(chip.property("alert") == "" for chip in chips.values())
    assert panel.heatmap_plot.overlay.image is None or not panel.heatmap_plot.overlay.isVisible()


def test_gradient_mode_shows_the_gradient(panel: TensorPanel, qtbot) -> None:
    x = activation()
    g = activation(seed=7) * 1e-3
    show(panel, x)
    assert not panel.gradient_button.isEnabled()
    panel.set_mode("gradient")
    assert panel.mode() == "value"

    show(panel, x, grad_summaries=(summarize(g),), grads=[g])
    assert panel.gradient_button.isEnabled()
    assert panel.mode() == "gradient"  # the wish is kept until gradients are there
    panel.value_button.click()
    assert panel.mode() == "value"
    with qtbot.waitSignal(panel.mode_changed) as blocker:
        panel.gradient_button.click()
    assert blocker.args == ["gradient"]
    assert panel.mode() == "gradient"
    assert panel.current_array() is g
    np.testing.assert_array_equal(panel.heatmap_image.image, g[0, 0])
    assert panel.summary_view.stats_label.text().count(f"{g.max():.4g}") >= 1
    assert not panel.override_button.isEnabled()
    assert not panel.table_model.flags(panel.table_model.index(0, 0)) & Qt.ItemFlag.ItemIsEditable

    with qtbot.waitSignal(panel.mode_changed) as blocker:
        panel.set_mode("value")
    assert blocker.args == ["value"]
    assert panel.current_array() is x


def test_editing_a_cell_emits_the_edited_array(panel: TensorPanel, qtbot) -> None:
    x = activation((2, 3, 4, 5))
    show(panel, x)
    panel.set_slice(1, 2)
    panel.view_tabs.setCurrentIndex(TABLE_TAB)
    index = panel.table_model.index(3, 4)
    panel.table.setCurrentIndex(index)
    panel.table.edit(index)
    editor = QApplication.focusWidget()
    assert editor is not None
    editor.selectAll()
    qtbot.keyClicks(editor, "2.5")
    with qtbot.waitSignal(panel.value_edited) as blocker:
        qtbot.keyClick(editor, Qt.Key.Key_Return)
    node_id, out, new = blocker.args
    assert (node_id, out) == ("conv1", 0)
    expected = x.copy()
    expected[1, 2, 3, 4] = 2.5
    np.testing.assert_array_equal(new, expected)
    assert new.dtype == x.dtype
    assert x[1, 2, 3, 4] != 2.5  # the original is untouched
    # The panel shows the edited value until the session sends its own.
    assert panel.current_array()[1, 2, 3, 4] == 2.5
    assert panel.message_label.isVisible()


def test_bad_cell_text_is_refused(panel: TensorPanel, qtbot) -> None:
    x = np.arange(6, dtype=np.int64).reshape(2, 3)
    show(panel, x)
    emitted: list = []
    panel.value_edited.connect(lambda *a: emitted.append(a))
    model = panel.table_model
    assert not model.setData(model.index(0, 1), "1.5")
    assert not model.setData(model.index(0, 1), "abc")
    assert model.setData(model.index(0, 1), "7")
    qtbot.waitUntil(lambda: len(emitted) == 1)  # delivered once the edit has committed
    np.testing.assert_array_equal(emitted[0][2], [[0, 7, 2], [3, 4, 5]])


def test_scale_and_zero_overrides(panel: TensorPanel, qtbot, monkeypatch) -> None:
    x = activation((4, 6))
    show(panel, x)
    with qtbot.waitSignal(panel.value_edited) as blocker:
        panel.override_scale(2.0)
    assert blocker.args[:2] == ["conv1", 0]
    np.testing.assert_array_equal(blocker.args[2], x * 2)

    # The menu action asks for the factor.
    monkeypatch.setattr(QInputDialog, "getDouble", lambda *a, **k: (0.5, True))
    with qtbot.waitSignal(panel.value_edited) as blocker:
        panel.scale_action.trigger()
    np.testing.assert_array_equal(blocker.args[2], x * 2 * 0.5)

    with qtbot.waitSignal(panel.value_edited) as blocker:
        panel.zero_action.trigger()
    new = blocker.args[2]
    assert new.shape == x.shape and new.dtype == x.dtype and not new.any()

    show(panel, x)
    with qtbot.waitSignal(panel.value_edited) as blocker:
        panel.abs_action.trigger()
    np.testing.assert_array_equal(blocker.args[2], np.abs(x))


def test_nonfinite_override(panel: TensorPanel, qtbot) -> None:
    x = np.array([1.0, np.nan, -np.inf, 2.0], dtype=np.float32)
    show(panel, x)
    with qtbot.waitSignal(panel.value_edited) as blocker:
        panel.finite_action.trigger()
    np.testing.assert_array_equal(blocker.args[2], [1.0, 0.0, 0.0, 2.0])
    assert panel.summary_view.health_labels["nan"].property("alert") == ""


def test_load_override_checks_the_shape(panel: TensorPanel, qtbot, tmp_path, monkeypatch) -> None:
    x = activation((3, 4))
    show(panel, x)
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.ones((4, 3)))
    emitted: list = []
    panel.value_edited.connect(lambda *a: emitted.append(a))
    panel.override_load(str(wrong))
    assert not emitted
    assert panel.message_label.property("kind") == "error"
    assert "[4, 3]" in panel.message_label.text() and "[3, 4]" in panel.message_label.text()

    good = tmp_path / "good.npy"
    np.save(good, np.full((3, 4), 2.0))  # float64 into float32: cast
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(good), ""))
    with qtbot.waitSignal(panel.value_edited) as blocker:
        panel.load_action.trigger()
    new = blocker.args[2]
    assert new.dtype == np.float32
    np.testing.assert_array_equal(new, np.full((3, 4), 2.0, dtype=np.float32))


def test_save_writes_the_current_array(panel: TensorPanel, tmp_path, monkeypatch) -> None:
    x = activation()
    g = activation(seed=1)
    show(panel, x, grad_summaries=(summarize(g),), grads=[g])
    target = tmp_path / "value"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    panel.save_button.click()
    np.testing.assert_array_equal(np.load(tmp_path / "value.npy"), x)

    panel.set_mode("gradient")
    target = tmp_path / "grad.npy"
    panel.save_button.click()
    np.testing.assert_array_equal(np.load(target), g)

    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: ("", ""))
    assert panel.save_npy() is None


def test_dropped_value_shows_the_note_and_recompute(panel: TensorPanel, qtbot) -> None:
    x = activation()
    panel.show_node("conv1", "conv1", (summarize(x),), [None], dropped=[True])
    assert panel.dropped_note.isVisible()
    assert "dropped to stay within the memory budget" in panel.note_label.text()
    assert not panel.view_tabs.isVisible()
    assert panel.histogram_plot.isVisible()
    assert not panel.save_button.isEnabled()
    assert panel.current_array() is None
    with qtbot.waitSignal(panel.fetch_requested) as blocker:
        panel.recompute_button.click()
    assert blocker.args == ["conv1", 0]

    show(panel, x)
    assert not panel.dropped_note.isVisible()
    assert panel.view_tabs.isVisible()


def test_several_outputs_and_a_non_tensor(panel: TensorPanel, qtbot) -> None:
    a = activation((5,))
    b = activation((2, 3))
    summaries = (summarize(a), summarize(b), summarize((1, "x")))
    panel.show_node("split", "split", summaries, [None, b, None], dropped=[True, False, False])
    assert panel.output_combo.isVisible()
    assert panel.output_combo.count() == 3
    assert panel.dropped_note.isVisible()
    with qtbot.waitSignal(panel.fetch_requested) as blocker:
        panel.recompute_button.click()
    assert blocker.args == ["split", 0]

    panel.set_output(1)
    assert panel.output_index() == 1
    assert not panel.dropped_note.isVisible()
    assert panel.current_array() is b
    np.testing.assert_array_equal(panel.heatmap_image.image, b)

    panel.set_output(2)
    view = panel.summary_view
    assert view.text_label.isVisible()
    assert "(1, 'x')" in view.text_label.text()
    assert "tuple" in view.header_label.text()
    assert not panel.dropped_note.isVisible()
    assert not panel.histogram_plot.isVisible()


def test_huge_slices_are_strided_and_not_tabled(panel: TensorPanel) -> None:
    x = np.zeros((3000, 2500), dtype=np.float32)
    x[::7, ::5] = 1
    show(panel, x)
    image = panel.heatmap_image.image
    assert max(image.shape) <= MAX_SIDE
    np.testing.assert_array_equal(image, x[::3, ::3])
    assert panel.table_model.rowCount() == 0
    assert "up to 10,000" in panel.table_note.text()


def test_clear_shows_the_message(panel: TensorPanel) -> None:
    show(panel, activation())
    panel.clear("Not run yet.")
    assert panel.stack.currentIndex() == 0
    assert panel.placeholder_label.text() == "Not run yet."
    assert panel.current_array() is None


def test_channel_grid_math() -> None:
    x = np.arange(2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 3, 2, 2)
    grid = channel_grid(x, 1, "NCHW")
    assert (grid.rows, grid.cols, grid.count, grid.tile) == (2, 2, 3, (2, 2))
    np.testing.assert_array_equal(grid.image[3:5, 0:2], x[1, 2])
    assert np.isnan(grid.image[2, 0]) and np.isnan(grid.image[4, 4])  # a gap, an empty tile
    assert grid.locate(3, 1) == (2, 0, 1)
    assert grid.locate(2, 1) is None
    assert grid.locate(3, 4) is None
    nhwc = channel_grid(np.moveaxis(x, 1, -1), 1, "NHWC")
    np.testing.assert_array_equal(nhwc.image, grid.image)


def test_line_points_keep_extremes_of_long_vectors() -> None:
    v = np.zeros(1_000_003, dtype=np.float64)
    v[123_456] = 9.0
    v[654_321] = -4.0
    v[1_000_002] = np.nan
    x, y = line_points(v, max_points=1000)
    assert len(x) <= 1002
    assert y.max() == 9.0 and y.min() == -4.0


def test_layout_guess() -> None:
    assert guess_layout((8, 64, 56, 56)) == "NCHW"
    assert guess_layout((8, 56, 56, 64)) == "NHWC"
    assert guess_layout((8, 3, 5, 7), "/job:localhost/replica:0/task:0/device:CPU:0") == "NHWC"
    assert guess_layout((8, 3, 5, 7), "cpu") == "NCHW"


def _feature_maps() -> np.ndarray:
    """A conv-like activation: oriented stripes per channel, noise, a few NaN and one +inf."""
    rng = np.random.default_rng(0)
    n, c, h, w = 4, 16, 28, 28
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    x = np.empty((n, c, h, w), np.float32)
    for ch in range(c):
        angle = np.pi * ch / c
        u = (xx - 14) * np.cos(angle) + (yy - 14) * np.sin(angle)
        envelope = np.exp(-((xx - 14) ** 2 + (yy - 14) ** 2) / (2 * (6 + ch % 5) ** 2))
        x[:, ch] = np.sin(u * (0.5 + 0.2 * (ch % 4))) * envelope * (1 + ch / 8)
    x += 0.15 * rng.standard_normal(x.shape).astype(np.float32)
    x[0, 3, 10:13, 5:9] = np.nan
    x[0, 3, 20, 20] = np.inf
    return x


def test_screenshots(panel: TensorPanel) -> None:
    """Saves the heatmap and the channel grid of a 4-D activation for a human to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    x = _feature_maps()
    show(panel, x)
    panel.set_slice(0, 3)
    QApplication.processEvents()  # let the layout settle before grabbing
    assert panel.grab().save(str(SHOTS / "tensor_panel.png"))
    panel.set_channel_grid(True)
    QApplication.processEvents()
    assert panel.grab().save(str(SHOTS / "tensor_panel_grid.png"))
