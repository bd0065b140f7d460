"""The Explain panel in the real window: capture failures, TF graphs, a While, a retrace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PySide6.QtCore import QUrl

from gui.shell.main_window import MainWindow
from inspectors import commands as cmds
from inspectors import events as ev
from tests.gui.test_main_window import open_model

TIMEOUT = 60_000
SHOTS = Path("/tmp/shots")


def ready(qtbot, window: MainWindow, spec: str) -> None:
    open_model(qtbot, window, spec)
    qtbot.waitUntil(lambda: window.debugger.last_pause is not None, timeout=TIMEOUT)
    assert window.debugger.last_pause.reason == ev.READY


def shot(qtbot, window: MainWindow, name: str) -> None:
    """Save the window with the Explain panel in front, once its newest entry is laid out."""
    window.explain.dock.raise_()
    qtbot.waitUntil(window.explain.panel.browser.isVisible, timeout=TIMEOUT)
    SHOTS.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(SHOTS / f"explain_{name}.png"))


@pytest.mark.torch
def test_fx_failure_is_explained_with_the_framework_message(qtbot, window):
    ready(qtbot, window, "dynamic_torch")
    panel = window.explain.panel
    assert window.explain.dock.isVisible()
    titles = [e.title for e in panel.entries()]
    assert "Why fx could not trace dynamic_torch" in titles
    assert "for step in range(sequence.shape[1])" in panel.text()
    index = titles.index("Why fx could not trace dynamic_torch")
    assert not panel.details_shown(index)
    assert "Show the framework's message" in panel.browser.toPlainText()
    panel._on_anchor(QUrl(f"details:{index}"))  # what a click on the link does
    assert panel.details_shown(index)
    assert "'Proxy' object cannot be interpreted" in panel.browser.toPlainText()
    assert not panel.functions.isVisible()  # PyTorch: no concrete functions


@pytest.mark.tf
def test_while_step_over_then_retrace_and_switch(qtbot, window):
    ready(qtbot, window, "while_tf")
    explain = window.explain
    panel = explain.panel
    assert "ReadVariableOp" in panel.text() and "static graph" in panel.text()
    graph = window.result.graph
    loop = next(n for n in graph.order if graph.node(n)["op"] == "While")
    before = graph.order[graph.order.index(loop) - 1]
    engine = window.debugger.engine
    with qtbot.waitSignal(engine.paused, timeout=TIMEOUT):
        engine.send(cmds.RunTo(before))
    with qtbot.waitSignal(engine.paused, timeout=TIMEOUT) as blocker:
        window.debugger.send(cmds.StepOver())
    assert blocker.args[0].node_id == loop
    qtbot.waitUntil(lambda: panel.entries()[0].title.startswith("Step over"), timeout=TIMEOUT)
    assert "ran 3 iterations" in panel.entries()[0].text
    shot(qtbot, window, "while_step_over")

    box = panel.functions
    assert box.isVisible() and len(box.signatures()) == 1
    first_graph = window.result.graph
    box.batch.setValue(8)  # x has no batch dimension: TensorFlow refuses, in words
    with qtbot.waitSignal(explain.trace_failed, timeout=TIMEOUT):
        box.retrace_button.click()
    assert "could not trace" in panel.entries()[0].title
    assert window.result.graph is first_graph and box.retrace_button.isEnabled()


@pytest.mark.tf
def test_retrace_lists_two_concrete_functions_and_switches(qtbot, window):
    ready(qtbot, window, "nan_tf")
    explain = window.explain
    box = explain.panel.functions
    assert box.signatures() == [window.result.graph.meta["signature"]]
    assert "shape=(3, 8)" in box.signatures()[0]
    box.batch.setValue(5)
    with qtbot.waitSignal(explain.trace_shown, timeout=TIMEOUT) as blocker:
        box.retrace_button.click()
    result = blocker.args[0]
    assert window.result is result and window.view.graph() is result.graph
    assert len(box.signatures()) == 2 and "shape=(5, 8)" in box.signatures()[1]
    assert box.list.currentRow() == 1
    top = explain.panel.entries()[0]
    assert top.title.startswith("Retrace") and all(s in top.text for s in box.signatures())
    inputs = [n for n in result.graph.order if result.graph.node(n)["kind"] == "input"]
    assert result.graph.node(inputs[0])["outputs"][0][0] == (5, 8)
    qtbot.waitUntil(lambda: window.debugger.last_pause is not None, timeout=TIMEOUT)
    shot(qtbot, window, "retrace")

    with qtbot.waitSignal(explain.trace_shown, timeout=TIMEOUT) as blocker:
        box.trace_selected.emit(0)
    back = blocker.args[0].graph
    assert window.view.graph() is back
    assert back.node(inputs[0])["outputs"][0][0] == (3, 8)
    assert box.list.currentRow() == 0 and len(box.signatures()) == 2
    assert explain.panel.entries()[0].title == "Another concrete function"


@pytest.mark.torch
def test_another_model_replaces_the_texts_of_the_previous_one(qtbot, window):
    ready(qtbot, window, "cnn_torch")
    panel = window.explain.panel
    assert "cnn_torch" in panel.text()
    ready(qtbot, window, "feedforward_torch")
    assert "cnn_torch" not in panel.text()
    assert [e.title for e in panel.entries()] == ["A graph traced by torch.fx"]
    # the same count as the status bar's "node k of n"
    n = window.run_model.total
    assert f"node 0 of {n} " in window.debugger.position_label.text()
    assert f"into these {n} nodes (3 layer calls, 1 input, 1 output)" in panel.text()


@pytest.mark.tf
def test_the_loop_text_follows_the_iteration_and_counts_match_the_status_bar(qtbot, window):
    ready(qtbot, window, "while_tf")
    panel = window.explain.panel
    status = window.debugger.position_label.text()
    match = re.search(r"node 0 of (\d+) ", status)
    assert match is not None, status
    assert f"a graph of {match[1]} nodes (" in panel.text()

    graph = window.result.graph
    loop = next(n for n in graph.order if graph.node(n)["op"] == "While")
    engine = window.debugger.engine
    with qtbot.waitSignal(engine.paused, timeout=TIMEOUT):
        engine.send(cmds.RunTo(graph.order[graph.order.index(loop) - 1]))
    seen: list[str] = []
    while "/body[1]/" not in (seen[-1] if seen else ""):
        assert len(seen) < 60, seen
        with qtbot.waitSignal(engine.paused, timeout=TIMEOUT) as blocker:
            window.debugger.send(cmds.Step())
        seen.append(blocker.args[0].node_id or "")
        if "/body[0]/" in seen[-1]:
            assert panel.entries()[0].title == f"Inside the loop `{loop}`: 1st iteration"
    top = panel.entries()[0]
    assert top.title == f"Inside the loop `{loop}`: 2nd iteration"
    assert "`body[1]` is the 2nd iteration" in top.text
    assert sum(e.title.startswith("Inside the loop") for e in panel.entries()) == 1
