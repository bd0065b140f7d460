"""Capture a TensorFlow model as the concrete graph it traces to, nested functions included."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from inspectors.capture import Captured
from inspectors.target import ModelTarget, TargetError
from inspectors.tf_inspector.function_graph import GraphConverter
from inspectors.tf_inspector.keras_scopes import keras_names, restore_layer_scopes
from inspectors.tf_inspector.native import TFCapture
from inspectors.tf_inspector.trace import concrete_function
from inspectors.tf_inspector.traces import annotate as annotate_traces

#: TensorFlow's one capture strategy; `auto` means this one.
STRATEGY = "function"


def capture_tf(target: ModelTarget, strategy: str = "auto", concrete: Any = None) -> Captured:
    """The graph of `target`'s ConcreteFunction for its example inputs, ready to step.

    `concrete` is another trace of the same model to capture instead (see traces.py).
    """
    if strategy not in ("auto", STRATEGY):
        raise TargetError(
            f"Capture strategy {strategy!r} does not apply to a TensorFlow model; "
            f"use auto or {STRATEGY}."
        )
    cf = concrete if concrete is not None else concrete_function(target)
    converter = GraphConverter(_variables(cf, target))
    try:
        graph, main = converter.convert(
            cf.graph,
            target.name,
            fetches=list(cf.outputs),
            output_labels=_output_labels(cf),
            is_main=True,
            capture=STRATEGY,
            function=cf.name.decode() if isinstance(cf.name, bytes) else str(cf.name),
            signature=[_signature(cf)],
        )
    except TargetError:
        raise
    except Exception as exc:
        raise TargetError(
            f"Graphstep could not read the TensorFlow graph of {target.name}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    names = keras_names(target.model)
    if names:
        restore_layer_scopes(graph, names)
    graph.meta["framework"] = "tensorflow"
    graph.meta["functions"] = sorted(converter.functions)
    native = TFCapture(concrete_function=cf, main=main, functions=dict(converter.functions))
    captured = Captured(graph=graph, native=native, strategy=STRATEGY, target=target)
    annotate_traces(captured)
    return captured


def _variables(cf: Any, target: ModelTarget) -> list[Any]:
    """tf.Variables the graph may capture: the function's own, then the model's."""
    found = list(getattr(cf, "variables", ()) or ())
    for var in getattr(target.model, "variables", None) or ():
        # Keras 3 variables wrap a tf.Variable in `.value`.
        inner = var if hasattr(var, "handle") else getattr(var, "value", None)
        if isinstance(inner, tf.Variable):
            found.append(inner)
    return found


def _output_labels(cf: Any) -> list[str] | None:
    """`0`, `1` or dict keys / nested paths of the function's structured outputs."""
    from tensorflow.python.util import nest

    try:
        flat = nest.flatten_with_joined_string_paths(cf.structured_outputs, expand_composites=True)
    except Exception:
        return None
    return [path or str(i) for i, (path, _) in enumerate(flat)]


def _signature(cf: Any) -> str:
    try:
        return str(cf.pretty_printed_signature(verbose=False))
    except Exception:
        return str(getattr(cf, "structured_input_signature", ""))


__all__ = ["STRATEGY", "TFCapture", "capture_tf"]
