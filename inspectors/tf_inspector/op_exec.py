"""Execute one TensorFlow op eagerly, the way TensorFlow's generated op wrappers do.

`gen_*_ops.py` slow paths call `_execute.execute(op_type, n, inputs, attrs, ctx)` and
then `_execute.record_gradient(op_type, inputs, attrs, outputs)` so an active
GradientTape sees the op. The same two C entry points are called here directly, to keep
the per-op Python work to a minimum.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.python import pywrap_tfe
from tensorflow.python.eager import context, core

#: Dtypes a GradientTape traces through (resource: variable reads; variant: TensorLists).
TRACED = frozenset(
    {
        tf.float16,
        tf.bfloat16,
        tf.float32,
        tf.float64,
        tf.complex64,
        tf.complex128,
        tf.resource,
        tf.variant,
    }
)

#: Dtypes that carry a gradient of their own.
DIFFERENTIABLE = frozenset(
    {tf.float16, tf.bfloat16, tf.float32, tf.float64, tf.complex64, tf.complex128}
)

#: Dtypes with no numpy value: the hook gets a short description instead.
OPAQUE = frozenset({tf.resource, tf.variant})


class OpExecutor:
    """Runs ops on the calling thread's eager context (the engine thread's)."""

    def __init__(self) -> None:
        ctx = context.context()
        ctx.ensure_initialized()
        self._ctx = ctx
        self.handle = ctx._handle
        self.device = ctx.device_name

    def refresh(self) -> None:
        """Re-read the device of the thread that is about to run (it is thread-local)."""
        self.handle = self._ctx._handle
        self.device = self._ctx.device_name

    def execute(self, op_type: str, n_out: int, inputs: list[Any], attrs: tuple[Any, ...]) -> Any:
        """The op's outputs; the framework's own exception (InvalidArgumentError, ...) on error."""
        try:
            return pywrap_tfe.TFE_Py_Execute(
                self.handle, self.device, op_type, inputs, attrs, n_out
            )
        except core._NotOkStatusException as exc:
            raise core._status_to_exception(exc) from None


def record_gradient(op_type: str, inputs: list[Any], attrs: tuple[Any, ...], outputs: Any) -> None:
    """Tell active tapes that `outputs` came from `op_type` applied to `inputs`."""
    pywrap_tfe.TFE_Py_RecordGradient(op_type, inputs, attrs, outputs, "")


def register_functions(func_graph: Any) -> None:
    """Make every function `func_graph` calls known to the eager context, nested ones too.

    Needed only to run a function-calling op (`While`, `PartitionedCall`, ...) as one op.
    """
    ctx = context.context()
    for fdef in func_graph.as_graph_def().library.function:
        if not ctx.has_function(fdef.signature.name):
            ctx.add_function_def(fdef)


def host_value(tensor: Any, opaque: bool) -> Any:
    """What the hook sees of one output: a read-only numpy array, or a description."""
    if opaque:
        return _describe(tensor)
    array = tensor._numpy()  # shares the tensor's buffer; `.numpy()` would copy
    if isinstance(array, np.ndarray):
        array.flags.writeable = False  # a Tensor is immutable: keep it so (a new view each call)
        return array
    return np.asarray(array)


def _describe(tensor: Any) -> str:
    if tensor.dtype == tf.resource:
        return "resource handle"
    return f"{tensor.dtype.name} value"


def to_tensor(array: Any, like: Any) -> Any:
    """A replacement value as a tensor of the output it replaces (same dtype)."""
    return tf.convert_to_tensor(np.asarray(array), dtype=like.dtype)


def constant_of(op: Any) -> tuple[Any, np.ndarray]:
    """A `Const` op's value: the eager tensor and its numpy array."""
    from tensorflow.python.framework import tensor_util

    array = tensor_util.MakeNdarray(op.get_attr("value"))
    tensor = tf.constant(array, dtype=op.outputs[0].dtype)
    return tensor, host_value(tensor, opaque=False)
