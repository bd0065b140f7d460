"""A function graph compiled once into a flat list of steps the stepper loops over.

Everything that does not change between runs is worked out here: each op's kind of
step, its attribute tuple, where its inputs come from (integer slots into one list of
output tensors), its scope, which outputs have no numpy value. The per-op loop then does
little more than index, execute and report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from inspectors.tf_inspector.attrs import flat_attrs
from inspectors.tf_inspector.compiled import compiled_call, writes_state
from inspectors.tf_inspector.function_graph import CALL_OPS, xla_compiled
from inspectors.tf_inspector.native import TFFunction
from inspectors.tf_inspector.op_exec import OPAQUE, TRACED, constant_of, register_functions

# Step kinds.
ARG = 0  # a function argument (input, variable handle, captured value, loop variable)
CONST = 1  # a `Const`: its value, made once
PASS = 2  # `Identity` / `IdentityN`: the inputs pass through unchanged
NOOP = 3  # no outputs, nothing to compute
EXEC = 4  # any other op, executed eagerly from its type, inputs and attributes
WHILE = 5  # `While` / `StatelessWhile`: cond and body interpreted op by op
IF = 6  # `If` / `StatelessIf`: the chosen branch interpreted op by op
CASE = 7  # `Case` / `StatelessCase`: the chosen branch interpreted op by op
CALL = 8  # `PartitionedCall` / `StatefulPartitionedCall`: the callee interpreted op by op
WHOLE = 9  # a function-calling op whose functions were not captured: executed as one op
COMPILED = 10  # a call of a function compiled with XLA: run as one op, differentiable

_WHILE_OPS = frozenset({"While", "StatelessWhile"})
_IF_OPS = frozenset({"If", "StatelessIf"})
_CASE_OPS = frozenset({"Case", "StatelessCase"})


@dataclass(slots=True)
class Step:
    """One op of a function graph, ready to run."""

    node_id: str  # the node id in this function's Graph
    kind: int
    op_type: str
    attrs: tuple[Any, ...]
    inputs: tuple[int, ...]  # slot of each input tensor
    out: int  # slot of the first output
    n_out: int
    scope: tuple[str, ...]  # the op's own name scope
    opaque: tuple[bool, ...]  # per output: resource / variant, no numpy value
    record: bool  # some input is of a dtype a GradientTape traces
    report: bool  # the hook hears about it (a subgraph's arguments stay quiet)
    arg: int = -1  # ARG: argument position
    const: Any = None  # CONST: eager tensor
    const_np: Any = None  # CONST: its numpy value
    callees: tuple[str, ...] = ()  # WHILE (cond, body), IF (then, else), CASE branches, CALL (f,)
    call: Any = None  # COMPILED: the `CompiledCall` that runs the function as a whole
    effects: bool = False  # COMPILED: its function changes state, so it must run only once


@dataclass
class FunctionPlan:
    """The steps of one function graph, and which slots it returns."""

    fn: TFFunction
    steps: list[Step]
    n_slots: int
    fetches: tuple[int, ...]
    slots: dict[str, int] = field(default_factory=dict)  # node id -> first output slot


def build_plan(fn: TFFunction, known: Mapping[str, TFFunction], *, is_main: bool) -> FunctionPlan:
    """Compile `fn`; `known` holds the functions that can be interpreted op by op."""
    first_slot: dict[str, int] = {}  # tf op name -> its first slot
    slots: dict[str, int] = {}
    arg_position = {node_id: i for i, node_id in enumerate(fn.arguments)}
    steps: list[Step] = []
    n = 0
    registered = False
    for node_id, op in fn.ops.items():
        first_slot[op.name] = slots[node_id] = n
        outputs = list(op.outputs)
        step = Step(
            node_id=node_id,
            kind=EXEC,
            op_type=op.type,
            attrs=(),
            inputs=tuple(first_slot[t.op.name] + t.value_index for t in op.inputs),
            out=n,
            n_out=len(outputs),
            scope=tuple(op.name.split("/")[:-1]),
            opaque=tuple(t.dtype in OPAQUE for t in outputs),
            record=any(t.dtype in TRACED for t in op.inputs),
            report=True,
        )
        n += len(outputs)
        roles = fn.calls.get(node_id, {})
        if op.type == "Placeholder":
            if node_id not in arg_position:
                raise ValueError(f"{node_id}: a Placeholder that is no argument of {fn.name}")
            step.kind, step.arg, step.report = ARG, arg_position[node_id], is_main
        elif op.type == "Const":
            step.kind = CONST
            step.const, step.const_np = constant_of(op)
        elif op.type in ("Identity", "IdentityN"):
            step.kind = PASS
        elif not outputs and not op.inputs and op.type == "NoOp":
            step.kind = NOOP
        else:
            step.attrs = flat_attrs(op)
            step.kind, step.callees = _control(op.type, roles, known)
            if roles and xla_compiled(op, roles):
                _compile(step, op, roles["f"], known)
            if roles and step.kind == EXEC:
                # Executed as one op: eager gradients cannot see through it (the gradient
                # of a While or a call needs its forward graph), so it is not recorded.
                step.kind, step.record = WHOLE, False
                if not registered:
                    register_functions(fn.func_graph)  # the library must be known to run it
                    registered = True
        steps.append(step)
    fetches = tuple(first_slot[t.op.name] + t.value_index for t in fn.fetches)
    return FunctionPlan(fn=fn, steps=steps, n_slots=n, fetches=fetches, slots=slots)


def _compile(step: Step, op: Any, name: str, known: Mapping[str, TFFunction]) -> None:
    """Make `step`, a call of XLA-compiled function `name`, a COMPILED step if it can be."""
    call = compiled_call(op, name)
    if call is None:
        return  # interpreted (or run as one op) like any other call
    step.kind, step.call, step.record = COMPILED, call, False
    step.callees = (name,) if name in known else ()  # what stepping into it runs
    step.effects = bool(step.callees) and writes_state(name, known)


def _control(op_type: str, roles: dict[str, str], known: Any) -> tuple[int, tuple[str, ...]]:
    """How a function-calling op runs: interpreted when all its functions are known."""
    if not roles:
        return EXEC, ()
    if op_type in _WHILE_OPS:
        kind, names = WHILE, [roles.get("cond"), roles.get("body")]
    elif op_type in _IF_OPS:
        kind, names = IF, [roles.get("then_branch"), roles.get("else_branch")]
    elif op_type in _CASE_OPS:
        count = sum(1 for r in roles if r.startswith("branches_"))
        kind, names = CASE, [roles.get(f"branches_{i}") for i in range(count)]
    elif op_type in CALL_OPS:
        kind, names = CALL, [roles.get("f")]
    else:
        return EXEC, ()
    if not names or any(name is None or name not in known for name in names):
        return EXEC, ()
    return kind, tuple(str(name) for name in names)
