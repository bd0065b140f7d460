"""The debugger's Breakpoints, Watch and Inputs panels, each driven on its own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from gui.panels.bp_editor import BreakpointEditor
from gui.panels.breakpoints_panel import DESCRIPTION_COLUMN, HITS_COLUMN, BreakpointsPanel
from gui.panels.inputs_panel import InputsPanel
from gui.panels.watch_panel import HEALTH, MEAN, SHAPE, WatchPanel
from inspectors.breakpoints import Breakpoint, Breakpoints
from inspectors.tensors import summarize

SHOTS = Path("/tmp/shots")


def shot(widget, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert widget.grab().save(str(SHOTS / f"{name}.png"))


def rows(panel) -> list[list[str]]:
    tree = panel.tree
    return [
        [tree.topLevelItem(i).text(c) for c in range(tree.columnCount())]
        for i in range(tree.topLevelItemCount())
    ]


# -- breakpoints -------------------------------------------------------------------------


@pytest.fixture
def bp_panel(qtbot) -> tuple[BreakpointsPanel, Breakpoints]:
    panel = BreakpointsPanel()
    qtbot.addWidget(panel)
    breakpoints = Breakpoints()
    panel.set_breakpoints(breakpoints)
    panel.set_known_ops(["Linear", "ReLU", "Conv2d"])
    panel.set_known_scopes([("encoder",), ("encoder", "layer0")])
    panel.resize(460, 240)
    panel.show()
    return panel, breakpoints


def test_breakpoints_listed_with_descriptions(bp_panel, qtbot) -> None:
    panel, bps = bp_panel
    with qtbot.waitSignal(panel.changed):
        panel.add_breakpoint(node="fc1")
    panel.add_breakpoint(op="Linear", condition="nan")
    panel.add_breakpoint(scope=("encoder", "layer0"))
    descriptions = [row[DESCRIPTION_COLUMN] for row in rows(panel)]
    assert descriptions == ["on fc1", "on every Linear if any NaN", "entering encoder/layer0"]
    assert [row[HITS_COLUMN] for row in rows(panel)] == ["0", "0", "0"]
    assert len(bps) == 3
    shot(panel, "breakpoints_panel")


def test_checkbox_disables_breakpoint(bp_panel, qtbot) -> None:
    panel, bps = bp_panel
    bp = panel.add_breakpoint(node="fc1")
    item = panel.tree.topLevelItem(0)
    with qtbot.waitSignal(panel.changed):
        item.setCheckState(0, Qt.CheckState.Unchecked)
    assert bps.get(bp.id).enabled is False
    assert bps.on_nodes() == set()
    with qtbot.waitSignal(panel.changed):
        panel.tree.topLevelItem(0).setCheckState(0, Qt.CheckState.Checked)
    assert bps.get(bp.id).enabled is True


def test_enable_all_and_disable_all(bp_panel, qtbot) -> None:
    panel, bps = bp_panel
    panel.add_breakpoint(node="a")
    panel.add_breakpoint(node="b")
    qtbot.mouseClick(panel.disable_all_button, Qt.MouseButton.LeftButton)
    assert not any(bp.enabled for bp in bps)
    assert all(panel.tree.topLevelItem(i).checkState(0) == Qt.CheckState.Unchecked for i in (0, 1))
    qtbot.mouseClick(panel.enable_all_button, Qt.MouseButton.LeftButton)
    assert all(bp.enabled for bp in bps)


def test_delete_key_removes_selected(bp_panel, qtbot) -> None:
    panel, bps = bp_panel
    panel.add_breakpoint(node="a")
    keep = panel.add_breakpoint(node="b")
    panel.tree.topLevelItem(0).setSelected(True)
    with qtbot.waitSignal(panel.changed):
        qtbot.keyClick(panel.tree, Qt.Key.Key_Delete)
    assert [bp.id for bp in bps] == [keep.id]
    assert [row[DESCRIPTION_COLUMN] for row in rows(panel)] == ["on b"]


def test_double_click_node_breakpoint_activates_node(bp_panel, qtbot) -> None:
    panel, _ = bp_panel
    panel.add_breakpoint(node="fc1")
    item = panel.tree.topLevelItem(0)
    with qtbot.waitSignal(panel.node_activated) as blocker:
        panel.tree.itemDoubleClicked.emit(item, DESCRIPTION_COLUMN)
    assert blocker.args == ["fc1"]


def test_refresh_shows_hit_counts(bp_panel) -> None:
    panel, bps = bp_panel
    bp = panel.add_breakpoint(node="fc1")
    attrs = {"op": "Linear", "scope": ()}
    for _ in range(3):
        assert bps.check("fc1", attrs, (), (), ()) is bp
    assert rows(panel)[0][HITS_COLUMN] == "0"
    panel.refresh()
    assert rows(panel)[0][HITS_COLUMN] == "3"


def test_refresh_shows_breakpoints_added_elsewhere(bp_panel) -> None:
    panel, bps = bp_panel
    bps.add(node="added_by_window")
    panel.refresh()
    assert rows(panel)[0][DESCRIPTION_COLUMN] == "on added_by_window"


def test_a_breakpoint_the_session_disabled_is_reported_as_a_change(bp_panel, qtbot) -> None:
    """The session disables a breakpoint whose expression raised; the pause that says
    so re-reads the list, and `changed` lets the window save it."""
    panel, bps = bp_panel
    bp = panel.add_breakpoint(node="fc1", condition="expression", expression="t.nope > 1")
    with qtbot.assertNotEmitted(panel.changed):
        panel.set_hit(None)  # nothing changed under the panel
    bp.enabled = False  # what `Breakpoints.check` does on the engine thread
    with qtbot.waitSignal(panel.changed, timeout=1000):
        panel.set_hit(bp.id)
    assert panel.tree.topLevelItem(0).checkState(0) == Qt.CheckState.Unchecked


def test_a_hit_is_named_by_what_the_breakpoint_does(bp_panel) -> None:
    panel, _bps = bp_panel
    for _ in range(5):  # edits make new breakpoints: their ids grow
        panel.toggle_node("fc1")
        panel.toggle_node("fc1")
    plain = panel.add_breakpoint(node="fc1", condition="nan")
    every = panel.add_breakpoint(op="Linear")
    assert plain.id > 10
    assert panel.describe_hit(plain.id, "fc1", plain.describe()) == (
        "info",
        "Breakpoint on fc1 if any NaN hit",
    )
    assert panel.describe_hit(every.id, "fc2", every.describe()) == (
        "info",
        "Breakpoint on every Linear hit at fc2",
    )
    level, text = panel.describe_hit(plain.id, "fc1", "its expression `t` raised KeyError: 1")
    assert level == "warning"
    assert (
        text == "Breakpoint on fc1 if any NaN stopped at fc1: its expression `t` raised KeyError: 1"
    )


def test_toggle_node_adds_then_removes(bp_panel, qtbot) -> None:
    panel, bps = bp_panel
    with qtbot.waitSignal(panel.changed):
        panel.toggle_node("relu")
    assert bps.on_nodes() == {"relu"}
    assert len(rows(panel)) == 1
    with qtbot.waitSignal(panel.changed):
        panel.toggle_node("relu")
    assert bps.on_nodes() == set()
    assert rows(panel) == []


def test_add_node_breakpoint_does_not_duplicate(bp_panel) -> None:
    panel, bps = bp_panel
    panel.add_node_breakpoint("fc1")
    panel.add_node_breakpoint("fc1")
    assert [bp.describe() for bp in bps] == ["on fc1"]


def test_stop_at_first_nan_and_inf_toggles(bp_panel, qtbot) -> None:
    panel, bps = bp_panel
    with qtbot.waitSignal(panel.changed):
        panel.stop_at_nan.setChecked(True)
    panel.stop_at_inf.setChecked(True)
    assert [bp.describe() for bp in bps] == ["on any node if any NaN", "on any node if any Inf"]
    panel.stop_at_nan.setChecked(False)
    assert [bp.describe() for bp in bps] == ["on any node if any Inf"]
    panel.tree.topLevelItem(0).setCheckState(0, Qt.CheckState.Unchecked)
    assert not panel.stop_at_inf.isChecked()  # the switch follows the breakpoint


def fill_editor(panel: BreakpointsPanel, qtbot) -> BreakpointEditor:
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    editor = panel.editor
    assert editor is not None and editor.isVisible()
    return editor


@pytest.mark.parametrize(
    ("location", "condition", "expected"),
    [
        (("node", "fc1"), (None, {}), "on fc1"),
        (("op", "ReLU"), (None, {}), "on every ReLU"),
        (("scope", "encoder/layer0"), (None, {}), "entering encoder/layer0"),
        (("any", None), ("nan", {}), "on any node if any NaN"),
        (("node", "fc1"), ("inf", {}), "on fc1 if any Inf"),
        (("any", None), ("nonfinite", {}), "on any node if any NaN or Inf"),
        (
            ("op", "Linear"),
            ("threshold", {"stat": "std", "above": False, "value": 1e-3}),
            "on every Linear if std < 0.001",
        ),
        (
            ("any", None),
            ("expression", {"expression": "(t > 100).any()"}),
            "on any node if (t > 100).any()",
        ),
    ],
)
def test_editor_makes_each_kind(bp_panel, qtbot, location, condition, expected) -> None:
    panel, bps = bp_panel
    editor = fill_editor(panel, qtbot)
    editor.set_location(*location)
    editor.set_condition(condition[0], **condition[1])
    assert editor.ok_button.isEnabled(), editor.error()
    kwargs = editor.result_kwargs()
    assert Breakpoint(**kwargs).describe() == expected
    with qtbot.waitSignal(panel.changed):
        editor.accept()
    (bp,) = list(bps)
    assert bp.describe() == expected
    assert rows(panel)[0][DESCRIPTION_COLUMN] == expected
    if location[0] == "scope":
        assert bp.scope == ("encoder", "layer0")
    if condition[0] == "threshold":
        assert (bp.stat, bp.above, bp.value) == ("std", False, 1e-3)


def test_editor_defaults_to_the_selected_node(bp_panel, qtbot) -> None:
    panel, _ = bp_panel
    panel.set_selected_node("conv1")
    editor = fill_editor(panel, qtbot)
    assert editor.location() == "node"
    assert editor.result_kwargs()["node"] == "conv1"
    editor.reject()


def test_editor_bad_expression_disables_ok(bp_panel, qtbot) -> None:
    panel, bps = bp_panel
    editor = fill_editor(panel, qtbot)
    editor.set_location("any")
    editor.set_condition("expression", expression="(t > 1e3).any(")
    assert not editor.ok_button.isEnabled()
    assert "SyntaxError" in editor.error_label.text()
    assert "never closed" in editor.error_label.text()
    assert not editor.error_label.isHidden()
    shot(editor, "breakpoint_editor_error")
    editor.expression_edit.setText("(t > 1e3).any()")
    assert editor.ok_button.isEnabled()
    assert editor.error_label.isHidden()
    editor.value_edit.setText("abc")  # not shown for an expression: no effect
    assert editor.ok_button.isEnabled()
    editor.set_condition("threshold")
    assert not editor.ok_button.isEnabled()
    editor.reject()
    assert len(bps) == 0


def test_editor_edits_in_place_keeping_id_and_switch(bp_panel, qtbot) -> None:
    panel, bps = bp_panel
    first = panel.add_breakpoint(node="fc1")
    second = panel.add_breakpoint(node="fc2")
    panel.set_enabled(first.id, False)
    panel.select(first.id)
    qtbot.mouseClick(panel.edit_button, Qt.MouseButton.LeftButton)
    editor = panel.editor
    assert editor.result_kwargs()["node"] == "fc1"
    editor.set_condition("threshold", stat="absmax", above=True, value=1e4)
    shot(editor, "breakpoint_editor_threshold")
    with qtbot.waitSignal(panel.changed):
        editor.accept()
    assert [bp.id for bp in bps] == [first.id, second.id]
    edited = bps.get(first.id)
    assert edited.describe() == "on fc1 if absmax > 10000"
    assert edited.enabled is False


# -- watches --------------------------------------------------------------------------------


@pytest.fixture
def watch_panel(qtbot) -> WatchPanel:
    panel = WatchPanel()
    qtbot.addWidget(panel)
    panel.resize(560, 380)
    panel.show()
    return panel


def test_watches_fill_rows_as_nodes_step(watch_panel, qtbot) -> None:
    with qtbot.waitSignal(watch_panel.changed):
        watch_panel.add_watch("fc1")
    watch_panel.add_watch("relu", "activation")
    assert watch_panel.watched() == ["fc1", "relu"]
    watch_panel.update_summary("not_watched", summarize(np.ones(3, np.float32)))
    a = np.array([[1.0, -2.0], [np.nan, 4.0]], np.float32)
    watch_panel.update_summary("fc1", summarize(a))
    row = rows(watch_panel)[0]
    assert row[0] == "fc1"
    assert row[SHAPE] == "[2, 2]"
    assert row[MEAN] == "1"
    assert row[HEALTH] == "1 / 0"
    assert rows(watch_panel)[1][0] == "activation"
    item = watch_panel.tree.topLevelItem(0)
    assert item.background(HEALTH).style() != Qt.BrushStyle.NoBrush  # NaN highlighted
    watch_panel.remove_watch("relu")
    assert watch_panel.watched() == ["fc1"]


def test_history_over_three_runs_and_statistic_switch(watch_panel) -> None:
    watch_panel.add_watch("fc1")
    watch_panel.add_watch("fc2")
    watch_panel.set_statistic("mean")
    for run in range(3):
        watch_panel.run_restarted()
        assert watch_panel.tree.topLevelItem(0).foreground(0).color() == (
            watch_panel.tree.palette().placeholderText().color()
        )
        watch_panel.update_summary("fc1", summarize(np.full(4, run - 0.5, np.float32)))
        watch_panel.update_summary("fc1", summarize(np.full(4, float(run), np.float32)))
        if run != 1:  # fc2 does not run in the second run
            watch_panel.update_summary("fc2", summarize(np.full(2, -3.0 * run, np.float32)))
        watch_panel.run_finished()
    assert watch_panel.history("fc1") == [0.0, 1.0, 2.0]
    fc2 = watch_panel.history("fc2")
    assert fc2[0] == 0.0 and np.isnan(fc2[1]) and fc2[2] == -6.0
    watch_panel.set_statistic("absmax")
    assert watch_panel.statistic_combo.currentData() == "absmax"
    assert watch_panel.history("fc2")[2] == 6.0
    watch_panel.statistic_combo.setCurrentIndex(watch_panel.statistic_combo.findData("nan"))
    assert watch_panel.statistic() == "nan"
    assert watch_panel.history("fc1") == [0.0, 0.0, 0.0]
    watch_panel.set_statistic("absmax")
    watch_panel.select("fc2")
    shot(watch_panel, "watch_panel")


def test_watch_double_click_activates_node(watch_panel, qtbot) -> None:
    watch_panel.add_watch("fc1")
    with qtbot.waitSignal(watch_panel.node_activated) as blocker:
        watch_panel.tree.itemDoubleClicked.emit(watch_panel.tree.topLevelItem(0), 0)
    assert blocker.args == ["fc1"]


def test_backspace_removes_the_selected_watch(watch_panel, qtbot) -> None:
    watch_panel.add_watch("fc1")
    watch_panel.add_watch("fc2")
    watch_panel.tree.topLevelItem(0).setSelected(True)
    qtbot.keyClick(watch_panel.tree, Qt.Key.Key_Backspace)
    assert watch_panel.watched() == ["fc2"]


# -- inputs ---------------------------------------------------------------------------------


@pytest.fixture
def inputs_panel(qtbot) -> InputsPanel:
    panel = InputsPanel()
    qtbot.addWidget(panel)
    panel.resize(560, 200)
    panel.show()
    return panel


def example_inputs() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(0)
    return (
        rng.standard_normal((2, 3)).astype(np.float32),
        np.array([[3, 7, 5], [4, 6, 3]], np.int64),
        np.array([True, False, True, False] * 4),
    )


def test_inputs_listed(inputs_panel) -> None:
    inputs_panel.set_inputs(example_inputs(), ["x", "ids", "mask"])
    listed = rows(inputs_panel)
    assert [r[1:4] for r in listed] == [
        ["x", "[2, 3]", "float32"],
        ["ids", "[2, 3]", "int64"],
        ["mask", "[16]", "bool"],
    ]
    assert listed[1][4].startswith("min=3 max=7")
    shot(inputs_panel, "inputs_panel")


def test_random_inputs_keep_shapes_and_dtypes(inputs_panel, qtbot) -> None:
    originals = example_inputs()
    inputs_panel.set_inputs(originals)
    with qtbot.waitSignal(inputs_panel.restart_requested) as blocker:
        qtbot.mouseClick(inputs_panel.random_button, Qt.MouseButton.LeftButton)
    (arrays,) = blocker.args
    assert len(arrays) == 3
    for new, old in zip(arrays, originals, strict=True):
        assert new.shape == old.shape and new.dtype == old.dtype
        assert not np.array_equal(new, old)
    assert arrays[1].min() >= 3 and arrays[1].max() <= 7
    # the panel now shows what the model runs with
    assert all(a is b for a, b in zip(inputs_panel.inputs(), arrays, strict=True))


def test_load_npy_with_matching_shape(inputs_panel, qtbot, tmp_path, monkeypatch) -> None:
    inputs_panel.set_inputs((np.zeros((2, 3), np.float32),))
    path = tmp_path / "x.npy"
    np.save(path, np.arange(6, dtype=np.float64).reshape(2, 3))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    with qtbot.waitSignal(inputs_panel.restart_requested) as blocker:
        qtbot.mouseClick(inputs_panel.load_button, Qt.MouseButton.LeftButton)
    (arrays,) = blocker.args
    assert arrays[0].dtype == np.float32
    np.testing.assert_array_equal(arrays[0], np.arange(6).reshape(2, 3))
    assert inputs_panel.error() == ""


def test_load_npy_with_wrong_shape_refused(inputs_panel, qtbot, tmp_path, monkeypatch) -> None:
    inputs_panel.set_inputs((np.zeros((2, 3), np.float32),), ["x"])
    path = tmp_path / "x.npy"
    np.save(path, np.zeros((4, 3), np.float32))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    with qtbot.assertNotEmitted(inputs_panel.restart_requested):
        qtbot.mouseClick(inputs_panel.load_button, Qt.MouseButton.LeftButton)
    message = inputs_panel.status.text()
    assert "expected shape [2, 3], got [4, 3]" in message
    assert "x" in message
    assert inputs_panel.error() == message
    shot(inputs_panel, "inputs_panel_error")


def test_load_npz_by_order_and_by_name(inputs_panel, qtbot, tmp_path, monkeypatch) -> None:
    inputs_panel.set_inputs((np.zeros((2, 3), np.float32), np.zeros(4, np.int64)), ["x", "ids"])
    by_order = tmp_path / "order.npz"
    np.savez(by_order, np.ones((2, 3), np.float32), np.arange(4))
    by_name = tmp_path / "names.npz"
    np.savez(by_name, ids=np.arange(4) + 10, x=np.full((2, 3), 2, np.float32))
    for path, expected in ((by_order, (1.0, 0)), (by_name, (2.0, 10))):
        monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, p=path, **k: (str(p), ""))
        with qtbot.waitSignal(inputs_panel.restart_requested) as blocker:
            qtbot.mouseClick(inputs_panel.load_button, Qt.MouseButton.LeftButton)
        x, ids = blocker.args[0]
        assert x.shape == (2, 3) and x[0, 0] == expected[0]
        assert ids.dtype == np.int64 and ids[0] == expected[1]


def test_load_npy_for_two_inputs_refused(inputs_panel, qtbot, tmp_path) -> None:
    inputs_panel.set_inputs((np.zeros(2), np.zeros(2)))
    path = tmp_path / "one.npy"
    np.save(path, np.zeros(2))
    with qtbot.assertNotEmitted(inputs_panel.restart_requested):
        assert not inputs_panel.load_path(path)
    assert "takes 2 inputs" in inputs_panel.error()


def test_cancelled_file_dialog_does_nothing(inputs_panel, qtbot, monkeypatch) -> None:
    inputs_panel.set_inputs((np.zeros(2),))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: ("", ""))
    with qtbot.assertNotEmitted(inputs_panel.restart_requested):
        qtbot.mouseClick(inputs_panel.load_button, Qt.MouseButton.LeftButton)


def test_removing_the_selected_watch_of_several_redraws_cleanly(qtbot):
    from gui.panels.watch_panel import WatchPanel
    from inspectors.tensors import summarize

    panel = WatchPanel()
    qtbot.addWidget(panel)
    for node in ("fc1", "fc2", "relu"):
        panel.add_watch(node)
        panel.update_summary(node, summarize(np.arange(4.0)))
    panel.run_finished()
    panel.select("fc2")
    panel.remove_watch("fc2")
    assert panel.watched() == ["fc1", "relu"]
    panel.clear()
    assert panel.watched() == []


def test_the_plot_waits_for_a_finished_run(watch_panel) -> None:
    assert not watch_panel.plot.isVisible() and watch_panel.plot_empty.isVisible()
    watch_panel.add_watch("fc1")
    watch_panel.update_summary("fc1", summarize(np.ones(3, np.float32)))
    assert not watch_panel.plot.isVisible()  # no finished run: no axes to read
    watch_panel.run_finished()
    assert watch_panel.plot.isVisible() and not watch_panel.plot_empty.isVisible()
    watch_panel.remove_watch("fc1")
    assert not watch_panel.plot.isVisible()
