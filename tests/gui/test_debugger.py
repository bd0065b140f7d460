"""The debugger driven through the real window offscreen, with the users' shortcuts.

Every wait is on a signal (the engine's `paused`, `failed`, `gradients_ready`, the
window's `model_loaded`); values are checked against the frameworks themselves.
"""

from __future__ import annotations

import textwrap
import time

import numpy as np
from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtTest import QTest

from gui.shell.main_window import MainWindow
from gui.shell.settings import Settings
from inspectors import commands as cmds
from inspectors import events as ev
from tests.gui.test_main_window import core, fetch, open_model

RUN_TIMEOUT = 60_000


def press(
    qtbot, window: MainWindow, key: Qt.Key, modifiers=Qt.KeyboardModifier.NoModifier
) -> ev.Paused:
    """Press a debugger shortcut and wait for the pause it leads to."""
    engine = window.debugger.engine
    with qtbot.waitSignal(engine.paused, timeout=RUN_TIMEOUT) as blocker:
        QTest.keyClick(window, key, modifiers)
    return blocker.args[0]


def ready(qtbot, window: MainWindow, spec: str, strategy: str | None = None) -> None:
    open_model(qtbot, window, spec, strategy)
    qtbot.waitUntil(lambda: window.debugger.last_pause is not None, timeout=RUN_TIMEOUT)
    assert window.debugger.last_pause.reason == ev.READY


def states(window: MainWindow) -> dict[str, str]:
    return dict(window.view._states)


def test_step_into_over_out_with_shortcuts_torch(qtbot, window):
    ready(qtbot, window, "feedforward_torch")
    d = window.debugger
    pause = press(qtbot, window, Qt.Key.Key_F11)
    assert pause.node_id == "x" and pause.position == 1
    pause = press(qtbot, window, Qt.Key.Key_F11)
    assert pause.node_id == "fc1"
    assert states(window)["fc1"] == "current" and states(window)["x"] == "executed"
    assert states(window)["fc2"] == "pending"
    assert "node 2 of" in d.position_label.text()
    pause = press(qtbot, window, Qt.Key.Key_F10)  # at depth 1: next node at depth <= 1
    assert pause.node_id == "relu"
    pause = press(qtbot, window, Qt.Key.Key_F11, Qt.KeyboardModifier.ShiftModifier)
    assert pause.position > 3
    assert window.view.selected() == pause.node_id  # the current node is selected and shown


def test_breakpoint_with_f9_then_continue_with_f5(qtbot, window):
    ready(qtbot, window, "cnn_torch")
    window.view.select("relu2")
    QTest.keyClick(window, Qt.Key.Key_F9)
    assert "relu2" in window.debugger.breakpoints.on_nodes()
    assert "relu2" in window.view._breakpoints
    pause = press(qtbot, window, Qt.Key.Key_F5)
    assert (pause.reason, pause.node_id) == (ev.BREAKPOINT, "relu2")
    # the tensor panel shows the paused node: a heatmap of the selected slice
    panel = window.debugger.tensor_panel
    value = fetch(qtbot, window.engine, "relu2")
    qtbot.waitUntil(lambda: panel.current_array() is not None, timeout=RUN_TIMEOUT)
    np.testing.assert_allclose(panel.current_array(), value)
    np.testing.assert_allclose(value, core(window).session.value("relu2"))
    image = panel.heatmap_image.image
    assert image is not None and image.shape[:2] in (value.shape[2:], value.shape[2:][::-1])
    assert np.asarray(panel.histogram_plot.bars.opts["height"]).sum() == value.size
    pause = press(qtbot, window, Qt.Key.Key_F5)
    assert pause.reason == ev.FINISHED


def test_stop_at_first_nan_marks_the_node(qtbot, window):
    ready(qtbot, window, "nan_torch")
    QTest.keyClick(window, Qt.Key.Key_F9, Qt.KeyboardModifier.ControlModifier)
    d = window.debugger
    switch = d.breakpoints_panel.stop_at_nan
    assert d.act_break_nan.isChecked() and switch.isChecked()  # one breakpoint, two views
    QTest.keyClick(window, Qt.Key.Key_F9, Qt.KeyboardModifier.ControlModifier)
    assert not d.act_break_nan.isChecked() and not switch.isChecked()
    assert len(d.breakpoints) == 0
    switch.setChecked(True)  # the panel's switch checks the toolbar's action
    assert d.act_break_nan.isChecked()
    switch.setChecked(False)
    assert not d.act_break_nan.isChecked()
    QTest.keyClick(window, Qt.Key.Key_F9, Qt.KeyboardModifier.ControlModifier)
    assert [bp.condition for bp in d.breakpoints] == ["nan"]
    assert switch.isChecked()
    pause = press(qtbot, window, Qt.Key.Key_F5)
    assert (pause.reason, pause.node_id) == (ev.BREAKPOINT, "log")
    assert "log" in window.debugger.marks.flagged
    assert states(window)["log"] == "current_nan"  # the mark is there the moment it stops
    pause = press(qtbot, window, Qt.Key.Key_F10)
    assert states(window)["log"] == "nan"  # the warning mark stays once it is not current
    panel = window.debugger.tensor_panel
    assert panel.summary_view.health_labels["nan"].property("alert") == "nan"


def test_gradients_before_the_run_ends_say_why_they_are_off(qtbot, window):
    ready(qtbot, window, "feedforward_torch")
    d = window.debugger
    press(qtbot, window, Qt.Key.Key_F11)  # paused, not finished
    assert not d.act_backward.isEnabled()
    assert "continue to the end (F5)" in d.act_backward.toolTip()
    QTest.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    expected = "Gradients need a finished run: continue to the end (F5) first."
    assert window.statusBar().currentMessage() == expected
    press(qtbot, window, Qt.Key.Key_F5)
    assert d.act_backward.isEnabled() and "Disabled" not in d.act_backward.toolTip()
    with qtbot.waitSignal(d.engine.gradients_ready, timeout=RUN_TIMEOUT):
        QTest.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)


def test_a_run_colouring_does_not_carry_over_to_the_next_model(qtbot, window):
    ready(qtbot, window, "feedforward_torch")
    press(qtbot, window, Qt.Key.Key_F5)
    with qtbot.waitSignal(window.debugger.engine.gradients_ready, timeout=RUN_TIMEOUT):
        QTest.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    window.set_overlay("gradnorm")
    assert window.view._overlay is not None
    ready(qtbot, window, "nan_torch")
    assert window.overlay_combo.currentData() == "none"
    assert window.view._overlay is None
    window.set_overlay("params")  # a colouring the graph itself gives stays
    ready(qtbot, window, "feedforward_torch")
    assert window.overlay_combo.currentData() == "params"
    assert window.view._overlay is not None


def test_gradients_after_backward_match_autograd(qtbot, window):
    import torch

    ready(qtbot, window, "feedforward_torch")
    press(qtbot, window, Qt.Key.Key_F5)
    engine = window.debugger.engine
    with qtbot.waitSignal(engine.gradients_ready, timeout=RUN_TIMEOUT):
        QTest.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    target = core(window).target
    model = target.model
    model.zero_grad()
    target.loss(model(*target.example_inputs)).backward()
    window.view.select("fc1")
    panel = window.debugger.tensor_panel
    panel.set_mode("gradient")
    assert panel.mode() == "gradient"
    qtbot.waitUntil(lambda: panel.current_array() is not None, timeout=RUN_TIMEOUT)
    hidden = model.fc1(target.example_inputs[0]).detach().requires_grad_(True)
    target.loss(model.fc2(model.relu(hidden))).backward()
    np.testing.assert_allclose(panel.current_array(), hidden.grad.numpy(), rtol=1e-5, atol=1e-7)
    window.set_overlay("gradnorm")
    overlay = window.view._overlay
    assert overlay is not None and overlay[0]["fc1"] > 0
    np.testing.assert_allclose(
        overlay[0]["fc1"], float(torch.linalg.vector_norm(hidden.grad)), rtol=1e-4
    )
    pause = press(qtbot, window, Qt.Key.Key_F10, Qt.KeyboardModifier.ShiftModifier)
    assert pause.reason == ev.GRADIENT


def test_override_a_value_changes_what_follows(qtbot, window):
    ready(qtbot, window, "feedforward_torch")
    window.view.select("relu")
    pause = press(qtbot, window, Qt.Key.Key_F10, Qt.KeyboardModifier.ControlModifier)
    assert pause.node_id == "relu"
    engine = window.debugger.engine
    with qtbot.waitSignal(engine.paused, timeout=RUN_TIMEOUT):
        window.debugger.tensor_panel.override_zero()
    press(qtbot, window, Qt.Key.Key_F5)
    model = core(window).target.model
    expected = model.fc2.bias.detach().numpy()
    outputs = core(window).session.run.outputs
    np.testing.assert_allclose(outputs[0], np.broadcast_to(expected, outputs[0].shape), rtol=1e-6)


BREAKS = '''
"""A model whose reshape fails for batches not divisible by three."""
import torch
from torch import nn


class Reshaper(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 5)

    def forward(self, x):
        return self.fc(x).reshape(3, -1)


def build():
    torch.manual_seed(0)
    return Reshaper()


def example_inputs():
    return (torch.ones(6, 10),)
'''


def test_exception_turns_the_node_red_and_restart_works(qtbot, window, tmp_path):
    path = tmp_path / "breaks.py"
    path.write_text(textwrap.dedent(BREAKS))
    ready(qtbot, window, str(path))
    d = window.debugger
    bad = np.ones((4, 10), dtype=np.float32)  # 4 * 5 = 20 values: no reshape to 3 rows
    with qtbot.waitSignal(d.engine.paused, timeout=RUN_TIMEOUT):
        d.restart_with_inputs((bad,))
    with qtbot.waitSignal(d.engine.failed, timeout=RUN_TIMEOUT) as failed:
        QTest.keyClick(window, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: d.last_pause is not None and d.last_pause.reason == ev.EXCEPTION)
    node = failed.args[0].node_id
    assert node == "reshape" and states(window)[node] == "error"
    # the status line and the Node panel count the failing node alike
    window.select_node(node)
    order = window.view.graph().order
    k = order.index(node) + 1
    assert f"order {k} of {len(order)}" in " ".join(window.node_panel.text().split())
    assert f"node {k} of {len(order)} · exception at {node}" in d.position_label.text()
    assert any("reshape" in e.message and e.details for e in window.log_panel.entries())
    with qtbot.waitSignal(d.engine.paused, timeout=RUN_TIMEOUT) as restarted:
        d.restart_with_inputs((np.ones((6, 10), dtype=np.float32),))
    assert restarted.args[0].reason == ev.READY
    assert "reshape" not in states(window) or states(window)["reshape"] != "error"
    pause = press(qtbot, window, Qt.Key.Key_F5)
    assert pause.reason == ev.FINISHED
    assert core(window).session.run.outputs[0].shape == (3, 10)


def drawn(window: MainWindow) -> set[str]:
    """The nodes the view draws now (all of them when nothing is hidden)."""
    view = window.view
    mask = view._item.shown
    return {n for n in view.graph().nodes if mask is None or mask[view._layout.boxes_of(n)].any()}


def test_eager_graph_grows_on_screen_with_each_step_and_nothing_drawn_moves(qtbot, window):
    ready(qtbot, window, "dynamic_torch", "eager")
    grown: list[set[str]] = []
    places: dict[str, tuple[float, float]] = {}
    for _ in range(6):
        press(qtbot, window, Qt.Key.Key_F11)
        window.debugger._refresh_view(force=True)
        qtbot.waitUntil(lambda: not window.view.is_busy(), timeout=RUN_TIMEOUT)
        now = drawn(window)
        grown.append(now)
        assert now == set(window.debugger.live_graph.nodes)  # what this run has met
        for node in now:  # each where it first appeared
            rect = window.view.node_rect(node)
            assert places.setdefault(node, (rect.x(), rect.y())) == (rect.x(), rect.y())
    assert all(a < b for a, b in zip(grown, grown[1:], strict=False))  # it grows
    assert "(growing)" in window.debugger.position_label.text()
    press(qtbot, window, Qt.Key.Key_F5)
    assert "(growing)" not in window.debugger.position_label.text()  # the run is over


def test_an_eager_run_on_another_path_is_laid_out_as_it_grows(qtbot, window):
    ready(qtbot, window, "dynamic_torch", "eager")
    d = window.debugger
    inputs = __import__("sample_models.dynamic_torch", fromlist=["other_inputs"]).other_inputs()
    arrays = tuple(np.asarray(t.detach().numpy() if hasattr(t, "detach") else t) for t in inputs)
    with qtbot.waitSignal(d.engine.paused, timeout=RUN_TIMEOUT):
        d.restart_with_inputs(arrays)
    press(qtbot, window, Qt.Key.Key_F5)
    d._refresh_view(force=True)
    qtbot.waitUntil(lambda: not window.view.is_busy(), timeout=RUN_TIMEOUT)
    assert d._template is None and window.view.graph() is d.live_graph  # laid out anew
    assert drawn(window) == set(d.live_graph.nodes)  # every node this run made is drawn


def test_tensorflow_steps_into_a_while_and_finishes_exactly(qtbot, window):
    ready(qtbot, window, "while_tf")
    d = window.debugger
    order = window.view.graph().order
    before = order[order.index("while") - 1]  # pauses come after a node: stop just before
    window.view.select(before)
    pause = press(qtbot, window, Qt.Key.Key_F10, Qt.KeyboardModifier.ControlModifier)
    assert pause.node_id == before
    pause = press(qtbot, window, Qt.Key.Key_F11)  # into the loop: its first real op
    assert pause.node_id == "while/body[0]/while/cell/MatVec/ExpandDims"
    seen = {pause.node_id}
    while not any(n.startswith("while/body[1]/") for n in seen):
        pause = press(qtbot, window, Qt.Key.Key_F11)  # iteration by iteration
        seen.add(pause.node_id)
    # the view followed the run into the loop body, and shows where it is
    inner = pause.node_id.split("/body[1]/", 1)[1]
    qtbot.waitUntil(lambda: window.view.selected() == inner, timeout=RUN_TIMEOUT)
    assert window.view.graph() is not window.result.graph
    assert states(window)[inner] == "current"
    assert "inside bodies" in d.position_label.text()
    pause = press(qtbot, window, Qt.Key.Key_F5)
    assert pause.reason == ev.FINISHED
    target = core(window).target
    np.testing.assert_allclose(
        core(window).session.run.outputs[0], target.call().numpy(), rtol=1e-5
    )


def test_a_loop_body_shows_executed_once_the_loop_has_run(qtbot, window):
    ready(qtbot, window, "while_tf")
    order = window.view.graph().order
    window.view.select(order[order.index("while") - 1])
    press(qtbot, window, Qt.Key.Key_F10, Qt.KeyboardModifier.ControlModifier)
    assert window.open_subgraph("while")  # the body, opened by hand before the loop runs
    qtbot.waitUntil(lambda: not window.view.is_busy(), timeout=RUN_TIMEOUT)
    body = window.view.graph()
    pause = press(qtbot, window, Qt.Key.Key_F11)
    while not pause.node_id.startswith("while/body[0]/"):
        pause = press(qtbot, window, Qt.Key.Key_F11)
    assert "pending" in states(window).values()  # inside the first iteration: not all run yet
    while pause.node_id.startswith("while/"):
        pause = press(qtbot, window, Qt.Key.Key_F11, Qt.KeyboardModifier.ShiftModifier)
    assert window.view.graph() is body
    assert set(states(window)) == set(body.nodes)
    assert set(states(window).values()) == {"executed"}
    pause = press(qtbot, window, Qt.Key.Key_F5)
    assert pause.reason == ev.FINISHED
    assert set(states(window).values()) == {"executed"}
    # a body node clicked after the run shows its value from the last iteration
    tanh = next(n for n in body.order if body.node(n).get("op") == "Tanh")
    window.view.select(tanh)
    shown = window.debugger.tensor_panel.property("node_id")
    assert shown.startswith("while/body[") and shown.endswith(f"/{tanh}")
    assert shown == max(
        (k for k in window.debugger.summaries if k.endswith(f"/{tanh}")),
        key=lambda k: list(window.debugger.summaries).index(k),
    )
    press(qtbot, window, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)  # stop: pending again
    assert set(states(window).values()) <= {"pending"}


def test_keras_value_override_and_gradients(qtbot, window):
    import tensorflow as tf

    ready(qtbot, window, "feedforward_keras")
    d = window.debugger
    press(qtbot, window, Qt.Key.Key_F5)
    with qtbot.waitSignal(d.engine.gradients_ready, timeout=RUN_TIMEOUT) as grads:
        QTest.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    target = core(window).target
    with tf.GradientTape() as tape:
        out = target.call()
        loss = target.loss(out, *target.example_inputs) if target.loss else tf.reduce_sum(out)
    variables = target.model.trainable_variables
    expected = tape.gradient(loss, variables)
    summaries = grads.args[0].params
    assert len(summaries) == len(variables)
    got = sorted(round(s.abs_max, 5) for s in summaries.values())
    want = sorted(round(float(tf.reduce_max(tf.abs(g))), 5) for g in expected)
    assert got == want


def test_gui_stays_responsive_during_a_long_continue(qtbot, window, tmp_path, capsys):
    model = tmp_path / "deep.py"
    model.write_text(
        textwrap.dedent(
            '''
            """A deep stack of small layers: many nodes, each quick."""
            import torch
            from torch import nn

            def build():
                torch.manual_seed(0)
                layers = []
                for _ in range(1500):
                    layers += [nn.Linear(64, 64), nn.Tanh()]
                return nn.Sequential(*layers)

            def example_inputs():
                return (torch.randn(32, 64),)
            '''
        )
    )
    ready(qtbot, window, str(model))
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    pause = press(qtbot, window, Qt.Key.Key_F5)
    timer.stop()
    assert pause.reason == ev.FINISHED and pause.position >= 3000
    gaps = np.diff(ticks) * 1000
    assert len(ticks) > 5, "the GUI event loop did not run while the model ran"
    with capsys.disabled():
        print(
            f"\nGUI responsiveness during a {pause.position}-node continue: longest event-loop gap {gaps.max():.1f} ms, median {np.median(gaps):.1f} ms over {len(ticks)} ticks"
        )


def test_breakpoints_and_watches_survive_a_restart_of_the_app(qtbot, tmp_path):
    settings = tmp_path / "kept.ini"
    first = MainWindow(Settings(settings), show_error_dialogs=False)
    qtbot.addWidget(first)
    first.show()
    ready(qtbot, first, "feedforward_torch")
    first.view.select("relu")
    QTest.keyClick(first, Qt.Key.Key_F9)
    first.debugger.watch_selected()
    first.debugger.breakpoints_panel.add_breakpoint(condition="threshold", stat="absmax", value=5.0)
    first.close()

    second = MainWindow(Settings(settings), show_error_dialogs=False)
    qtbot.addWidget(second)
    second.show()
    ready(qtbot, second, "feedforward_torch")
    kept = [bp.describe() for bp in second.debugger.breakpoints]
    assert kept == ["on relu", "on any node if absmax > 5"]
    assert second.debugger.watch_panel.watched() == ["relu"]
    assert "relu" in second.view._breakpoints
    second.close()


def test_a_value_over_the_budget_keeps_its_summary_and_says_it_was_dropped(qtbot, window):
    window.debugger.set_value_budget(1 << 20)  # 1 MiB: cnn_torch's conv1 output is 50 KB
    ready(qtbot, window, "cnn_torch")
    session = core(window).session
    assert session.store.budget == 1 << 20
    window.debugger.set_value_budget(20_000)  # below one conv output: big values dropped
    press(qtbot, window, Qt.Key.Key_F5)
    assert session.store.budget == 20_000  # the command reached the engine before the run
    window.view.select("conv1")
    panel = window.debugger.tensor_panel
    # the engine answers the panel's fetch: that value was dropped to stay within budget
    qtbot.waitUntil(lambda: "memory budget" in panel.note_label.text(), timeout=RUN_TIMEOUT)
    assert panel.dropped_note.isVisible()
    assert panel.summary_view.stats_label.text()  # the summary is still shown
    with qtbot.waitSignal(window.debugger.engine.value_ready, timeout=RUN_TIMEOUT) as ready_:
        panel.recompute_button.click()
    np.testing.assert_allclose(ready_.args[0].array.shape, (2, 8, 28, 28))


def test_closing_the_window_while_a_model_runs_ends_the_engine(qtbot, tmp_path):
    model = tmp_path / "long.py"
    model.write_text(
        textwrap.dedent(
            '''
            """Long enough to still be running when the window closes."""
            import torch
            from torch import nn

            def build():
                torch.manual_seed(0)
                return nn.Sequential(*[nn.Linear(256, 256) for _ in range(4000)])

            def example_inputs():
                return (torch.randn(64, 256),)
            '''
        )
    )
    win = MainWindow(Settings(tmp_path / "s.ini"), show_error_dialogs=False)
    qtbot.addWidget(win)
    win.show()
    ready(qtbot, win, str(model))
    engine = win.debugger.engine
    with qtbot.waitSignal(engine.nodes_stepped, timeout=RUN_TIMEOUT):
        engine.send(cmds.Continue())  # the model is running: nodes are arriving
    session = core(win).session
    thread = session._thread
    win.close()
    thread.join(10)
    assert not thread.is_alive()
    assert session.last_pause.reason != ev.FINISHED  # it really was cut short


def test_restart_keeps_the_window_running_until_the_run_ends(qtbot, window):
    ready(qtbot, window, "cnn_torch")
    engine = window.debugger.engine
    press(qtbot, window, Qt.Key.Key_F5)
    changes: list[bool] = []
    engine.running_changed.connect(changes.append)
    reasons: list[str] = []
    engine.paused.connect(lambda p: reasons.append((p.reason, engine.running)))
    QTest.keyClick(
        window,
        Qt.Key.Key_F5,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    qtbot.waitUntil(lambda: any(r == ev.FINISHED for r, _ in reasons), timeout=RUN_TIMEOUT)
    assert reasons[0] == (ev.READY, True)  # the restart's ready pause: still running
    assert reasons[-1] == (ev.FINISHED, False)
    assert changes == [True, False]


def test_loading_summarises_the_inputs_off_the_gui_thread(qtbot, window, monkeypatch):
    import threading

    import gui.panels.inputs_panel as inputs_panel
    import inspectors.tensors as tensors

    on_gui: list[str] = []
    real = tensors.summarize

    def watched(value, *args, **kwargs):
        if threading.current_thread() is threading.main_thread():
            on_gui.append("summarize")
        return real(value, *args, **kwargs)

    monkeypatch.setattr(tensors, "summarize", watched)
    monkeypatch.setattr(inputs_panel, "summarize", watched)
    ready(qtbot, window, "cnn_torch")
    tree = window.debugger.inputs_panel.tree
    qtbot.waitUntil(lambda: tree.topLevelItemCount() == 1, timeout=RUN_TIMEOUT)
    assert on_gui == []  # a huge input would otherwise freeze the window while it loads


def view_center(window: MainWindow) -> tuple[float, float, float]:
    view = window.view
    center = view.mapToScene(view.viewport().rect().center())
    return (round(center.x(), 1), round(center.y(), 1), view.transform().m11())


def fully_in_view_and_clear(window: MainWindow, node_id: str) -> bool:
    """The node's box inside the viewport, under neither the legend nor the minimap."""
    view = window.view
    box = QRectF(view.mapFromScene(view.node_rect(node_id)).boundingRect())
    if not QRectF(view.viewport().rect()).contains(box):
        return False
    return not any(box.intersects(cover) for cover in view._covers())


def test_a_pause_moves_the_view_only_to_bring_the_node_into_view(qtbot, tmp_path):
    window = MainWindow(Settings(tmp_path / "settings.ini"), show_error_dialogs=False)
    qtbot.addWidget(window)
    window.show()  # the default size, as a new user gets it
    qtbot.waitExposed(window)
    window.activateWindow()
    ready(qtbot, window, "feedforward_torch")
    qtbot.waitUntil(lambda: not window.view.is_busy(), timeout=RUN_TIMEOUT)
    before = view_center(window)
    assert not window.view._minimap.isVisible()  # the whole graph fits: no minimap
    for node in ("x", "fc1", "relu", "fc2", "output"):
        pause = press(qtbot, window, Qt.Key.Key_F10)
        assert pause.node_id == node
        assert view_center(window) == before  # all of it is on screen: nothing moves
        assert not window.view._minimap.isVisible()
        assert window.view.selected() == node

    # zoomed in on the output, the next pauses scroll just enough to show each node
    for _ in range(8):
        window.view.zoom_in()
    window.view.center_on_node("output")
    press(qtbot, window, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)  # back to the start
    for node in ("x", "fc1", "relu", "fc2"):
        pause = press(qtbot, window, Qt.Key.Key_F10)
        assert pause.node_id == node
        assert fully_in_view_and_clear(window, node), node
        moved_to = view_center(window)
        window.view.reveal_node(node)  # already in view: a second reveal does nothing
        assert view_center(window) == moved_to


def test_run_to_a_node_that_already_ran_says_so_instead_of_running_to_the_end(qtbot, window):
    ready(qtbot, window, "feedforward_torch")
    window.view.select("relu")
    pause = press(qtbot, window, Qt.Key.Key_F10, Qt.KeyboardModifier.ControlModifier)
    assert pause.node_id == "relu"
    QTest.keyClick(window, Qt.Key.Key_F10, Qt.KeyboardModifier.ControlModifier)  # again
    assert "has already run" in window.statusBar().currentMessage()
    assert window.debugger.last_pause.node_id == "relu"  # nothing ran
    window.view.select(None)
    QTest.keyClick(window, Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)
    assert window.statusBar().currentMessage() == "Select a node to watch"


def test_the_inputs_panel_shows_the_runs_inputs_read_on_the_engine_thread(qtbot, window):
    ready(qtbot, window, "feedforward_torch")
    panel = window.debugger.inputs_panel
    qtbot.waitUntil(lambda: len(panel.inputs()) == 1, timeout=RUN_TIMEOUT)
    expected = core(window).session.stepper.inputs()[0]
    np.testing.assert_array_equal(panel.inputs()[0], expected)
    new = np.full((4, 10), 0.5, np.float32)
    with qtbot.waitSignal(window.debugger.engine.inputs_ready, timeout=RUN_TIMEOUT):
        window.debugger.restart_with_inputs((new,))
    np.testing.assert_array_equal(panel.inputs()[0], new)
