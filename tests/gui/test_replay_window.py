"""The window on a recording: `graphstep open FILE.gsrec` replays a recorded run with no
model: continue, step back, breakpoints and the Tensor panel act on what was recorded."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from gui.shell.main_window import MainWindow
from gui.shell.settings import Settings
from inspectors import cli
from inspectors import events as ev
from inspectors.recording import ReplayEngine, read
from tests.gui.test_main_window import fetch

TIMEOUT = 30_000

pytestmark = pytest.mark.torch


@pytest.fixture
def replay(qtbot, tmp_path):
    path = tmp_path / "nan.gsrec"
    assert cli.main(["run", "nan_torch", "--json", "--record", str(path)]) == 0
    recording = read(path)
    win = MainWindow(
        Settings(tmp_path / "s.ini"), show_error_dialogs=False, client=ReplayEngine(recording)
    )
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.debugger.last_pause is not None, timeout=TIMEOUT)
    yield win, recording
    win.close()


def press(qtbot, win, key, modifiers=Qt.KeyboardModifier.NoModifier) -> ev.Paused:
    before = win.debugger.last_pause
    QTest.keyClick(win, key, modifiers)
    qtbot.waitUntil(lambda: win.debugger.last_pause is not before, timeout=TIMEOUT)
    return win.debugger.last_pause


def test_a_replayed_run_continues_steps_back_and_shows_recorded_values(qtbot, replay):
    win, recording = replay
    assert win.result is not None and win.result.name == "nan_torch"
    assert any("Replaying a recorded run" in e.message for e in win.log_panel.entries())
    end = press(qtbot, win, Qt.Key.Key_F5)
    assert (end.reason, end.position) == (ev.FINISHED, 7)
    ctrl_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    back = press(qtbot, win, Qt.Key.Key_F11, ctrl_shift)  # step back
    assert (back.reason, back.node_id, back.position) == (ev.STEP, "fc2", 6)
    assert "log" in win.debugger.marks.executed and "output" not in win.debugger.marks.executed
    value = fetch(qtbot, win.engine, "log")
    np.testing.assert_array_equal(value, recording.values["log"][0])  # NaNs as recorded
    assert np.isnan(value).any()


def test_a_replay_stops_at_the_first_nan_as_the_live_run_did(qtbot, replay):
    win, _recording = replay
    win.debugger.toggle_nan_breakpoint()
    pause = press(qtbot, win, Qt.Key.Key_F5)
    assert (pause.reason, pause.node_id) == (ev.BREAKPOINT, "log")


def test_re_run_live_from_here_reaches_the_node_with_the_recorded_value(qtbot, replay):
    """Ctrl+Shift+L on a recording paused at a node opens the model for real, runs it
    to that node, and the Log says the live value matches the recorded one."""
    win, recording = replay
    assert win.windowTitle() == "nan_torch (recording) — Graphstep"
    assert not win.debugger.act_live.isEnabled()  # before any node: nowhere to go
    ctrl_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    pause = press(qtbot, win, Qt.Key.Key_F11)
    while pause.node_id != "log" and pause.position < 7:
        pause = press(qtbot, win, Qt.Key.Key_F11)
    assert pause.node_id == "log" and win.debugger.act_live.isEnabled()
    QTest.keyClick(win, Qt.Key.Key_L, ctrl_shift)
    qtbot.waitUntil(
        lambda: any("matches the recording" in e.message for e in win.log_panel.entries()),
        timeout=120_000,
    )
    assert not isinstance(win.engine.client, ReplayEngine)
    assert win.windowTitle() == "nan_torch — Graphstep"  # no longer "(recording)"
    live = win.debugger.last_pause
    assert (live.node_id, live.position) == ("log", 5)
    assert not win.debugger.tensor_panel.read_only and not win.debugger.act_live.isEnabled()
    np.testing.assert_array_equal(fetch(qtbot, win.engine, "log"), recording.values["log"][0])
    end = press(qtbot, win, Qt.Key.Key_F5)  # and it goes on for real
    assert (end.reason, end.position) == (ev.FINISHED, 7)


def test_re_run_live_says_why_not_when_the_model_is_not_at_hand(qtbot, replay):
    win, _recording = replay
    win.debugger.spec = "<Net>"  # as a watched loop's recording names its model
    press(qtbot, win, Qt.Key.Key_F11)
    assert not win.debugger.act_live.isEnabled()
    assert "not a file or sample at hand" in win.debugger.act_live.toolTip()


def test_a_live_value_unlike_the_recorded_one_is_named():
    from dataclasses import replace

    from gui.debugging.debugger import value_difference
    from inspectors.tensors import summarize

    recorded = (summarize(np.array([1.0, np.nan, 3.0], dtype=np.float32)),)
    assert value_difference(recorded, recorded) == ""
    assert value_difference(recorded, (replace(recorded[0], nan=0),)) == "0 nan, recorded 1"
    assert value_difference(recorded, (replace(recorded[0], max=4.0),)) == "max 4, recorded 3"
    assert value_difference(recorded, ()) == "0 outputs, the recording has 1"
