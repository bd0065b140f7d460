"""Gradients of one scalar loss for every output a stepped TensorFlow run reported.

The run recorded every op on a persistent GradientTape; the loss is computed on the same
tape afterwards (re-entering it), and one `tape.gradient` call gives the gradient of
every reported output and every variable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from inspectors.stepping import GradientResult
from inspectors.tf_inspector.op_exec import DIFFERENTIABLE

LOSS_FROM_FILE = "loss() of the model file"
LOSS_FROM_OUTPUT = "sum of the first output"
NOT_CONNECTED = "does not affect the loss (no path from it to the loss)"


def gradients(
    recording: Any,
    target: Any,
    concrete_function: Any,
    variables: dict[str, Any],
    inputs_like_example: Callable[[list[Any]], list[Any]],
) -> GradientResult:
    """Differentiate the loss of the recorded run; `variables` maps param node id -> tf.Variable."""
    tape = recording.tape
    with tape:
        if target.loss is not None:
            structured = tf.nest.pack_sequence_as(
                concrete_function.structured_outputs, recording.outputs, expand_composites=True
            )
            loss = target.loss(structured, *inputs_like_example(recording.inputs))
            source = LOSS_FROM_FILE
        else:
            floats = [
                i
                for i, out in enumerate(recording.outputs)
                if tf.as_dtype(out.dtype).is_floating or tf.as_dtype(out.dtype).is_complex
            ]
            if not floats:
                kinds = ", ".join(tf.as_dtype(o.dtype).name for o in recording.outputs) or "none"
                raise ValueError(
                    f"the model's outputs are not floating point ({kinds}), so no loss can be "
                    f"derived from them: define loss(output, *inputs) in the model file"
                )
            loss = tf.reduce_sum(recording.outputs[floats[0]])
            source = LOSS_FROM_OUTPUT
            if floats[0]:
                source = f"sum of the first floating-point output (output {floats[0]})"
        loss = tf.convert_to_tensor(loss)
        if loss.shape.rank != 0:
            loss = tf.reduce_sum(loss)
            source += " (summed to a scalar)"

    sources: list[Any] = []
    where: list[tuple[str, int]] = []
    reasons: dict[str, list[str]] = {}
    for node_id, outs in recording.nodes:
        reasons[node_id] = []
        for i, tensor in enumerate(outs):
            if tensor.dtype in DIFFERENTIABLE:
                sources.append(tensor)
                where.append((node_id, i))
            else:
                reasons[node_id].append(_why_not(tensor.dtype))
    not_connected = NOT_CONNECTED
    if recording.whole:
        not_connected += (
            f", or only through {', '.join(recording.whole[:3])}, which ran as one op "
            "(no gradient flows through it)"
        )
    params = list(variables.items())
    found = tape.gradient(
        loss,
        sources + [var for _, var in params],
        unconnected_gradients=tf.UnconnectedGradients.NONE,
    )

    per_node: dict[str, list[np.ndarray | None]] = {
        node_id: [None] * len(outs) for node_id, outs in recording.nodes
    }
    for (node_id, i), grad in zip(where, found[: len(sources)], strict=True):
        per_node[node_id][i] = _numpy(grad)
        if grad is None:
            reasons[node_id].append(not_connected)
    nodes: dict[str, tuple[np.ndarray | None, ...]] = {}
    absent: dict[str, str] = dict(recording.absent)  # e.g. inside an XLA-compiled call
    for node_id, grads in per_node.items():
        if any(g is not None for g in grads):
            nodes[node_id] = tuple(grads)
        elif node_id not in variables:
            absent[node_id] = "; ".join(dict.fromkeys(reasons[node_id])) or "no outputs"
    param_grads: dict[str, np.ndarray] = {}
    for (node_id, _), grad in zip(params, found[len(sources) :], strict=True):
        if grad is None:
            absent[node_id] = not_connected
        else:
            param_grads[node_id] = _numpy(grad)
    return GradientResult(float(loss.numpy()), source, nodes, param_grads, absent)


def _numpy(grad: Any) -> Any:
    if grad is None:
        return None
    if isinstance(grad, tf.IndexedSlices):  # e.g. a Gather from an embedding table
        grad = tf.convert_to_tensor(grad)
    return grad.numpy()


def _why_not(dtype: Any) -> str:
    if dtype == tf.resource:
        return "resource output (a variable handle): see the parameter's gradient"
    if dtype == tf.variant:
        return "variant output: not differentiable"
    if dtype == tf.bool:
        return "boolean output: not differentiable"
    if dtype.is_integer:
        return "integer output: not differentiable"
    return f"{dtype.name} output: not differentiable"
