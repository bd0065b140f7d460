"""Breakpoints and watches as the user sees and keeps them, through the real window:
the Log's words for a hit, the saved per-model state, malformed saved state."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from gui.shell.main_window import MainWindow
from inspectors import events as ev
from tests.gui.test_debugger import press, ready

SPEC = "feedforward_torch"


def log_lines(window: MainWindow, start: str) -> list[tuple[str, str]]:
    return [(e.level, e.message) for e in window.log_panel.entries() if e.message.startswith(start)]


@pytest.mark.torch
def test_the_log_names_a_breakpoint_by_what_it_does(qtbot, window):
    ready(qtbot, window, SPEC)
    window.view.select("relu")
    for _ in range(4):  # edits: each F9 makes a new breakpoint with a new id
        QTest.keyClick(window, Qt.Key.Key_F9)
    QTest.keyClick(window, Qt.Key.Key_F9)
    (bp,) = window.debugger.breakpoints
    assert bp.id >= 3  # the third breakpoint made: ids grow with every edit, unseen
    pause = press(qtbot, window, Qt.Key.Key_F5)
    assert (pause.reason, pause.node_id, pause.breakpoint_id) == (ev.BREAKPOINT, "relu", bp.id)
    assert log_lines(window, "Breakpoint") == [("info", "Breakpoint on relu hit")]


@pytest.mark.torch
def test_a_breakpoint_disabled_by_its_failing_expression_is_saved_disabled(qtbot, window):
    ready(qtbot, window, SPEC)
    panel = window.debugger.breakpoints_panel
    panel.add_breakpoint(node="fc1", condition="expression", expression="t.no_such_thing > 1")
    (saved,) = window.settings.model_state(SPEC)["breakpoints"]
    assert saved["enabled"] is True and "fc1" in window.view._breakpoints
    pause = press(qtbot, window, Qt.Key.Key_F5)
    assert (pause.reason, pause.node_id) == (ev.BREAKPOINT, "fc1")
    (saved,) = window.settings.model_state(SPEC)["breakpoints"]  # saved at once, not on close
    assert saved["enabled"] is False
    assert "fc1" not in window.view._breakpoints  # the marker of a disabled breakpoint goes
    assert panel.tree.topLevelItem(0).checkState(0) == Qt.CheckState.Unchecked
    ((level, text),) = log_lines(window, "Breakpoint")
    assert level == "warning"
    assert text.startswith(
        "Breakpoint on fc1 if t.no_such_thing > 1 stopped at fc1: its expression "
        "`t.no_such_thing > 1` raised AttributeError"
    )
    assert text.endswith("it is disabled until you fix and enable it")


@pytest.mark.torch
@pytest.mark.parametrize(
    ("state", "ignored"),
    [
        ({"watches": 5}, "the watches (5: not a list)"),
        ({"breakpoints": "x"}, "the breakpoints ('x': not a list)"),
        (
            {
                "breakpoints": [
                    {"node": 3},
                    {"node": "relu"},
                    7,
                    {"condition": "threshold", "value": "abc"},
                    {"condition": "sometimes"},
                    {"node": "fc2", "colour": "red"},
                ],
                "watches": ["fc1", None],
            },
            "breakpoint 1 (node is 3); breakpoint 3 (7 is not a breakpoint); "
            "breakpoint 4 (value is 'abc'); breakpoint 5 (unknown condition 'sometimes'",
        ),
    ],
)
def test_a_malformed_saved_state_is_skipped_and_named_in_the_log(qtbot, window, state, ignored):
    window.settings.set_model_state(SPEC, state)
    ready(qtbot, window, SPEC)  # the debugger works: the session is ready
    assert window.debugger.engine is not None and window.debugger.act_step_into.isEnabled()
    ((level, text),) = log_lines(window, "Saved breakpoints and watches")
    assert level == "warning" and ignored in text, text
    if "breakpoints" in state and isinstance(state["breakpoints"], list):
        kept = [bp.describe() for bp in window.debugger.breakpoints]
        assert kept == ["on relu", "on fc2"]
        assert "unknown fields of breakpoint 6: colour" in text
        assert window.debugger.watch_panel.watched() == ["fc1"]
        assert "a watch on None (not a node id)" in text
    pause = press(qtbot, window, Qt.Key.Key_F11)
    assert pause.node_id == "x"
