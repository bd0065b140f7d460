"""Explain texts and concrete-function traces, headless: real models, real names."""

from __future__ import annotations

import pytest

from inspectors import events as ev
from inspectors import explain
from inspectors.capture import capture
from inspectors.graph import Graph
from inspectors.session import Session
from inspectors.target import load_target
from inspectors.tensors import summarize


@pytest.mark.torch
def test_fx_failure_text_quotes_the_failing_line():
    captured = capture(load_target("dynamic_torch"))
    graph = captured.graph
    items = explain.on_load(graph, captured.strategy, graph.meta["failures"])
    fx = next(e for e in items if e.title.startswith("Why fx"))
    assert "`for step in range(sequence.shape[1]):` at dynamic_torch.py:25" in fx.text
    assert "Proxy" in fx.details  # the framework's own message, behind the expander
    export = next(e for e in items if e.title.startswith("Why export"))
    assert "if sequence.mean() > 0:" in export.text
    assert "eager recording" in export.text
    eager = next(e for e in items if e.key == "eager")
    assert "this one input" in eager.text


@pytest.mark.tf
def test_keras_text_names_a_real_read_variable_op_and_identity():
    captured = capture(load_target("feedforward_keras"))
    graph = captured.graph
    items = {e.key: e for e in explain.on_load(graph, captured.strategy)}
    assert "static" in items and "before the first op" in items["static"].text
    read = items["readvariable"]
    (node,) = read.nodes
    assert graph.node(node)["op"] == "ReadVariableOp"
    assert f"`{node}`" in read.text and "handle" in read.text
    (ident,) = items["identity"].nodes
    assert graph.node(ident)["op"] == "Identity"
    assert "hides them" in items["identity"].text


@pytest.mark.tf
def test_while_step_over_and_iteration_texts():
    captured = capture(load_target("while_tf"))
    graph = captured.graph
    loop = next(n for n in graph.order if graph.node(n)["op"] == "While")
    before = graph.order[graph.order.index(loop) - 1]
    events: list[ev.Event] = []
    session = Session(captured, listener=events.append)
    session.start()
    try:
        session.wait()
        session.run_to(before)
        session.wait()
        events.clear()
        session.step_over()
        pause = session.wait()
        assert pause is not None and pause.node_id == loop
        stepped = [e for e in events if isinstance(e, ev.NodeStepped)]
        item = explain.step_over(graph, loop, stepped[-1].summaries)
        assert item is not None
        assert "ran 3 iterations" in item.text  # the sample's `steps` is 3
        assert f"`{loop}/body[0]/…`" in item.text
        assert graph.node(loop)["subgraphs"]["body"] in item.text
        session.restart()
        session.wait()
        session.run_to(before)
        session.wait()
        for _ in range(3):  # cond[0]: Less, Identity; then the body's first op
            session.step()
            pause = session.wait()
        assert pause is not None and "/body[0]/" in (pause.node_id or "")
        inside = explain.iteration(pause.node_id)
        assert inside is not None and "in the 1st iteration" in inside.text
        assert inside.title == "Inside the loop `while`: 1st iteration"
    finally:
        session.stop()
    assert explain.step_over(graph, "steps") is None  # not control flow: nothing to say


def test_iteration_text_counts_like_people_do():
    """`body[1]` is the second time through the body: the text says so, not "iteration 1"."""
    second = explain.iteration("while/body[1]/while/add")
    assert second is not None
    assert "in the 2nd iteration" in second.text and "`body[1]` is the 2nd iteration" in second.text
    before = explain.iteration("while/cond[2]/while/Less")
    assert before is not None and "checked before the 3rd iteration" in before.text
    assert second.key == before.key and second.replaces  # one entry, following the run
    assert [explain._ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 102)] == [
        "1st",
        "2nd",
        "3rd",
        "4th",
        "11th",
        "12th",
        "13th",
        "21st",
        "102nd",
    ]


def test_node_count_is_the_status_bars_count_by_kind():
    graph = Graph("tiny", "tensorflow")
    graph.add_node("x", label="x", kind="input", op="Placeholder")
    graph.add_node("w", label="w", kind="param", op="VarHandleOp")
    graph.add_node("mm", label="mm", kind="op", op="MatMul")
    graph.add_node("out", label="out", kind="output", op="Identity")
    assert graph.order == ["x", "w", "mm", "out"]
    assert explain.node_count(graph) == "4 nodes (1 op, 1 input, 1 variable, 1 output)"
    assert "a graph of 4 nodes (1 op," in explain.static_graph(graph).text


@pytest.mark.tf
def test_retrace_with_a_new_input_shape_keeps_both_traces():
    import tensorflow as tf

    from inspectors import retrace

    captured = capture(load_target("while_tf"))
    first = retrace.list_traces(captured)
    assert len(first) == 1 and "shape=(4,)" in first[0]
    assert captured.graph.meta["signature"] == first[0]
    # `steps` as int64 and a differently valued x: a new signature, so a new graph
    new = retrace.capture_trace(
        captured, (tf.constant([0.5, 0.1, 0.2, 0.3]), tf.constant(2, tf.int64))
    )
    traces = retrace.list_traces(new)
    assert len(traces) == 2 and traces[0] == first[0] and traces[0] != traces[1]
    assert "int64" in traces[1] and new.graph.meta["traces"] == traces
    assert retrace.current_trace(new) == 1
    back = retrace.capture_trace(new, 0)
    assert back.graph.meta["signature"] == first[0]
    text = explain.retraced(traces, traces[1], "while_tf").text
    assert traces[0] in text and traces[1] in text and "retrace" in text.lower()


@pytest.mark.tf
def test_retrace_with_a_new_batch_size_changes_input_shapes():
    from inspectors import retrace

    captured = capture(load_target("feedforward_keras"))
    new = retrace.capture_trace(captured, retrace.inputs_with_batch(captured, 7))
    assert retrace.input_shapes(captured) == [(4, 10)]
    assert retrace.input_shapes(new) == [(7, 10)]
    assert len(retrace.list_traces(new)) == 2
    session = Session(new)  # the new trace steps with the new inputs
    session.start()
    try:
        session.wait()
        session.continue_()
        pause = session.wait()
        assert pause is not None and pause.reason == ev.FINISHED
    finally:
        session.stop()


def test_first_nan_hint_from_the_op_name():
    import numpy as np

    graph = Graph("nan", "tensorflow")
    graph.add_node("x", kind="input", op="Placeholder")
    graph.add_node("Log", kind="op", op="Log")
    graph.add_edge("x", "Log")
    summary = summarize(np.array([np.nan, 1.0], dtype=np.float32))
    item = explain.first_nan(graph, "Log", (summary,))
    assert "`Log` (Log)" in item.text and "log of a negative" in item.text.lower()
    assert "1 of 2" in item.text and "`x`" in item.text
    assert "0 / 0" in explain.first_nan(None, "aten.div.Tensor", ()).text


def test_explain_imports_no_framework():
    import subprocess
    import sys

    code = (
        "import sys, inspectors.explain, inspectors.retrace; "
        "bad = {'torch', 'tensorflow', 'PySide6'} & set(sys.modules); "
        "sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
