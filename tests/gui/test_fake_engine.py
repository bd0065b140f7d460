"""The debugger controller and its panels against `FakeEngine`: scripted events, no
model and no framework. `test_layering` runs this file again with torch and
tensorflow blocked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from gui.shell.main_window import MainWindow
from gui.shell.settings import Settings
from inspectors import commands as cmds
from inspectors import events as ev
from tests.gui.fake_engine import SPEC, FakeEngine, chain_values

TIMEOUT = 5000


@pytest.fixture
def fake() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def window(qtbot, tmp_path: Path, fake: FakeEngine) -> MainWindow:
    win = MainWindow(Settings(tmp_path / "settings.ini"), show_error_dialogs=False, client=fake)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    with qtbot.waitSignal(win.debugger.session_started, timeout=TIMEOUT):
        win.open_model(SPEC)
    qtbot.waitUntil(lambda: win.debugger.last_pause is not None, timeout=TIMEOUT)
    yield win
    win.close()


def press(qtbot, window: MainWindow, key: Qt.Key, modifiers=Qt.KeyboardModifier.NoModifier):
    with qtbot.waitSignal(window.engine.paused, timeout=TIMEOUT) as blocker:
        QTest.keyClick(window, key, modifiers)
    return blocker.args[0]


def sent(fake: FakeEngine, kind: type) -> list:
    return [c for c in fake.commands if isinstance(c, kind)]


def test_loading_goes_to_the_engine_and_the_window_shows_its_graph(qtbot, window, fake):
    (load,) = sent(fake, cmds.Load)
    assert load.spec == SPEC and window.result.graph is fake.graph
    assert window.view.graph() is fake.graph
    assert window.debugger.last_pause.reason == ev.READY
    # the session is set up through commands alone
    assert sent(fake, cmds.SetStepPlumbing) and sent(fake, cmds.FetchInputs)
    assert sent(fake, cmds.SetBreakpoints)[-1].items == ()
    panel = window.debugger.inputs_panel
    qtbot.waitUntil(lambda: bool(panel.inputs()), timeout=TIMEOUT)
    np.testing.assert_array_equal(panel.inputs()[0], chain_values()["x"])


def test_f11_marks_nodes_and_the_tensor_panel_gets_the_value_from_the_engine(qtbot, window, fake):
    pause = press(qtbot, window, Qt.Key.Key_F11)
    assert (pause.node_id, pause.position) == ("x", 1)
    pause = press(qtbot, window, Qt.Key.Key_F11)
    assert pause.node_id == "fc1"
    qtbot.waitUntil(lambda: window.view._states.get("fc1") == "current", timeout=TIMEOUT)
    assert window.view._states["x"] == "executed" and window.view._states["relu"] == "pending"
    assert "node 2 of 4" in window.debugger.position_label.text()
    panel = window.debugger.tensor_panel
    qtbot.waitUntil(lambda: panel.current_array() is not None, timeout=TIMEOUT)
    np.testing.assert_array_equal(panel.current_array(), chain_values()["fc1"])
    assert ("fc1", 0) in {(c.node_id, c.index) for c in sent(fake, cmds.FetchValue)}


def test_breakpoint_list_goes_whole_and_hits_come_back(qtbot, window, fake):
    window.view.select("relu")
    QTest.keyClick(window, Qt.Key.Key_F9)
    (item,) = sent(fake, cmds.SetBreakpoints)[-1].items
    assert item["node"] == "relu"
    pause = press(qtbot, window, Qt.Key.Key_F5)
    assert (pause.reason, pause.node_id) == (ev.BREAKPOINT, "relu")
    (bp,) = window.debugger.breakpoints
    assert bp.hits == 1  # counted by the engine, shown by the panel
    assert "relu" in window.view._breakpoints


def test_continue_to_the_end_then_gradients_and_step_back(qtbot, window, fake):
    pause = press(qtbot, window, Qt.Key.Key_F5)
    assert pause.reason == ev.FINISHED
    assert window.debugger.act_backward.isEnabled()
    with qtbot.waitSignal(window.engine.gradients_ready, timeout=TIMEOUT):
        QTest.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert set(window.debugger.grad_summaries) == set(fake.grads)
    window.view.select("relu")
    panel = window.debugger.tensor_panel
    panel.set_mode("gradient")
    qtbot.waitUntil(lambda: panel.current_array() is not None, timeout=TIMEOUT)
    np.testing.assert_array_equal(panel.current_array(), fake.grads["relu"])


def test_an_exception_is_shown_on_its_node_and_in_the_log(qtbot, tmp_path):
    fake = FakeEngine(fail_at="relu")
    win = MainWindow(Settings(tmp_path / "s.ini"), show_error_dialogs=False, client=fake)
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.debugger.session_started, timeout=TIMEOUT):
        win.open_model(SPEC)
    with qtbot.waitSignal(win.engine.failed, timeout=TIMEOUT):
        win.debugger.send(cmds.Continue())
    qtbot.waitUntil(lambda: win.view._states.get("relu") == "error", timeout=TIMEOUT)
    assert any("scripted" in e.message for e in win.log_panel.entries())
    win.close()


def test_restart_with_new_inputs_sends_the_arrays(qtbot, window, fake):
    new = np.ones((2, 3), np.float32)
    with qtbot.waitSignal(window.engine.restarted, timeout=TIMEOUT):
        window.debugger.restart_with_inputs([new])
    (restart,) = [c for c in sent(fake, cmds.Restart) if c.inputs is not None]
    np.testing.assert_array_equal(restart.inputs[0], new)


def test_closing_the_window_closes_the_engine(window, fake):
    window.close()
    assert fake.closed
