"""The window on an engine process: a model that crashes its engine leaves the window
up, the Log names the crash and the last node, and Restart opens a new engine."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from gui.shell.main_window import MainWindow
from gui.shell.settings import Settings
from inspectors import events as ev
from inspectors.remote import ProcessEngine
from tests.inspectors.test_remote import CRASHES, HANGS

TIMEOUT = 90_000


def open_in_engine_process(
    qtbot, tmp_path, source: str, strategy: str | None = "eager"
) -> tuple[MainWindow, ProcessEngine]:
    """A window whose engine is a process, on the model file `source` (eager, or
    `strategy`; None: the framework's own)."""
    model = tmp_path / "model.py"
    model.write_text(source)
    client = ProcessEngine()
    win = MainWindow(Settings(tmp_path / "s.ini"), show_error_dialogs=False, client=client)
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.debugger.session_started, timeout=TIMEOUT):
        win.open_model(str(model), strategy)
    return win, client


@pytest.mark.torch
def test_a_crashing_model_leaves_the_window_and_restart_opens_a_new_engine(qtbot, tmp_path):
    win, client = open_in_engine_process(qtbot, tmp_path, CRASHES)
    (tmp_path / "armed").touch()
    first = client.pid
    with qtbot.waitSignal(win.engine.engine_died, timeout=TIMEOUT) as died:
        QTest.keyClick(win, Qt.Key.Key_F5)
    assert "SIGSEGV" in died.args[0].how
    errors = [e.message for e in win.log_panel.entries() if e.level == "error"]
    assert any("SIGSEGV" in m and "after" in m for m in errors), errors
    assert win.isVisible() and win.result is not None  # the graph stays
    assert "engine ended after" in win.debugger.position_label.text()
    assert win.debugger.act_restart.isEnabled() and not win.debugger.act_continue.isEnabled()
    (tmp_path / "armed").unlink()
    with qtbot.waitSignal(win.debugger.session_started, timeout=TIMEOUT):
        QTest.keyClick(
            win,
            Qt.Key.Key_F5,
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
        )
    assert client.pid not in (None, first)
    qtbot.waitUntil(lambda: win.debugger.last_pause is not None, timeout=TIMEOUT)
    with qtbot.waitSignal(win.engine.paused, timeout=TIMEOUT) as pause:
        QTest.keyClick(win, Qt.Key.Key_F5)
    assert pause.args[0].reason == ev.FINISHED  # the new engine runs the model whole
    win.close()
    assert client.pid is None


@pytest.mark.torch
def test_a_model_that_never_pauses_is_ended_with_stop(qtbot, tmp_path):
    win, client = open_in_engine_process(qtbot, tmp_path, HANGS)
    qtbot.waitUntil(lambda: win.debugger.last_pause is not None, timeout=TIMEOUT)
    (tmp_path / "armed").touch()
    QTest.keyClick(win, Qt.Key.Key_F5)
    qtbot.wait(300)
    QTest.keyClick(win, Qt.Key.Key_F6)  # the forward is inside one endless call
    stop = win.debugger.act_stop
    qtbot.waitUntil(lambda: stop.text() == "End engine", timeout=5000)
    assert any("has not paused" in e.message for e in win.log_panel.entries())
    with qtbot.waitSignal(win.engine.engine_died, timeout=2000) as died:
        QTest.keyClick(win, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)
    assert died.args[0].how == "ended by you"
    (tmp_path / "armed").unlink()
    with qtbot.waitSignal(win.debugger.session_started, timeout=TIMEOUT):
        win.open_model("feedforward_torch")  # the app goes on with another model
    win.close()


@pytest.mark.torch
def test_stop_ends_a_model_stuck_in_one_call_within_two_seconds(qtbot, tmp_path):
    win, client = open_in_engine_process(qtbot, tmp_path, HANGS)
    qtbot.waitUntil(lambda: win.debugger.last_pause is not None, timeout=TIMEOUT)
    (tmp_path / "armed").touch()
    QTest.keyClick(win, Qt.Key.Key_F5)
    qtbot.wait(300)
    win.debugger._update_status()  # running: the engine process's memory, read live
    assert client.resident_memory() > 0 and "engine" in win.debugger.position_label.text()
    start = time.monotonic()
    with qtbot.waitSignal(win.engine.engine_died, timeout=4000) as died:
        QTest.keyClick(win, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)  # Stop, no F6
    assert time.monotonic() - start < 2.0 and died.args[0].how == "ended by you"
    said = [(e.level, e.message) for e in win.log_panel.entries()]
    assert any(level == "info" and "did not stop within" in m for level, m in said), said
    assert not any(level == "error" for level, _m in said), said  # asked for: not an error
    assert win.isVisible() and win.result is not None and not win.engine.running
    win.close()


def test_a_breakpoint_expression_that_never_finishes_is_disabled_when_stopped(qtbot, tmp_path):
    win, _client = open_in_engine_process(qtbot, tmp_path, HANGS)  # unarmed: it returns
    qtbot.waitUntil(lambda: win.debugger.last_pause is not None, timeout=TIMEOUT)
    panel = win.debugger.breakpoints_panel
    slow = panel.add_breakpoint(condition="expression", expression="sum(range(10**12)) > 0")
    QTest.keyClick(win, Qt.Key.Key_F5)
    qtbot.wait(300)
    with qtbot.waitSignal(win.engine.engine_died, timeout=4000) as died:
        QTest.keyClick(win, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)
    assert died.args[0].in_breakpoint and died.args[0].last_node
    assert not win.debugger.breakpoints.get(slow.id).enabled  # a restart will not hang
    warnings = [e.message for e in win.log_panel.entries() if e.level == "warning"]
    assert any("did not finish" in m and "sum(range" in m for m in warnings), warnings
    saved = win.settings.model_state(win.debugger.spec)["breakpoints"]
    assert [b.get("enabled") for b in saved] == [False]
    win.close()


CRASHES_TF = '''
"""A TensorFlow function whose middle op reads address 0 (a crash in native code) once
the file `armed` beside it exists."""
import ctypes
from pathlib import Path

import tensorflow as tf

ARMED = Path(__file__).with_name("armed")


def check(x):
    if ARMED.exists():
        ctypes.string_at(0)
    return x


class Model(tf.Module):
    def __init__(self):
        super().__init__()
        self.w = tf.Variable(tf.ones((4, 4)))

    @tf.function
    def __call__(self, x):
        h = tf.matmul(x, self.w)
        h = tf.numpy_function(check, [h], tf.float32, stateful=False)
        h.set_shape((1, 4))
        return tf.tanh(h)


def build():
    return Model()


def example_inputs():
    return (tf.ones((1, 4)),)
'''


@pytest.mark.tf
def test_a_crash_inside_tensorflows_one_call_run_is_found_op_by_op_after_restart(qtbot, tmp_path):
    win, client = open_in_engine_process(qtbot, tmp_path, CRASHES_TF, None)
    qtbot.waitUntil(lambda: win.debugger.last_pause is not None, timeout=TIMEOUT)
    (tmp_path / "armed").touch()
    with qtbot.waitSignal(win.engine.engine_died, timeout=TIMEOUT) as died:
        QTest.keyClick(win, Qt.Key.Key_F5)
    assert died.args[0].in_one_call and died.args[0].last_node is None
    errors = [e.message for e in win.log_panel.entries() if e.level == "error"]
    assert any("as one call" in m and "op by op from now on" in m for m in errors), errors
    assert client.op_by_op
    (tmp_path / "armed").unlink()  # the new engine's capture runs the function once
    with qtbot.waitSignal(win.debugger.session_started, timeout=TIMEOUT):
        QTest.keyClick(
            win,
            Qt.Key.Key_F5,
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
        )
    qtbot.waitUntil(lambda: win.debugger.last_pause is not None, timeout=TIMEOUT)
    (tmp_path / "armed").touch()
    with qtbot.waitSignal(win.engine.engine_died, timeout=TIMEOUT) as again:
        QTest.keyClick(win, Qt.Key.Key_F5)
    # op by op, the crash comes after the last node that finished: the MatMul before it
    assert not again.args[0].in_one_call
    last = again.args[0].last_node
    assert last is not None and win.debugger.view.graph().node(last)["op"] == "MatMul", last
    win.close()
