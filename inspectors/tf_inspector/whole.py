"""The main function run as one call of TensorFlow's own runtime, returning every value.

Op by op, each op of a stepped function costs an eager dispatch (and a tape record),
several times the op itself on a small model. Where nothing needs the ops one at a time,
the stepper instead runs the main function once, whole, as a function that also returns
the output of every op (`WholeRun`), and then reports the nodes in order from those
values. The hook sees the same nodes, in the same order, with the same values (up to
the rounding of the runtime's own kernels, the ones `tf.function` uses).

Only a function that changes no state can run this way: the stepper falls back to op by
op (running the nodes before again, quietly, on a tape) whenever the user changes a value
or steps into a body, and running a stateful op twice would change the model. A
function that assigns variables, draws stateful random numbers or has any other
stateful op (`CheckNumerics`, `Print`) therefore always runs op by op.

A model whose call takes over a second (`SLOW_S`) goes back to op by op after it.

Every op's output is alive until the run ends, as it is op by op (the tape's recording
keeps every reported output for `backward`): the call holds no more memory than that.

The function is TensorFlow's `WrappedFunction.prune` of the main graph: the same graph,
with every op output a fetch, optimised and run by the same runtime as `tf.function`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from inspectors.tf_inspector.compiled import graph_writes_state
from inspectors.tf_inspector.plan import ARG, CONST, NOOP, PASS, FunctionPlan

#: A model whose call takes longer runs op by op: there the ops dwarf the stepping's own
#: cost, and op by op a window shows the nodes as they run and Pause answers between
#: ops, where a call answers when it returns.
SLOW_S = 1.0


class Opaque:
    """Stands for a resource or variant output, which the call does not return: what
    the hook sees of one is its dtype (`op_exec.host_value`)."""

    __slots__ = ("dtype",)

    def __init__(self, dtype: Any) -> None:
        self.dtype = dtype


class WholeRun:
    """Runs one function graph as one call and returns the value of every slot."""

    def __init__(self, plan: FunctionPlan, function: Any, fetched: list[tuple[int, int]]) -> None:
        self._plan = plan
        self._function = function
        self._fetched = fetched  # (slot, position in the call's outputs)
        # The flat outputs, not packed into the structure (1 us an output): with no tape
        # to record on, `_call_flat` calls just this.
        self._call = function._inference_function.call_flat
        self.failed = False
        #: Calls so far, and whether the last one after the first took over `SLOW_S`.
        self.calls = 0
        self.slow = False
        node_of = {op.name: node_id for node_id, op in plan.fn.ops.items()}
        fetched_slots = {slot for slot, _ in fetched}
        self._reads: dict[int, int] = {}
        for step in plan.steps:
            if step.kind != ARG or not step.opaque[0]:
                continue
            for consumer in plan.fn.ops[step.node_id].outputs[0].consumers():
                slot = plan.slots.get(node_of.get(consumer.name, ""))
                if consumer.type == "ReadVariableOp" and slot in fetched_slots:
                    self._reads[step.arg] = slot
                    break
        # What every call's values start from: the constants and the resource / variant
        # stand-ins; then the arguments (slot, argument) and what `Identity` ops pass on
        # (slot, slot it takes), worked out once rather than from the plan at every call.
        self._opaque: list[Any] = [None] * plan.n_slots
        self._args: list[tuple[int, int]] = []
        self._passed: list[tuple[int, int]] = []
        for step in plan.steps:
            for k, tensor in enumerate(plan.fn.ops[step.node_id].outputs):
                if step.opaque[k]:
                    self._opaque[step.out + k] = Opaque(tensor.dtype)
            if step.kind == ARG:
                self._args.append((step.out, step.arg))
            elif step.kind == CONST:
                self._opaque[step.out] = step.const
            elif step.kind == PASS:
                self._passed += [(step.out + k, i) for k, i in enumerate(step.inputs)]
        fg = plan.fn.func_graph
        position = {id(t): i for i, t in enumerate(fg.inputs)}
        captured = {id(internal) for _, internal in fg.captures}
        # the pruned function takes the non-captured inputs, then the captures
        self._arg_order = [i for i, t in enumerate(fg.inputs) if id(t) not in captured] + [
            position[id(internal)] for _, internal in fg.captures
        ]
        # A captured constant the capture made a `Const` node of has no argument value
        # in the stepper: the call takes the captured value itself.
        self._captured = {position[id(internal)]: outside for outside, internal in fg.captures}

    def read_of(self, arg: int) -> int | None:
        """The slot of a `ReadVariableOp` of argument `arg` (a variable's handle) in the
        call: the variable's value, as a read when its node is reported would give it
        (the function writes no state). None where the graph does not read it so."""
        return self._reads.get(arg)

    def __call__(self, args: list[Any]) -> list[Any] | None:
        """Every slot's value (an `Opaque` for a resource or variant output); None if the
        call failed (`failed` is then set): op by op then names the op that fails."""
        self.failed = False
        given = [args[i] for i in self._arg_order]
        if any(v is None for v in given):
            order = self._arg_order
            given = [
                self._captured[i] if v is None else v for i, v in zip(order, given, strict=True)
            ]
        began = time.perf_counter()
        try:
            outs = self._call(*given)
        except Exception:
            self.failed = True
            return None
        if self.calls:  # the first call also optimises the graph: not the model's time
            self.slow = time.perf_counter() - began > SLOW_S
        self.calls += 1
        vals: list[Any] = list(self._opaque)
        for slot, i in self._fetched:
            vals[slot] = outs[i]
        for slot, arg in self._args:
            vals[slot] = args[arg]
        for slot, source in self._passed:  # in the plan's order: a pass of a pass works
            vals[slot] = vals[source]
        return vals


def whole_run(plan: FunctionPlan, functions: Mapping[str, Any]) -> WholeRun | None:
    """A `WholeRun` of `plan`'s function; None when it must run op by op (see above)."""
    from tensorflow.python.eager import wrap_function

    fn = plan.fn
    if graph_writes_state(fn.func_graph, functions):
        return None
    fetches: list[Any] = []
    fetched: list[tuple[int, int]] = []
    for step in plan.steps:
        if step.kind in (ARG, CONST, PASS, NOOP):
            continue
        for k, tensor in enumerate(fn.ops[step.node_id].outputs):
            if not step.opaque[k]:
                fetched.append((step.out + k, len(fetches)))
                fetches.append(tensor)
    try:
        holder = wrap_function.VariableHolder(share_variables=True)
        wrapped = wrap_function.WrappedFunction(fn.func_graph, variable_holder=holder)
        pruned = wrapped.prune(feeds=list(fn.func_graph.inputs), fetches=fetches)
    except Exception:  # a graph TensorFlow cannot prune: op by op, as before
        return None
    return WholeRun(plan, pruned, fetched)


__all__ = ["SLOW_S", "Opaque", "WholeRun", "whole_run"]
