"""The concrete functions a `tf.function` has traced so far, and tracing a new one.

A `tf.function` is polymorphic: each new input signature (shapes, dtypes, Python
values) makes TensorFlow trace the Python code again into a new concrete graph, and
the old graphs are kept in the function's cache. This module lists those graphs with
their signatures and captures any of them as a neutral Graph, so the user can see a
retrace happen and switch between the graphs.

The list is Graphstep's own record (every graph it captured, in order) followed by
graphs the function traced elsewhere (when the model file called it), read from the
function's cache through `_list_all_concrete_functions`, the semi-public call
`tf.saved_model` uses to find every trace.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from inspectors.capture import Captured
from inspectors.target import ModelTarget, TargetError
from inspectors.tf_inspector.trace import (
    ConcreteFunction,
    PolymorphicFunction,
    _keras,
    _named_after_inputs,
    input_specs,
    traceable,
)

#: Keys in ModelTarget.extra (shared by every target derived from one loaded model).
_FUNCTION_KEY = "tf_function"
_TRACES_KEY = "tf_traces"


@dataclass
class Trace:
    """One concrete function: its signature text, the function, inputs that fit it."""

    signature: str
    concrete_function: Any
    inputs: tuple[Any, ...] | None = None  # None: traced elsewhere, inputs made from specs


def signature_text(cf: Any) -> str:
    """`(x: TensorSpec(shape=(4,), dtype=tf.float32), steps: TensorSpec(...))` of `cf`."""
    try:
        args, kwargs = cf.structured_input_signature
    except Exception:
        return str(getattr(cf, "name", "?"))
    names: list[str] = []
    try:
        names = [p for p in cf.function_type.parameters]
    except Exception:
        names = []

    def one(spec: Any) -> str:
        if isinstance(spec, tf.TensorSpec):
            dims = tuple(spec.shape.as_list()) if spec.shape.rank is not None else None
            shape = "None" if dims is None else repr(dims)
            return f"TensorSpec(shape={shape}, dtype=tf.{spec.dtype.name})"
        return repr(spec)

    parts = []
    for i, spec in enumerate(args):
        text = str(tf.nest.map_structure(one, spec))
        name = getattr(spec, "name", None) or (names[i] if i < len(names) else "")
        parts.append(f"{name}: {text}" if name else text)
    parts += [f"{k}: {tf.nest.map_structure(one, v)}" for k, v in sorted(kwargs.items())]
    return "(" + ", ".join(parts) + ")"


def polymorphic_function(target: ModelTarget) -> Any:
    """The tf.function behind `target`, kept so that its traces accumulate in one cache."""
    fn = target.extra.get(_FUNCTION_KEY)
    if fn is None:
        if isinstance(target.native, ConcreteFunction):
            fn = target.native  # a SavedModel signature: one trace, no retracing
        else:
            fn = traceable(target.model)
        target.extra[_FUNCTION_KEY] = fn
    return fn


def record(target: ModelTarget, cf: Any, inputs: tuple[Any, ...] | None) -> str:
    """Note that Graphstep captured `cf` (for `inputs`); returns its signature text."""
    text = signature_text(cf)
    known = target.extra.setdefault(_TRACES_KEY, [])
    if not any(t.signature == text for t in known):
        known.append(Trace(text, cf, inputs))
    return text


def list_traces(target: ModelTarget) -> list[Trace]:
    """Every concrete function traced so far for `target`: Graphstep's first, then others."""
    found: list[Trace] = list(target.extra.get(_TRACES_KEY, []))
    seen = {t.signature for t in found}
    fn = polymorphic_function(target)
    if isinstance(fn, PolymorphicFunction):
        try:
            cached = list(fn._list_all_concrete_functions())
        except Exception:  # a private API: without it we list only our own traces
            cached = []
        for cf in cached:
            text = signature_text(cf)
            if text not in seen:
                seen.add(text)
                found.append(Trace(text, cf, None))
    return found


def resized_inputs(inputs: tuple[Any, ...], batch: int) -> tuple[Any, ...]:
    """`inputs` with their leading (batch) dimension set to `batch`, values repeated.

    Inputs of rank 2 or more are treated as batched; when there are none, rank-1
    inputs are resized instead. Scalars and non-tensors are left as they are.
    """
    arrays = [np.asarray(x) if _is_tensor(x) else x for x in inputs]
    ranks = [a.ndim for a in arrays if isinstance(a, np.ndarray)]
    min_rank = 2 if any(r >= 2 for r in ranks) else 1
    out: list[Any] = []
    for original, a in zip(inputs, arrays, strict=True):
        if isinstance(a, np.ndarray) and a.ndim >= min_rank and a.shape[0] > 0:
            picked = np.take(a, np.arange(batch) % a.shape[0], axis=0)
            out.append(tf.constant(picked))
        else:
            out.append(original)
    return tuple(out)


def retrace(target: ModelTarget, inputs: tuple[Any, ...]) -> Captured:
    """Trace `target`'s tf.function for `inputs` (a retrace when their signature is new)."""
    fn = polymorphic_function(target)
    if isinstance(fn, ConcreteFunction):
        raise TargetError(
            f"{target.name} is a single concrete function (a saved signature): it cannot "
            "trace again for other inputs."
        )
    _ensure_first_trace(target, fn)
    specs = input_specs(tuple(inputs))
    keras = _keras()
    if keras is not None and isinstance(target.model, keras.layers.Layer):
        specs = _named_after_inputs(target.model, specs)
    try:
        cf = fn.get_concrete_function(*specs)
    except Exception as exc:
        raise TargetError(
            f"TensorFlow could not trace {target.name} for the new inputs: "
            f"{type(exc).__name__}: {_first_line(exc)}"
        ) from exc
    return _capture(target, cf, tuple(inputs))


def capture_trace(target: ModelTarget, index: int) -> Captured:
    """Capture the `index`-th concrete function of `list_traces(target)` as a Graph."""
    traces = list_traces(target)
    if not 0 <= index < len(traces):
        raise TargetError(f"There is no concrete function number {index} ({len(traces)} traced).")
    trace = traces[index]
    inputs = trace.inputs if trace.inputs is not None else _inputs_for(trace.concrete_function)
    return _capture(target, trace.concrete_function, inputs)


def annotate(captured: Captured) -> None:
    """Set `signature` and `traces` in the graph's meta (after any capture or retrace)."""
    target = captured.target
    cf = captured.native.concrete_function
    text = record(target, cf, tuple(target.example_inputs))
    captured.graph.meta["signature"] = text
    try:
        traces = [t.signature for t in list_traces(target)]
    except Exception:  # listing is a view on the cache: never fail a capture over it
        traces = [text]
    captured.graph.meta["traces"] = traces
    captured.extra["trace_index"] = traces.index(text) if text in traces else 0


def _capture(target: ModelTarget, cf: Any, inputs: tuple[Any, ...]) -> Captured:
    from inspectors.tf_inspector.capture import capture_tf

    new_target = dataclasses.replace(target, example_inputs=inputs)  # shares `extra`
    return capture_tf(new_target, concrete=cf)  # annotates signature and traces


def _ensure_first_trace(target: ModelTarget, fn: Any) -> None:
    """A Keras model gets a fresh wrapper here: trace it for the example inputs first,
    so the list starts with the graph that was loaded."""
    if target.extra.get(_TRACES_KEY) or fn.experimental_get_tracing_count():
        return
    specs = input_specs(tuple(target.example_inputs))
    keras = _keras()
    if keras is not None and isinstance(target.model, keras.layers.Layer):
        specs = _named_after_inputs(target.model, specs)
    record(target, fn.get_concrete_function(*specs), tuple(target.example_inputs))


def _inputs_for(cf: Any) -> tuple[Any, ...]:
    """Inputs that fit `cf`'s signature (unknown dimensions as 1): zeros, ones for ints."""
    args, _ = cf.structured_input_signature

    def make(spec: Any) -> Any:
        if not isinstance(spec, tf.TensorSpec):
            return spec
        shape = [1 if d is None else d for d in (spec.shape.as_list() or [])]
        if spec.dtype.is_integer:
            return tf.ones(shape, spec.dtype)
        return tf.zeros(shape, spec.dtype)

    return tuple(tf.nest.map_structure(make, a) for a in args)


def _is_tensor(x: Any) -> bool:
    return isinstance(x, tf.Tensor | tf.Variable | np.ndarray)


def _first_line(exc: BaseException) -> str:
    for line in str(exc).strip().splitlines():
        if line.strip():
            return line.strip()[:300]
    return type(exc).__name__
