"""Concrete functions of a TensorFlow model: list the traces, capture one, trace anew.

A `tf.function` traces a new concrete graph for each new input signature and keeps
the old ones. This is the framework-neutral face of `tf_inspector.traces`: it takes a
`Captured` and returns plain signature strings or a new `Captured`, and imports
TensorFlow only when the model is a TensorFlow one. PyTorch captures have no traces.
"""

from __future__ import annotations

from typing import Any

from inspectors.capture import Captured
from inspectors.target import TargetError


def supports_traces(captured: Captured) -> bool:
    """True when the model is a TensorFlow function whose traces can be listed."""
    return captured.target.framework == "tensorflow"


def list_traces(captured: Captured) -> list[str]:
    """The input signature of every concrete function traced so far, oldest first."""
    if not supports_traces(captured):
        return []
    from inspectors.tf_inspector.traces import list_traces as tf_list

    return [t.signature for t in tf_list(captured.target)]


def current_trace(captured: Captured) -> int:
    """The position in `list_traces` of the trace `captured` shows."""
    return int(captured.extra.get("trace_index", 0))


def capture_trace(captured: Captured, index_or_inputs: int | tuple[Any, ...]) -> Captured:
    """The graph of trace number `index`, or of a (re)trace for new inputs."""
    if not supports_traces(captured):
        raise TargetError(
            "Only TensorFlow functions have concrete functions to list; a PyTorch model "
            "has no traces (capture it again with other inputs instead)."
        )
    from inspectors.tf_inspector import traces

    if isinstance(index_or_inputs, int):
        return traces.capture_trace(captured.target, index_or_inputs)
    return traces.retrace(captured.target, tuple(index_or_inputs))


def inputs_with_batch(captured: Captured, batch: int) -> tuple[Any, ...]:
    """The model's example inputs with their leading (batch) dimension set to `batch`."""
    if not supports_traces(captured):
        raise TargetError("Retracing applies to TensorFlow functions only.")
    from inspectors.tf_inspector.traces import resized_inputs

    return resized_inputs(tuple(captured.target.example_inputs), batch)


def input_shapes(captured: Captured) -> list[tuple[int | None, ...]]:
    """Shapes of the graph's input nodes, in the graph's order."""
    graph = captured.graph
    shapes = []
    for node_id in graph.order:
        attrs = graph.node(node_id)
        if attrs.get("kind") == "input" and attrs.get("outputs"):
            shapes.append(tuple(attrs["outputs"][0][0]))
    return shapes
