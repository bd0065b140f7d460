"""Step a captured TensorFlow function op by op, eagerly, under a GradientTape.

Each op of the concrete graph runs from its type, inputs and attributes (see
`op_exec`), in the order of `Graph.order`, and the hook hears about it with its outputs
as numpy. Control flow and calls (`While`, `If`, `Case`, `PartitionedCall`) are
interpreted: their cond / body / branch / callee graphs run op by op too, reported to the
hook only when it steps into them. Node ids inside a subgraph are qualified so each
execution is unique and readable:

    while/cond[0]/while/Less        the cond of `while`, before iteration 0
    while/body[2]/while/cell/Tanh   op `while/cell/Tanh` of the body, iteration 2
    cond/then/cond/mul              the branch an `If` node named `cond` took (or `else`)
    case/branch[1]/case/add         the branch a `Case` took
    call/call/dense/MatMul          the callee of a `PartitionedCall`

A call of a function compiled with XLA (`tf.function(jit_compile=True)`, which Keras 3
uses for grouped convolutions) runs as one op, the way TensorFlow runs it, and the tape
differentiates the function as a whole (see `compiled.py`): the CPU kernels its ops would
need one by one may not exist. Stepped into, its body also runs op by op, for the values
the hook sees; what flows on is still the whole call's output, so those inner nodes get
no gradient of their own (`GradientResult.absent` says why). If the hook overrides a
value inside, or the function changes state (so must not run twice), the op-by-op run is
the one whose outputs flow on, as for any other call.

The part after the `]/` (or `then/`, `else/`, `call/`) is the node id in that function's
Graph. Their scope is the control op's scope + (control op id, `body[2]`) + their own.

Every run records under a persistent GradientTape watching the inputs, the variables
and the float constants, so `backward` differentiates the loss with respect to every
output the hook saw.

Where it can, a run is first one call of TensorFlow's runtime that returns every op's
output (`whole.py`); the hook then hears of the nodes in order from those values, as it
would op by op. From the node whose value the hook changes, or whose body it steps
into, the run goes on op by op (the nodes before it run again, quietly, on the tape);
a run that went to its end as one call is run again op by op on a tape when `backward`
asks for its gradients.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf

from inspectors.graph import Graph
from inspectors.stepping import GradientResult, NodeError, StepHook
from inspectors.tf_inspector.native import TFCapture
from inspectors.tf_inspector.op_exec import (
    DIFFERENTIABLE,
    OpExecutor,
    host_value,
    record_gradient,
    to_tensor,
)
from inspectors.tf_inspector.plan import (
    ARG,
    CALL,
    CASE,
    COMPILED,
    CONST,
    EXEC,
    IF,
    NOOP,
    PASS,
    WHILE,
    WHOLE,
    FunctionPlan,
    Step,
    build_plan,
)
from inspectors.tf_inspector.whole import WholeRun, whole_run


@dataclass
class _Recording:
    """What one run leaves for `backward`: the tape and every reported output tensor."""

    tape: Any
    inputs: list[Any]
    outputs: list[Any] = field(default_factory=list)
    nodes: list[tuple[str, list[Any]]] = field(default_factory=list)
    whole: list[str] = field(default_factory=list)  # ops run as one op: no gradient through
    absent: dict[str, str] = field(default_factory=dict)  # reported node -> why no gradient
    overrides: int = 0  # how many outputs the hook replaced so far
    # A run as one call (`whole.py`) has no tape: `backward` runs it again, op by op,
    # from its arguments, with the replacements the hook made to its outputs.
    args: list[Any] = field(default_factory=list)
    replaced_outputs: dict[int, Any] = field(default_factory=dict)


@dataclass
class _Resume:
    """Where a run as one call goes on op by op: the steps before `at` run again quietly
    (on the tape), then step `at` either takes the hook's `replaced` values (it was
    reported already) or is stepped into (`entered`: the hook said so already)."""

    at: int
    replaced: dict[int, Any] | None = None
    entered: bool = False


#: Step kinds whose body the hook may step into.
_BODIES = frozenset({WHILE, IF, CASE, CALL})


class TFStepper:
    """Runs a `TFCapture` op by op; see the module docstring for subgraph node ids."""

    #: The hook gets read-only views of eager tensors, whose buffers never change
    #: (a variable assigned after a read gets a new buffer): kept without a copy.
    immutable_values = True

    #: Run the main function as one call where it can (`whole.py`); off: always op by op.
    whole = os.environ.get("GRAPHSTEP_TF_OP_BY_OP") != "1"

    def __init__(self, captured: Any, *, whole: bool | None = None) -> None:
        """`whole`: whether to run as one call where it can (default: the class's)."""
        native: TFCapture = captured.native
        self.graph: Graph = captured.graph
        self._target = captured.target
        self._native = native
        self._exec = OpExecutor()
        known = native.functions
        self._main = build_plan(native.main, known, is_main=True)
        self._plans: dict[str, FunctionPlan] = {
            name: build_plan(fn, known, is_main=False) for name, fn in native.functions.items()
        }
        self._use_graph_scopes(self._main, self.graph)
        for name, sub in _all_subgraphs(self.graph).items():
            if name in self._plans:
                self._use_graph_scopes(self._plans[name], sub)
        main = native.main
        self._variables: dict[str, Any] = dict(main.variables)
        self._param_of_arg = {
            main.arguments.index(node_id): var
            for node_id, var in main.variables.items()
            if node_id in main.arguments
        }
        self._input_args = [main.arguments.index(node_id) for node_id in main.inputs]
        self._input_dtypes = [main.ops[node_id].outputs[0].dtype for node_id in main.inputs]
        self._fixed_args: dict[int, Any] = {}
        for i, node_id in enumerate(main.arguments):
            if node_id in main.variables:
                self._fixed_args[i] = main.variables[node_id].handle
            elif node_id in main.captured:
                self._fixed_args[i] = _as_tensor(main.captured[node_id])
        self._watched_consts = [
            step.const
            for step in self._main.steps
            if step.kind == CONST and step.const.dtype in DIFFERENTIABLE
        ] + [t for t in self._fixed_args.values() if t.dtype in DIFFERENTIABLE]
        self._inputs = self._convert_inputs(_flat_inputs(self._target.example_inputs))
        self._last: _Recording | None = None
        self._recording: _Recording | None = None
        self._entered: str | None = None  # a node the hook already said to step into
        self._whole: WholeRun | None = None
        self._whole_made = not (self.whole if whole is None else whole)  # at the first run
        #: Whether the last run went to its end as one call (`whole.py`), not op by op.
        self.last_run_whole = False

    # ------------------------------------------------------------------ contract

    def inputs(self) -> tuple[np.ndarray, ...]:
        return tuple(np.array(t) for t in self._inputs)

    def run(self, hook: StepHook, inputs: tuple[np.ndarray, ...] | None = None) -> Any:
        if inputs is not None:
            self._inputs = self._convert_inputs(_flat_inputs(inputs))
        self._exec.refresh()
        self._last = None
        self._entered = None
        self.last_run_whole = False
        args = self._args()
        if self._whole is not None and self._whole.slow:
            self._whole = None  # the model's ops dwarf the stepping: op by op (`whole.py`)
        if self._whole is not None or not self._whole_made:
            said = getattr(hook, "running_as_one_call", None)
            if said is not None:
                said()
        vals = self._whole_values(args)
        if vals is not None:
            outputs = self._report_whole(vals, args, hook)
        else:
            outputs = self._record(args, hook)
            if self._whole is not None and self._whole.failed:
                # it fails where op by op does not: op by op from now on
                self._whole = self._native.shared["whole"] = None
        return tuple(host_value(t, _opaque(t)) for t in outputs)

    def prepare(self) -> None:
        """Make the run as one call ready: TensorFlow prunes the graph and optimises it
        at its first call (about a second for 2,000 ops), which a first step would
        otherwise wait for. The Session calls this while it waits for its first
        command; the call runs the function once, which changes nothing (a function
        that writes state never runs as one call)."""
        self._exec.refresh()
        self._whole_values(self._args())

    def _args(self) -> list[Any]:
        """The main function's arguments: the inputs, variable handles, captures."""
        args: list[Any] = [None] * len(self._native.main.arguments)
        for i, value in self._fixed_args.items():
            args[i] = value
        for position, tensor in zip(self._input_args, self._inputs, strict=True):
            args[position] = tensor
        return args

    def _record(
        self,
        args: list[Any],
        hook: StepHook | None,
        resume: _Resume | None = None,
        replaced_outputs: dict[int, Any] | None = None,
    ) -> list[Any]:
        """Run op by op on a persistent tape (from `resume` on, if given); the outputs."""
        tape = tf.GradientTape(persistent=True, watch_accessed_variables=False)
        recording = _Recording(tape, [args[i] for i in self._input_args], args=args)
        self._recording = recording
        try:
            with tape:
                tape.watch([v for v in self._variables.values() if v.dtype in DIFFERENTIABLE])
                tape.watch(
                    [t for t in recording.inputs if t.dtype in DIFFERENTIABLE]
                    + self._watched_consts
                )
                if resume is None:
                    fetched = self._run(self._main, args, hook, "", ())
                else:
                    fetched = self._resume(args, hook, resume)
                outputs = self._report_outputs(fetched, hook, replaced_outputs)
        finally:
            self._recording = None
        recording.outputs = outputs
        self._last = recording
        return outputs

    # ------------------------------------------------------------------ as one call

    def _whole_values(self, args: list[Any]) -> list[Any] | None:
        """Every slot of the main function from one call; None: it runs op by op."""
        if not self._whole_made:
            self._whole_made = True
            shared = self._native.shared
            if "whole" not in shared:  # made once per capture (a recompute's stepper too)
                shared["whole"] = whole_run(self._main, self._native.functions)
            self._whole = shared["whole"]
        return self._whole(args) if self._whole is not None else None

    def _report_whole(self, vals: list[Any], args: list[Any], hook: StepHook) -> list[Any]:
        """Report the main function's nodes in order from the values of a run as one
        call; from a node whose value the hook changes, or whose body it steps into,
        the run goes on op by op (the nodes before run again quietly, on the tape)."""
        recording = _Recording(None, [args[i] for i in self._input_args], args=args)
        self._recording = recording
        whole = self._whole
        assert whole is not None
        try:
            for at, step in enumerate(self._main.steps):
                if not step.report:
                    continue
                node_id = step.node_id
                kind = step.kind
                if (kind in _BODIES or (kind == COMPILED and step.callees)) and hook.enter_subgraph(
                    node_id
                ):
                    return self._record(args, hook, _Resume(at, entered=True))
                outs = vals[step.out : step.out + step.n_out]
                if kind == ARG and (read := whole.read_of(step.arg)) is not None:
                    values: tuple[Any, ...] = (host_value(vals[read], False),)  # a variable
                else:
                    values = self._values(step, outs, "")
                replaced = hook.node_done(node_id, step.scope, values)
                if replaced and any(0 <= i < step.n_out and not step.opaque[i] for i in replaced):
                    return self._record(args, hook, _Resume(at, replaced=replaced))
            outputs = self._report_outputs([vals[i] for i in self._main.fetches], hook)
        finally:
            self._recording = None
        recording.outputs = outputs
        self._last = recording
        self.last_run_whole = True
        return outputs

    def _resume(self, args: list[Any], hook: StepHook | None, resume: _Resume) -> list[Any]:
        """Run the main function op by op, the steps before `resume.at` quietly."""
        main = self._main
        steps = main.steps
        at = resume.at
        vals: list[Any] = [None] * main.n_slots
        self._run(main, args, None, "", (), steps=steps[:at], vals=vals, collect=True)
        if at < len(steps):
            step = steps[at]
            if resume.entered:
                self._entered = step.node_id
            else:
                assert resume.replaced is not None and self._recording is not None
                self._run(main, args, None, "", (), steps=[step], vals=vals)
                outs = self._apply(step, vals[step.out : step.out + step.n_out], resume.replaced)
                vals[step.out : step.out + step.n_out] = outs
                self._recording.nodes.append((step.node_id, outs))
                at += 1
        return self._run(main, args, hook, "", (), steps=steps[at:], vals=vals)

    def backward(self) -> GradientResult:
        from inspectors.tf_inspector.gradients import gradients

        if self._last is None:
            raise RuntimeError("No completed run to differentiate: run to the end first.")
        if self._last.tape is None:  # it ran as one call: again, op by op, on a tape
            last = self._last
            self._exec.refresh()
            self._record(last.args, None, _Resume(len(self._main.steps)), last.replaced_outputs)
            assert self._last is not None
        return gradients(
            self._last,
            self._target,
            self._native.concrete_function,
            self._variables,
            self._inputs_like_example,
        )

    # ------------------------------------------------------------------ running

    def _run(
        self,
        plan: FunctionPlan,
        args: list[Any],
        hook: StepHook | None,
        prefix: str,
        outer: tuple[str, ...],
        *,
        steps: list[Step] | None = None,
        vals: list[Any] | None = None,
        collect: bool = False,
    ) -> list[Any]:
        """Run one function graph; `hook` None runs it without reporting (stepped over).

        `steps` (a part of the plan's) run with `vals` holding the slots of the steps
        before; `collect` keeps the tensors of the nodes a hook would have heard about,
        for `backward`, without telling any."""
        if vals is None:
            vals = [None] * plan.n_slots
        execute = self._exec.execute
        for step in plan.steps if steps is None else steps:
            kind = step.kind
            if kind == EXEC:
                ins = [vals[i] for i in step.inputs]
                try:
                    outs = execute(step.op_type, step.n_out, ins, step.attrs)
                except Exception as exc:
                    raise NodeError(prefix + step.node_id, exc) from exc
                if step.record:
                    record_gradient(step.op_type, ins, step.attrs, outs)
            elif kind == ARG:
                outs = [args[step.arg]]
            elif kind == CONST:
                outs = [step.const]
            elif kind == PASS:
                outs = [vals[i] for i in step.inputs]
            elif kind == NOOP:
                outs = []
            else:
                ins = [vals[i] for i in step.inputs]
                outs = self._control(step, ins, hook, prefix, outer)
            if hook is not None and step.report:
                outs = self._report(step, outs, hook, prefix, outer)
            elif collect and step.report:
                assert self._recording is not None
                self._recording.nodes.append((prefix + step.node_id, outs))
            if step.n_out == 1:
                vals[step.out] = outs[0]
            elif step.n_out:
                vals[step.out : step.out + step.n_out] = outs
        return [vals[i] for i in plan.fetches]

    def _report(
        self,
        step: Step,
        outs: list[Any],
        hook: StepHook,
        prefix: str,
        outer: tuple[str, ...],
    ) -> list[Any]:
        """Tell the hook; apply the replacements it returns."""
        node_id = prefix + step.node_id
        values = self._values(step, outs, prefix)
        replaced = hook.node_done(node_id, outer + step.scope if outer else step.scope, values)
        assert self._recording is not None
        if replaced:
            outs = self._apply(step, outs, replaced)
        self._recording.nodes.append((node_id, outs))
        return outs

    def _values(self, step: Step, outs: list[Any], prefix: str) -> tuple[Any, ...]:
        """What the hook sees of a step's outputs."""
        if step.kind == CONST:
            return (step.const_np,)
        if step.kind == ARG and not prefix and step.arg in self._param_of_arg:
            var = self._param_of_arg[step.arg]
            # read without the tape: the hook sees the value, gradients use the graph's reads
            (value,) = self._exec.execute(
                "ReadVariableOp", 1, [var.handle], ("dtype", var.dtype.as_datatype_enum)
            )
            return (host_value(value, False),)
        if step.n_out == 1:  # most ops: no generator for one output
            return (host_value(outs[0], step.opaque[0]),)
        return tuple(host_value(t, o) for t, o in zip(outs, step.opaque, strict=True))

    def _apply(self, step: Step, outs: list[Any], replaced: dict[int, Any]) -> list[Any]:
        """`outs` with the hook's replacements (of values that have numpy ones)."""
        assert self._recording is not None
        outs = list(outs)
        for i, array in replaced.items():
            if 0 <= i < len(outs) and not step.opaque[i]:
                outs[i] = self._replacement(array, outs[i])
                self._recording.overrides += 1
        return outs

    def _replacement(self, array: Any, like: Any) -> Any:
        tensor = to_tensor(array, like)
        recording = self._recording
        if recording is not None and recording.tape is not None and tensor.dtype in DIFFERENTIABLE:
            recording.tape.watch(tensor)  # gradients flow to an overridden value
        return tensor

    def _report_outputs(
        self, fetched: list[Any], hook: StepHook | None, replaced: dict[int, Any] | None = None
    ) -> list[Any]:
        """The `output` nodes: the hook sees (and may replace) what the function returns.

        With no hook (`backward` running a run as one call again), the replacements are
        the ones the hook made then, `replaced`."""
        outputs = list(fetched)
        recording = self._recording
        assert recording is not None
        for i, node_id in enumerate(self._native.main.outputs):
            tensor = outputs[i]
            opaque = _opaque(tensor)
            if hook is None:
                array = (replaced or {}).get(i)
            else:
                scope = tuple(self.graph.node(node_id).get("scope", ()))
                got = hook.node_done(node_id, scope, (host_value(tensor, opaque),))
                array = got.get(0) if got else None
            if array is not None and not opaque:
                outputs[i] = tensor = self._replacement(array, tensor)
                recording.replaced_outputs[i] = array
            recording.nodes.append((node_id, [tensor]))
        return outputs

    def _steps_into(self, hook: StepHook | None, node_id: str) -> bool:
        if hook is None:
            return False
        if self._entered == node_id:  # asked already, before the run went op by op
            self._entered = None
            return True
        return hook.enter_subgraph(node_id)

    def _control(
        self,
        step: Step,
        ins: list[Any],
        hook: StepHook | None,
        prefix: str,
        outer: tuple[str, ...],
    ) -> list[Any]:
        """Interpret a While / If / Case / call op; inside, only a stepping-in hook reports."""
        node_id = prefix + step.node_id
        if step.kind == COMPILED:
            return self._compiled(step, ins, hook, node_id, outer)
        if step.kind == WHOLE:
            try:
                outs = self._exec.execute(step.op_type, step.n_out, ins, step.attrs)
            except Exception as exc:
                raise NodeError(node_id, exc) from exc
            if self._recording is not None:
                self._recording.whole.append(node_id)
                # gradients still reach its outputs, from what runs after it
                self._recording.tape.watch([t for t in outs if t.dtype in DIFFERENTIABLE])
            return list(outs)
        inner = hook if self._steps_into(hook, node_id) else None
        base = outer + step.scope + (node_id,)
        plans = [self._plans[name] for name in step.callees]
        try:
            if step.kind == WHILE:
                cond, body = plans
                loop = ins
                i = 0
                while True:
                    tag = f"cond[{i}]"
                    test = self._run(cond, loop, inner, f"{node_id}/{tag}/", base + (tag,))
                    if not _truthy(test[0]):
                        return loop
                    tag = f"body[{i}]"
                    loop = self._run(body, loop, inner, f"{node_id}/{tag}/", base + (tag,))
                    i += 1
            if step.kind == IF:
                taken = 0 if _truthy(ins[0]) else 1
                tag = ("then", "else")[taken]
                return self._run(plans[taken], ins[1:], inner, f"{node_id}/{tag}/", base + (tag,))
            if step.kind == CASE:
                index = int(ins[0]._numpy())
                if not 0 <= index < len(plans):
                    index = len(plans) - 1  # TensorFlow's Case runs the last branch then
                tag = f"branch[{index}]"
                return self._run(plans[index], ins[1:], inner, f"{node_id}/{tag}/", base + (tag,))
            assert step.kind == CALL
            return self._run(plans[0], ins, inner, f"{node_id}/call/", base + ("call",))
        except NodeError:
            raise
        except Exception as exc:  # e.g. a loop variable whose shape the body cannot take
            raise NodeError(node_id, exc) from exc

    def _compiled(
        self,
        step: Step,
        ins: list[Any],
        hook: StepHook | None,
        node_id: str,
        outer: tuple[str, ...],
    ) -> list[Any]:
        """A call of an XLA-compiled function: run whole; its body op by op if stepped into."""
        recording = self._recording
        if step.callees and self._steps_into(hook, node_id):
            base = outer + step.scope + (node_id,)
            first = len(recording.nodes) if recording is not None else 0
            overrides = recording.overrides if recording is not None else 0
            try:
                inner = self._run(
                    self._plans[step.callees[0]], ins, hook, f"{node_id}/call/", base + ("call",)
                )
            except NodeError:
                raise
            except Exception as exc:
                raise NodeError(node_id, exc) from exc
            if recording is None or step.effects or recording.overrides != overrides:
                return inner  # it must not run twice, or the user changed what flows on
            why = (
                f"inside {node_id}, a function compiled with XLA (jit_compile): "
                f"its gradient is taken for the call as a whole, at {node_id}"
            )
            for inner_id, _ in recording.nodes[first:]:
                recording.absent[inner_id] = why
            del recording.nodes[first:]
        try:
            return step.call(ins)
        except Exception as exc:
            raise NodeError(node_id, exc) from exc

    # ------------------------------------------------------------------ inputs

    def _convert_inputs(self, flat: list[Any]) -> list[Any]:
        if len(flat) != len(self._input_dtypes):
            raise ValueError(
                f"The model takes {len(self._input_dtypes)} input tensor(s); got {len(flat)}."
            )
        return [
            tf.convert_to_tensor(np.asarray(x) if not tf.is_tensor(x) else x, dtype=dtype)
            for x, dtype in zip(flat, self._input_dtypes, strict=True)
        ]

    def _inputs_like_example(self, flat: list[Any]) -> list[Any]:
        """The model's own call arguments with `flat` in place of the example tensors."""
        example = self._target.example_inputs
        leaves = tf.nest.flatten(example, expand_composites=True)
        it = iter(flat)
        replaced = [next(it) if _is_array(x) else x for x in leaves]
        return list(tf.nest.pack_sequence_as(example, replaced, expand_composites=True))

    def _use_graph_scopes(self, plan: FunctionPlan, graph: Graph) -> None:
        """Use the Graph's scopes (Keras layer scopes restored by the capture) for steps."""
        for step in plan.steps:
            if step.node_id in graph:
                step.scope = tuple(graph.node(step.node_id).get("scope", step.scope))


# ------------------------------------------------------------------------ helpers


def _opaque(tensor: Any) -> bool:
    return tensor.dtype in (tf.resource, tf.variant)


def _truthy(tensor: Any) -> bool:
    """TensorFlow's truth of a predicate: a scalar's value, else non-empty."""
    value = np.asarray(tensor._numpy())
    return bool(value) if value.ndim == 0 else value.size > 0


def _is_array(value: Any) -> bool:
    return bool(tf.is_tensor(value) or isinstance(value, np.ndarray))


def _flat_inputs(inputs: Any) -> list[Any]:
    """The tensors of a (possibly nested) inputs structure, in the function's order."""
    leaves = tf.nest.flatten(tuple(inputs), expand_composites=True)
    return [x for x in leaves if _is_array(x)]


def _as_tensor(value: Any) -> Any:
    return value if tf.is_tensor(value) else tf.convert_to_tensor(value)


def _all_subgraphs(graph: Graph) -> dict[str, Graph]:
    found: dict[str, Graph] = {}
    stack = [graph]
    while stack:
        for name, sub in stack.pop().subgraphs.items():
            if name not in found:
                found[name] = sub
                stack.append(sub)
    return found


def make_tf_stepper(captured: Any) -> TFStepper:
    """The stepper for a TensorFlow capture (`inspectors.capture.Captured`)."""
    return TFStepper(captured)


__all__ = ["TFStepper", "make_tf_stepper"]
