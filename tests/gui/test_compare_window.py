"""The compare window offscreen: two models side by side, stepped in lockstep, linked
and diffed. Waits are on signals and conditions; values are checked against the
frameworks' own forward passes and the diff against networkx counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from gui.compare.compare_links import IN_BOTH, ONLY_HERE, lockstep_layer
from gui.compare.compare_window import CompareWindow
from gui.shell.main_window import MainWindow
from gui.shell.settings import Settings
from inspectors import events as ev
from inspectors.diff import diff_graphs
from tests.gui.test_main_window import core, fetch

RUN_TIMEOUT = 60_000


@pytest.fixture
def compare(qtbot) -> CompareWindow:
    win = CompareWindow()
    qtbot.addWidget(win)
    win.resize(1500, 900)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    yield win
    win.close()


def open_pair(qtbot, win: CompareWindow, a: str, b: str, sa: str, sb: str) -> None:
    with qtbot.waitSignal(win.links_changed, timeout=2 * RUN_TIMEOUT):
        win.open_pair(a, b, sa, sb)
    qtbot.waitUntil(lambda: all(p.last_pause is not None for p in win.panes), timeout=RUN_TIMEOUT)
    assert all(p.last_pause.reason == ev.READY for p in win.panes)
    qtbot.waitUntil(lambda: not any(p.view.is_busy() for p in win.panes), timeout=RUN_TIMEOUT)


def press_both(qtbot, win: CompareWindow, key: Qt.Key, reason: str, modifiers=None) -> None:
    """Press a lockstep shortcut; wait until both sides paused with `reason`."""
    before = [p.last_pause for p in win.panes]
    QTest.keyClick(win, key, modifiers or Qt.KeyboardModifier.NoModifier)
    qtbot.waitUntil(
        lambda: all(
            p.last_pause is not b and p.last_pause.reason == reason and not p.engine.running
            for p, b in zip(win.panes, before, strict=True)
        ),
        timeout=RUN_TIMEOUT,
    )


def as_numpy(value) -> np.ndarray:
    return value.detach().numpy() if hasattr(value, "detach") else np.asarray(value)


def test_torch_and_keras_feedforward_step_in_lockstep(qtbot, compare):
    open_pair(qtbot, compare, "feedforward_torch", "feedforward_keras", "fx", "auto")
    a, b = compare.panes
    assert a.result.capture == "fx" and b.result.framework == "tensorflow"
    press_both(qtbot, compare, Qt.Key.Key_F11, ev.STEP)
    assert a.last_pause.node_id == "x" and a.last_pause.position == 1
    assert b.last_pause.node_id == b.full_graph().order[0] and b.last_pause.position == 1
    assert a.view._states["x"] == "current" and a.view._states["fc1"] == "pending"
    assert "node 1 of 5" in a.position_label.text()
    assert "node 1 of 17" in b.position_label.text()
    press_both(qtbot, compare, Qt.Key.Key_F11, ev.STEP)
    assert a.last_pause.node_id == "fc1" and a.view.selected() == "fc1"
    # each side on its own: one more step on the left only
    with qtbot.waitSignal(a.paused, timeout=RUN_TIMEOUT):
        a.step_button.click()
    # the right side stayed on its first real op (the kernel read before it is plumbing)
    assert a.last_pause.node_id == "relu"
    assert (b.last_pause.node_id, b.last_pause.position) == ("feedforward_1/fc1_1/MatMul", 4)
    press_both(qtbot, compare, Qt.Key.Key_F5, ev.FINISHED)
    for pane in compare.panes:
        target = core(pane).target  # the model itself, for the framework's own answer
        expected = as_numpy(target.call())
        stepped = fetch(qtbot, pane.engine, "output")
        np.testing.assert_allclose(stepped, expected, rtol=1e-5, atol=1e-6)
    press_both(
        qtbot,
        compare,
        Qt.Key.Key_F5,
        ev.READY,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert all(not p.marks.executed for p in compare.panes)


def press_layer(qtbot, win: CompareWindow, reason: str = ev.STEP) -> None:
    press_both(qtbot, win, Qt.Key.Key_F11, reason, Qt.KeyboardModifier.ControlModifier)


def test_step_layer_pauses_both_sides_on_each_linked_layer(qtbot, compare):
    open_pair(qtbot, compare, "feedforward_torch", "feedforward_keras", "fx", "auto")
    a, b = compare.panes
    links = compare.links
    assert links is not None and links.by_layer
    keys = [x.shortcut().toString() for x in compare.actions() if not x.shortcut().isEmpty()]
    assert compare.act_layer.shortcut().toString() == "Ctrl+F11"
    assert len(keys) == len(set(keys))
    assert "Ctrl+F11" in compare.act_layer.toolTip()
    assert "Step layer (Ctrl+F11)" in compare.layer_label.text()
    gb = b.full_graph()
    ends_a, ends_b = links.layer_ends(0), links.layer_ends(1)
    assert ends_a == ["fc1", "relu", "fc2"]
    # a Keras Dense ends with its BiasAdd; the fc1 Relu is a layer of its own
    assert [(gb.node(n)["op"], gb.node(n)["scope"][-1]) for n in ends_b] == [
        ("BiasAdd", "fc1"),
        ("Relu", "fc1"),
        ("BiasAdd", "fc2"),
    ]
    for i, (x, y) in enumerate(links.pairs):
        press_layer(qtbot, compare)
        assert (a.last_pause.node_id, b.last_pause.node_id) == (ends_a[i], ends_b[i])
        # both sides pause on the same link: each one's node answers the other's
        assert links.counterpart(1, ends_b[i]) == x and links.counterpart(0, ends_a[i]) == y
        assert a.view.selected() == ends_a[i] and b.view.selected() == ends_b[i]
        assert f"linked: {ends_a[i]} ↔ B:" in a.link_label.text()
        assert "↔ A: fc" in b.link_label.text() or "↔ A: relu" in b.link_label.text()
        # the next layer has not started on either side
        for pane, ends in ((a, ends_a), (b, ends_b)):
            order = list(pane.full_graph().order)
            assert all(n not in pane.marks.executed for n in order[order.index(ends[i]) + 1 :])
        name = f"Layer {i + 1} of 3: {ends_a[i]} ↔ fc{1 if i < 2 else 2}/"
        assert name in compare.statusBar().currentMessage()
        assert name in compare.layer_label.text() and compare.layer_label.isVisible()
        value_a = as_numpy(fetch(qtbot, a.engine, ends_a[i]))
        value_b = as_numpy(fetch(qtbot, b.engine, ends_b[i]))
        assert value_a.shape == value_b.shape == ((4, 5) if i == 2 else (4, 20))
        if i == 1:
            assert value_a.min() >= 0 and value_b.min() >= 0
            assert (as_numpy(fetch(qtbot, b.engine, ends_b[0])) < 0).any()
        if i == 0:
            QApplication.processEvents()  # let the layout take the new texts
            compare.grab().save("/tmp/compare_layer.png")
    press_layer(qtbot, compare, ev.FINISHED)
    outputs = [as_numpy(fetch(qtbot, p.engine, "output")) for p in compare.panes]
    assert outputs[0].shape == outputs[1].shape == (4, 5)
    last = "After the last linked layer · A finished · B finished"
    assert last in compare.statusBar().currentMessage()
    # both runs are over: a further press sends nothing and says so
    positions = [len(p.marks.executed) for p in compare.panes]
    QTest.keyClick(compare, Qt.Key.Key_F11, Qt.KeyboardModifier.ControlModifier)
    assert not compare.running() and compare.layer_status == last
    assert "Both runs are over" in compare.statusBar().currentMessage()
    assert [len(p.marks.executed) for p in compare.panes] == positions


def test_step_layer_ignores_presses_while_running_and_a_side_without_session(qtbot, compare):
    open_pair(qtbot, compare, "feedforward_torch", "feedforward_keras", "fx", "auto")
    a, b = compare.panes
    QTest.keyClick(compare, Qt.Key.Key_F11, Qt.KeyboardModifier.ControlModifier)
    assert compare.running() and not compare.act_layer.isEnabled()
    compare.step_layer_both()  # still running: ignored, not queued
    qtbot.waitUntil(
        lambda: (
            not compare.running() and all(p.last_pause.reason == ev.STEP for p in compare.panes)
        ),
        timeout=RUN_TIMEOUT,
    )
    assert compare.act_layer.isEnabled()
    assert a.last_pause.node_id == "fc1" and b.full_graph().node(b.last_pause.node_id)["op"] == (
        "BiasAdd"
    )
    b.shutdown()  # B has no session now: A steps its next layer alone
    with qtbot.waitSignal(a.paused, timeout=RUN_TIMEOUT):
        QTest.keyClick(compare, Qt.Key.Key_F11, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not compare.running(), timeout=RUN_TIMEOUT)
    assert a.last_pause.node_id == "relu" and b.engine is None
    assert "Layer 2 of 3" in compare.layer_status and "B: no session" in compare.layer_status


def test_lockstep_layer_lets_the_side_behind_catch_up():
    ends = [["a1", "a2", "a3"], ["b1", "b2", "b3"]]
    assert lockstep_layer(ends, [set(), set()], [None, None]) == 0
    # both paused at the end of layer 1: on to layer 2
    assert lockstep_layer(ends, [{"a1"}, {"b1"}], ["a1", "b1"]) == 1
    # A already at the end of layer 1, B still inside it: B catches up, A waits
    assert lockstep_layer(ends, [{"a1"}, {"x"}], ["a1", "x"]) == 0
    # A inside layer 3: B runs on to the end of layer 3 too
    assert lockstep_layer(ends, [{"a1", "a2", "x"}, set()], ["x", None]) == 2
    # past the last layer on both sides: none left
    assert lockstep_layer(ends, [{"a1", "a2", "a3"}, {"b1", "b2", "b3"}], ["a3", "b3"]) == 3


def test_selecting_fc1_selects_the_linked_dense_op(qtbot, compare):
    open_pair(qtbot, compare, "feedforward_torch", "feedforward_keras", "fx", "auto")
    a, b = compare.panes
    assert compare.links is not None and compare.links.by_layer
    a.view.select("fc1")
    partner = b.view.selected()
    assert partner is not None
    node = b.full_graph().node(partner)
    assert node["op"] == "MatMul" and "fc1" in node["scope"]
    assert "fc1 ↔" in a.link_label.text() and "MatMul" in a.link_label.text()
    # a Keras op inside fc1 (its BiasAdd) finds the PyTorch fc1 too
    bias_add = next(n for n in b.full_graph().nodes if b.full_graph().node(n)["op"] == "BiasAdd")
    b.view.select(bias_add)
    assert a.view.selected() == "fc1"
    # with Sync off, selection stays on its own side
    compare.act_sync.setChecked(False)
    a.view.select("fc2")
    assert b.view.selected() == bias_add
    # linked pairs share a colour on both sides
    compare.set_colour_mode("links")
    cats_a, cats_b = a.view.categories(), b.view.categories()
    assert cats_a["fc1"] == cats_b[partner] and cats_a["fc1"] != cats_a["fc2"]


def test_summary_line_shows_capture_and_counts(qtbot, compare):
    open_pair(qtbot, compare, "feedforward_torch", "feedforward_keras", "fx", "auto")
    a, b = compare.panes
    assert "capture fx" in a.summary_label.text() and "5 nodes" in a.summary_label.text()
    assert "3 module" in a.summary_label.text() and "Linear ×2" in a.summary_label.text()
    assert "capture function" in b.summary_label.text()
    assert f"{len(b.full_graph())} nodes" in b.summary_label.text()


def test_diff_of_two_inputs_of_dynamic_torch(qtbot, compare):
    open_pair(qtbot, compare, "dynamic_torch", "dynamic_torch@other_inputs", "eager", "eager")
    a, b = compare.panes
    ga, gb = a.full_graph(), b.full_graph()
    assert a.result.capture == b.result.capture == "eager"
    expected = diff_graphs(ga, gb)
    counts = compare.diff_counts()
    assert counts == {
        "only_a": len(expected.only_a),
        "only_b": len(expected.only_b),
        "common": len(expected.common),
    }
    assert counts["only_a"] > 0 and counts["only_b"] > 0
    assert counts["only_a"] + counts["common"] == ga.nx.number_of_nodes()
    assert counts["only_b"] + counts["common"] == gb.nx.number_of_nodes()
    text = compare.diff_label.text()
    for key in ("only_a", "only_b", "common"):
        assert f"<b>{counts[key]}</b>" in text
    assert "The executions part after" in text
    for pane, graph in ((a, ga), (b, gb)):
        assert "capture eager" in pane.summary_label.text()
        assert f"{graph.nx.number_of_nodes()} nodes" in pane.summary_label.text()

    QTest.keyClick(compare, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)  # Show diff
    assert compare.colour_mode() == "diff"
    for side, pane in enumerate(compare.panes):
        cats = pane.view.categories()
        assert ONLY_HERE in cats.values() and IN_BOTH in cats.values()
        assert pane.view._item.overlay_has.any()
        only = expected.only_a if side == 0 else expected.only_b
        assert all(cats[n] >= ONLY_HERE for n in only)

    # eager: the graphs grow as both step, and keep their diff colours
    press_both(qtbot, compare, Qt.Key.Key_F11, ev.STEP)
    press_both(qtbot, compare, Qt.Key.Key_F11, ev.STEP)
    assert all(p.live_graph is not None and len(p.live_graph) >= 2 for p in compare.panes)
    press_both(qtbot, compare, Qt.Key.Key_F5, ev.FINISHED)
    qtbot.waitUntil(lambda: not any(p.view.is_busy() for p in compare.panes), timeout=RUN_TIMEOUT)
    for pane, graph in ((a, ga), (b, gb)):
        assert pane.view.graph() is pane.live_graph
        assert set(pane.live_graph.nodes) == set(graph.nodes)
        assert pane.view._item.overlay_has.any()


def test_numeric_diff_of_two_runs_of_one_graph(qtbot, compare):
    open_pair(qtbot, compare, "feedforward_torch", "feedforward_torch", "fx", "fx")
    assert compare.diff_counts()["common"] == 5
    assert not compare.links.by_layer and compare.layer_label.isHidden()
    press_layer(qtbot, compare)  # not linked by layer: one node per side
    assert [(p.last_pause.node_id, p.last_pause.position) for p in compare.panes] == [("x", 1)] * 2
    press_both(qtbot, compare, Qt.Key.Key_F5, ev.FINISHED)
    compare.set_colour_mode("values")  # the values come from the engines: wait for them
    qtbot.waitUntil(lambda: set(compare.numeric) >= {"fc1", "relu", "fc2", "output"}, timeout=5000)
    assert all(v == (0.0, 0.0) for v in compare.numeric.values())
    assert compare.panes[0].view._overlay is not None
    assert "largest |A−B| 0" in compare.diff_label.text()


def test_teaching_menu_opens_the_current_model_side_by_side(qtbot, tmp_path: Path):
    win = MainWindow(Settings(tmp_path / "settings.ini"), show_error_dialogs=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    titles = [a.text() for a in win.menuBar().actions()]
    assert "&Teaching" in titles and titles[-1] == "&Help"
    texts = [a.text() for a in win.menus["teaching"].actions()]
    assert "Compare side by side…" in texts
    assert "Compare PyTorch and Keras feed-forward" in texts
    assert "Compare two inputs of dynamic_torch" in texts
    with qtbot.waitSignal(win.model_loaded, timeout=RUN_TIMEOUT):
        win.open_model("feedforward_torch", "fx")
    action = next(a for a in win.menus["teaching"].actions() if a.text().startswith("Compare side"))
    assert action.shortcut().toString() == "Ctrl+Shift+C"
    action.trigger()
    compare = win.compare_window
    qtbot.waitUntil(lambda: compare.links is not None, timeout=RUN_TIMEOUT)
    assert [p.spec_edit.text() for p in compare.panes] == ["feedforward_torch"] * 2
    assert [p.result.capture for p in compare.panes] == ["fx", "fx"]
    win.close()
    assert not compare.isVisible()


def test_closing_while_models_load_leaves_no_engine_behind(qtbot):
    import threading

    def engines() -> int:
        return sum(t.name == "graphstep-engine" and t.is_alive() for t in threading.enumerate())

    before = engines()
    win = CompareWindow()
    qtbot.addWidget(win)
    win.show()
    win.open_pair("feedforward_torch", "cnn_torch")
    win.close()  # both sides are still loading (one waits for the other)
    qtbot.waitUntil(lambda: not any(p.loader.is_busy() for p in win.panes), timeout=60_000)
    QApplication.processEvents()  # deliver the queued results: nothing may start from them
    assert all(p.engine is None for p in win.panes)
    assert engines() == before


PATCH_MODEL = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def build():
    return Net()


def example_inputs():
    return (torch.ones(1, 4),)


def corrupted_inputs():
    return (torch.tensor([[1.0, 5.0, 1.0, 1.0]]),)
"""


def test_patch_from_the_other_run_sets_the_node_and_runs_on(qtbot, compare, tmp_path: Path):
    model = tmp_path / "patchable.py"
    model.write_text(PATCH_MODEL)
    open_pair(qtbot, compare, str(model), f"{model}@corrupted_inputs", "fx", "fx")
    press_both(qtbot, compare, Qt.Key.Key_F5, ev.FINISHED)
    clean, corrupted = compare.panes
    fc1 = next(n for n in corrupted.full_graph().nodes if n.startswith("fc1"))
    output = next(n for n in corrupted.full_graph().nodes if n == "output")
    for pane in compare.panes:
        pane.run.fetch(output, 1)
    qtbot.waitUntil(lambda: all(p.run.value(output) is not None for p in compare.panes))
    assert not np.array_equal(clean.run.value(output), corrupted.run.value(output))
    corrupted.select(fc1)
    compare._on_selected(1, fc1)  # as a click on side B does
    before = corrupted.last_pause
    ctrl_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    QTest.keyClick(compare, Qt.Key.Key_P, ctrl_shift)
    qtbot.waitUntil(
        lambda: (
            corrupted.last_pause is not before
            and corrupted.last_pause.reason == ev.FINISHED
            and not corrupted.engine.running
        ),
        timeout=RUN_TIMEOUT,
    )
    assert "Patched" in compare.statusBar().currentMessage()
    corrupted.run.fetch(output, 1)
    qtbot.waitUntil(lambda: corrupted.run.value(output) is not None)
    # everything after fc1 now sees the clean fc1: the output is the clean run's
    np.testing.assert_array_equal(corrupted.run.value(output), clean.run.value(output))


def test_a_patch_sweep_ranks_a_layers_nodes_as_the_engine_measures_them(qtbot, compare):
    from inspectors.patching import PatchRunner
    from inspectors.target import load_target

    model = "attention_torch"  # a sample: one attention block, a clean and a corrupted input
    open_pair(qtbot, compare, model, f"{model}@corrupted_inputs", "fx", "fx")
    press_both(qtbot, compare, Qt.Key.Key_F5, ev.FINISHED)
    clean, corrupted = compare.panes
    graph = corrupted.full_graph()
    out = next(n for n in graph.nodes if graph.node(n).get("scope") == ("attn", "out"))
    corrupted.select(out)
    compare._on_selected(1, out)  # as a click on side B does
    ctrl_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    QTest.keyClick(compare, Qt.Key.Key_W, ctrl_shift)
    qtbot.waitUntil(lambda: compare.sweep_dialog is not None, timeout=RUN_TIMEOUT)
    rows = compare._sweep.rows
    swept = {r.node_id for r in rows}
    in_attn = {n for n in graph.nodes if (graph.node(n).get("scope") or ())[:1] == ("attn",)}
    assert out in swept and swept <= in_attn  # the attention's nodes, `out` among them
    assert len(rows) == compare.sweep_dialog.table.rowCount() >= 4
    # each figure is the engine's own: the same patch made headless gives the same output
    target = load_target(model)
    runner = PatchRunner(target, "fx")
    try:
        runner.run(load_target(f"{model}@corrupted_inputs").example_inputs)
        clean_out = None
        runner.run(target.example_inputs)
        clean_out = runner.outputs()[0]
        clean_values = {r.node_id: runner.values(r.node_id) for r in rows}
        for row in rows:
            runner.run(
                load_target(f"{model}@corrupted_inputs").example_inputs,
                {row.node_id: clean_values[row.node_id]},
            )
            distance = float(np.linalg.norm(runner.outputs()[0].astype(np.float64) - clean_out))
            assert row.distance == pytest.approx(distance, rel=1e-6, abs=1e-9), row.node_id
    finally:
        runner.close()
    by_node = {r.node_id: r.restored for r in rows}
    assert by_node[out] == pytest.approx(1.0, abs=1e-6)  # the attention's output: all of it
    table = compare.sweep_dialog.table  # ranked: the best first
    assert table.item(0, 1).text() == "+100.0%" and by_node[table.item(0, 0).text()] > 0.999
    assert min(by_node.values()) < 0.99  # and some nodes of the layer restore less
