"""A model that raises on its own example inputs opens, and pauses on the failing node."""

from __future__ import annotations

import textwrap

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from inspectors import events as ev

pytest.importorskip("torch")

RUN_TIMEOUT = 60_000

SHAPE_BUG = '''
"""fc2 takes 6 features but fc1 makes 8."""
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(6, 2)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))

def build():
    return Net()

def example_inputs():
    return (torch.randn(3, 4),)
'''


def test_a_model_that_raises_opens_and_continue_stops_on_the_failing_node(qtbot, window, tmp_path):
    path = tmp_path / "shape_bug.py"
    path.write_text(textwrap.dedent(SHAPE_BUG))
    with qtbot.waitSignal(window.model_loaded, timeout=RUN_TIMEOUT):
        window.open_model(str(path))
    debugger = window.debugger
    qtbot.waitUntil(
        lambda: debugger.engine is not None and debugger.last_pause is not None,
        timeout=RUN_TIMEOUT,
    )
    said = [e.message for e in window.log_panel.entries()]
    assert any("raised on its example inputs" in m and "continue (F5)" in m for m in said)
    with qtbot.waitSignal(debugger.engine.failed, timeout=RUN_TIMEOUT) as failed:
        QTest.keyClick(window, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: debugger.last_pause.reason == ev.EXCEPTION, timeout=RUN_TIMEOUT)
    assert failed.args[0].node_id == "fc2"
    assert window.view._states["fc2"] == "error"
    assert window.view._states["relu"] != "error"
    assert "mat1 and mat2" in failed.args[0].message
