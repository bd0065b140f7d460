"""Calls of functions compiled with XLA (`tf.function(jit_compile=True)`), run as one op.

Keras 3 runs the convolutions TensorFlow's CPU kernels cannot do (grouped ones, such as
ConvNeXt's depthwise convs; 3-D channels-first ones) inside a `tf.function(jit_compile=
True)`. Interpreted op by op, such a call runs those ops outside XLA: the forward may
work, but the tape then asks for a CPU gradient kernel that does not exist ("Gradients
for grouped convolutions are not supported on CPU"). So the stepper runs such a call the
way TensorFlow does: the function as a whole, through a ConcreteFunction, which the tape
records with the function's own forward / backward pair (compiled with XLA as well).
Backward then works wherever a GradientTape over the model works.

Stepped into, the body also runs op by op, for its values only (see `TFStepper`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inspectors.tf_inspector.function_graph import function_roles, library_function

#: Stateful ops that only read state: running them twice changes nothing.
_READ_ONLY = frozenset(
    {
        "ReadVariableOp",
        "ResourceGather",
        "ResourceGatherNd",
        "VariableShape",
        "VarIsInitializedOp",
        "NoOp",
    }
)


class CompiledCall:
    """Runs one library function as a whole, recorded on any active tape as one op."""

    def __init__(self, atomic: Any) -> None:
        from tensorflow.python.eager.polymorphic_function.concrete_function import (
            ConcreteFunction,
        )
        from tensorflow.python.eager.polymorphic_function.function_type_utils import (
            derive_from_graph,
        )

        self.name = str(atomic.name.decode() if isinstance(atomic.name, bytes) else atomic.name)
        self.n_out = len(atomic.graph.outputs)
        function = ConcreteFunction(atomic)
        # Return the flat outputs (one per output of the call op), not the structure the
        # Python function returned.
        function._function_type = derive_from_graph(atomic.graph)
        self._function = function

    def __call__(self, inputs: list[Any]) -> list[Any]:
        """The call op's outputs for its inputs (the function's arguments, captures last)."""
        outs = self._function._call_flat(list(inputs), [])
        return list(outs)


def compiled_call(op: Any, name: str) -> CompiledCall | None:
    """A `CompiledCall` of function `name` that call op `op` runs; None if it cannot be had."""
    from tensorflow.python.eager.polymorphic_function.atomic_function import AtomicFunction

    found = library_function(name, op.graph)
    if not isinstance(found, AtomicFunction):
        return None
    try:
        call = CompiledCall(found)
    except Exception:  # a function TensorFlow cannot wrap: interpreted as before
        return None
    return call if call.n_out == len(op.outputs) else None


def writes_state(name: str, functions: Mapping[str, Any], _seen: set[str] | None = None) -> bool:
    """Whether running function `name` twice could differ from running it once.

    True when it (or a function it calls) assigns a variable, draws stateful random
    numbers or has any other stateful op that is not a read; True when unknown.
    """
    seen = set() if _seen is None else _seen
    if name in seen:
        return False
    seen.add(name)
    fn = functions.get(name)
    if fn is None:
        return True
    return graph_writes_state(fn.func_graph, functions, seen)


def graph_writes_state(
    func_graph: Any, functions: Mapping[str, Any], _seen: set[str] | None = None
) -> bool:
    """`writes_state` for a FuncGraph itself (a captured model's main function)."""
    seen = set() if _seen is None else _seen
    for op in func_graph.get_operations():
        if op.type in _READ_ONLY or not op._is_stateful:
            continue
        roles = function_roles(op)  # `StatefulPartitionedCall`, `While`: their functions
        if not roles or any(writes_state(n, functions, seen) for n in roles.values()):
            return True
    return False


__all__ = ["CompiledCall", "compiled_call", "graph_writes_state", "writes_state"]
