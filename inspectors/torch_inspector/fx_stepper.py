"""Step an fx GraphModule (symbolic trace) or an ExportedProgram one fx node at a time.

A `torch.fx.Interpreter` runs the nodes in graph order; after each one the hook gets
its outputs as numpy and may hand back replacements, which go into the interpreter's
environment so every later node reads them. The run is under autograd and each
node's outputs stay alive as tensors until the next run, which is what `backward`
differentiates.

Export graphs take the lifted parameters, buffers and constants as their first
placeholders (graph signature order): the real `nn.Parameter`s are passed so
gradients land on the model's own parameters.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.fx
from torch.export.graph_signature import InputKind, OutputKind
from torch.fx import Node
from torch.utils import _pytree as pytree

from inspectors.graph import Graph
from inspectors.stepping import GradientResult, NodeError, StepHook
from inspectors.torch_inspector import summaries as _summaries  # noqa: F401  (registers torch)
from inspectors.torch_inspector.gradients import (
    OutputRecord,
    compute_gradients,
    scalar_loss,
)
from inspectors.torch_inspector.module_body import ModuleBody, opaque_module
from inspectors.torch_inspector.numpy_io import (
    flat_outputs,
    leaves_to_numpy,
    numpy_to_inputs,
    replaced,
    traced_inputs,
)
from inspectors.torch_inspector.values import flatten, rebuild

_Tensor = torch.Tensor
_TRAINING = operator.attrgetter("training")


class _NodeRunner(torch.fx.Interpreter):
    """An Interpreter that runs each node through a call prepared once per graph.

    The stock `run_node` enters `fx_traceback` context for each node (meta for nested
    tracing), checks argument types and walks `args` / `kwargs` with `map_arg` to find
    the nodes in them; none of that changes between runs, and on a small-op graph it is
    most of the per-node cost. `prepared[n](env)` is `run_node(n)` with the target,
    the positions of the argument nodes and the constants worked out in advance.
    """

    def __init__(self, module: torch.fx.GraphModule) -> None:
        super().__init__(module, garbage_collect_values=False)
        self.prepared: dict[torch.fx.Node, Callable[[dict[torch.fx.Node, Any]], Any]] = {
            n: self._prepare(n) for n in module.graph.nodes
        }

    def run_node(self, n: torch.fx.Node) -> Any:
        return self.prepared[n](self.env)

    def _prepare(self, n: torch.fx.Node) -> Callable[[dict[torch.fx.Node, Any]], Any]:
        fn: Callable[..., Any]
        if n.op == "call_module":
            fn = self.fetch_attr(str(n.target))
        elif n.op == "call_function":
            fn = n.target  # type: ignore[assignment]
        elif n.op == "call_method":
            fn = _method_caller(str(n.target))
        else:  # placeholder (stateful: the next input), get_attr, output
            return self._generic(n, getattr(self, n.op), with_target=True)
        args, kwargs = n.args, n.kwargs
        if any(_holds_node(a) for a in (*args, *kwargs.values()) if not isinstance(a, Node)):
            return self._generic(n, fn, with_target=False)  # nodes inside lists / dicts
        nodes = tuple(a for a in args if isinstance(a, Node))
        if not kwargs and len(nodes) == len(args):  # f(x), f(x, y): the common shapes
            if len(nodes) == 1:
                (a0,) = nodes
                return lambda env: fn(env[a0])
            if len(nodes) == 2:
                a0, a1 = nodes
                return lambda env: fn(env[a0], env[a1])
            return lambda env: fn(*[env[a] for a in nodes])
        slots = [(i, a) for i, a in enumerate(args) if isinstance(a, Node)]
        kw_slots = [(k, a) for k, a in kwargs.items() if isinstance(a, Node)]
        template, kw_template = list(args), dict(kwargs)

        def mixed(env: dict[Node, Any]) -> Any:
            call_args = template.copy()
            for i, a in slots:
                call_args[i] = env[a]
            call_kwargs = kw_template.copy()
            for k, a in kw_slots:
                call_kwargs[k] = env[a]
            return fn(*call_args, **call_kwargs)

        return mixed

    def _generic(
        self, n: Node, fn: Callable[..., Any], *, with_target: bool
    ) -> Callable[[dict[Node, Any]], Any]:
        """Arguments fetched the Interpreter's way, for the rare and the once-per-run nodes."""
        fetch = self.fetch_args_kwargs_from_env
        target = n.target

        def generic(env: dict[Node, Any]) -> Any:
            args, kwargs = fetch(n)
            return fn(target, args, kwargs) if with_target else fn(*args, **kwargs)

        return generic


def _method_caller(name: str) -> Callable[..., Any]:
    def call(self_obj: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(self_obj, name)(*args, **kwargs)

    return call


def _holds_node(value: Any) -> bool:
    """Whether an argument has an fx node inside it (a list of tensors, say)."""
    found: list[Node] = []
    torch.fx.node.map_arg(value, found.append)
    return bool(found)


class FxStepper:
    """The Stepper for fx and export captures (`inspectors.stepping.Stepper`)."""

    def __init__(self, captured: Any) -> None:
        self.graph: Graph = captured.graph
        self.target = captured.target
        self.strategy = captured.strategy
        if self.strategy == "export":
            self.program = captured.native
            module = self.program.graph_module
        else:
            self.program = None
            module = captured.native
        self._runner = _NodeRunner(module)
        scopes = {n: tuple(self.graph.node(n).get("scope") or ()) for n in self.graph.order}
        #: (fx node, its prepared call, Graph node id, scope, the scope execution returns
        #: to after it when module calls end there, else None) in execution order.
        prepared = self._runner.prepared
        nodes = list(module.graph.nodes)
        exits = _scope_exits(self.graph, [n.name for n in nodes], scopes)
        self._plan = [
            (n, prepared[n], n.name, scopes.get(n.name, ()), exit_to)
            for n, exit_to in zip(nodes, exits, strict=True)
        ]
        #: fx leaf modules with submodules: the user can step into them (module_body)
        self._bodies: dict[Node, torch.nn.Module] = {}
        self._entered: dict[Node, ModuleBody] = {}  # captured on the first step into
        for n in nodes:
            if n.op == "call_module":
                sub = self._runner.fetch_attr(str(n.target))
                if opaque_module(sub):
                    self._bodies[n] = sub
        self._params = _named_parameters(self.target.model, module)
        self._lifted = _lifted_arguments(self.program, self.target.model) if self.program else []
        self._buffers = dict(_module_tensors(self.target.model, "named_buffers"))
        self._inputs: tuple[Any, ...] = tuple(self.target.example_inputs)
        model = self.target.model
        #: the model's modules, listed once (walking them costs 0.3 ms a run on 200)
        self._modules = list(model.modules()) if isinstance(model, torch.nn.Module) else None
        self._record = OutputRecord()
        self._graded = True  # the last run recorded autograd's graph
        self._replacements: dict[str, dict[int, Any]] = {}  # what the hook replaced
        self._stepped_into: list[str] = []
        self._args: tuple[Any, ...] = ()
        self._rng: Any = None
        #: The hook gets the nodes' own tensors (summarised by torch where they live,
        #: `torch_inspector.summaries`); they never change afterwards unless the graph
        #: has an in-place op (export graphs never do), so they are kept without a copy.
        self.immutable_values = self.program is not None or not _has_inplace(module)
        self._run_inputs: tuple[Any, ...] = ()
        self._output: Any = None
        self._finished = False

    # ------------------------------------------------------------------ Stepper

    def inputs(self) -> tuple[np.ndarray, ...]:
        return leaves_to_numpy(self._inputs)

    def run(self, hook: StepHook, inputs: tuple[np.ndarray, ...] | None = None) -> Any:
        if inputs is not None:
            self._inputs = numpy_to_inputs(tuple(inputs), self._inputs)
        self._finished = False
        self._output = None
        self._record.clear()
        self._replacements.clear()
        self._stepped_into.clear()
        run_inputs = traced_inputs(self._inputs)
        self._run_inputs = run_inputs
        self._args = args = self._arguments(run_inputs)
        self._graded = not self._lazy_gradients()
        if not self._graded:  # the backward runs the nodes again: with this random state
            self._rng = _random_state()
        with torch.set_grad_enabled(self._graded):
            result = self._step_all(hook, args)
        self._output = self._model_output(result)
        self._finished = True
        return flat_outputs(self._output)

    def backward(self) -> GradientResult:
        if not self._finished:
            raise RuntimeError("gradients need a finished run")
        if not self._graded:
            self._run_with_gradients()
        loss, source = scalar_loss(self._output, self._run_inputs, self.target.loss)
        return compute_gradients(loss, source, self._record, self._params)

    # ------------------------------------------------------- gradients on demand

    def _lazy_gradients(self) -> bool:
        """Whether this run can go without autograd, its backward running the nodes again
        (values and all) when gradients are asked: a model in eval mode, whose forward
        changes no state (no running statistics to update). Autograd's bookkeeping is
        about a third of a small-op model's forward."""
        if self._modules is None or _LAZY_GRADIENTS_OFF:
            return False
        return not any(map(_TRAINING, self._modules))  # asked every run: C-speed

    def _run_with_gradients(self) -> None:
        """Run the last run's nodes again under autograd, with its inputs, random state,
        replacements and modules stepped into: the same values, now differentiable."""
        self._record.clear()
        _set_random_state(self._rng)
        again = _Again(self._replacements, set(self._stepped_into))
        with torch.enable_grad():
            result = self._step_all(again, self._args)
        self._output = self._model_output(result)
        self._graded = True

    def _arguments(self, run_inputs: tuple[Any, ...]) -> tuple[Any, ...]:
        if self.program is None:
            return run_inputs
        user = iter(pytree.tree_leaves(run_inputs))
        return tuple(next(user) if v is _USER_INPUT else v for v in self._lifted)

    # ---------------------------------------------------------------- internals

    def _step_all(self, hook: StepHook, args: tuple[Any, ...]) -> Any:
        runner = self._runner
        env = runner.env = {}
        runner.args_iter = iter(args)
        keep = self._record.keep if torch.is_grad_enabled() else None
        node_done = hook.node_done
        replacements = self._replacements
        scope_left = hook.scope_left
        bodies = self._bodies
        result: Any = None
        for node, call, node_id, scope, exit_to in self._plan:
            try:
                if node in bodies and hook.enter_subgraph(node_id):
                    self._stepped_into.append(node_id)
                    result = self._step_into(hook, node, node_id, scope)
                else:
                    result = call(env)
            except NodeError:
                raise
            except Exception as exc:
                raise NodeError(node_id, exc) from exc
            if isinstance(result, _Tensor):
                leaves: tuple[Any, ...] = (result,)
                replacement = node_done(node_id, scope, leaves)
            else:
                leaves = tuple(flatten(result))
                replacement = node_done(node_id, scope, leaves)
            if replacement:
                replacements[node_id] = replacement
                try:
                    leaves = replaced(leaves, replacement)
                except ValueError as exc:
                    raise NodeError(node_id, exc) from exc
                result = rebuild(result, iter(leaves))
            env[node] = result
            if keep is not None:
                keep(node_id, leaves)
            if exit_to is not None:
                scope_left(exit_to)
        return result

    def _step_into(self, hook: StepHook, node: Node, node_id: str, scope: tuple[str, ...]) -> Any:
        """Run a module node's module op by op, each op reported to `hook`."""
        module = self._bodies[node]
        args, kwargs = self._runner.fetch_args_kwargs_from_env(node)
        if kwargs:  # the recorder takes positional inputs only: run it whole
            return module(*args, **kwargs)
        body = self._entered.get(node)
        if body is None:
            body = self._entered[node] = ModuleBody(self.graph, node_id, module, tuple(args))
        return body.run(_Noting(hook, self._replacements), scope, tuple(args), self._record)

    def _model_output(self, result: Any) -> Any:
        """What the model's own forward returns, from the output node's value."""
        if self.program is None:
            return result
        specs = self.program.graph_signature.output_specs
        flat = list(result) if isinstance(result, tuple | list) else [result]
        user = [
            v for v, spec in zip(flat, specs, strict=False) if spec.kind == OutputKind.USER_OUTPUT
        ]
        self._apply_buffer_mutations(flat, specs)
        return pytree.tree_unflatten(user, self.program.call_spec.out_spec)

    def _apply_buffer_mutations(self, flat: list[Any], specs: Any) -> None:
        """Export returns new buffer values (BatchNorm running stats): write them back."""
        buffers = self._buffers
        with torch.no_grad():
            for value, spec in zip(flat, specs, strict=False):
                if spec.kind == OutputKind.BUFFER_MUTATION and spec.target in buffers:
                    buffers[spec.target].copy_(value)


#: Tests set this to compare a run recorded under autograd with one whose gradients
#: come from running the nodes again.
_LAZY_GRADIENTS_OFF = False


class _Again:
    """The hook of a run made again for its gradients: it pauses nowhere and hands back
    what the first run's hook replaced, stepping into the same modules."""

    def __init__(self, replacements: dict[str, dict[int, Any]], stepped_into: set[str]) -> None:
        self.replacements = replacements
        self.stepped_into = stepped_into

    def node_added(self, node_id: str) -> None:
        pass

    def enter_subgraph(self, node_id: str) -> bool:
        return node_id in self.stepped_into

    def scope_left(self, scope: tuple[str, ...]) -> None:
        pass

    def node_done(self, node_id: str, scope: tuple[str, ...], values: tuple[Any, ...]) -> Any:
        return self.replacements.get(node_id)


class _Noting:
    """A hook as it is, noting the replacements it hands back (inside a module body)."""

    def __init__(self, hook: StepHook, replacements: dict[str, dict[int, Any]]) -> None:
        self.hook = hook
        self.replacements = replacements
        self.node_added = hook.node_added
        self.enter_subgraph = hook.enter_subgraph
        self.scope_left = hook.scope_left

    def node_done(self, node_id: str, scope: tuple[str, ...], values: tuple[Any, ...]) -> Any:
        replacement = self.hook.node_done(node_id, scope, values)
        if replacement:
            self.replacements[node_id] = replacement
        return replacement


def _random_state() -> tuple[Any, Any]:
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    return torch.random.get_rng_state(), cuda


def _set_random_state(state: tuple[Any, Any]) -> None:
    cpu, cuda = state
    torch.random.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)


def _has_inplace(module: torch.fx.GraphModule) -> bool:
    """Whether a node of the graph may change a tensor in place (`x.add_(y)`, `x += y`,
    `nn.ReLU(inplace=True)`, `out=`), so an earlier node's output can change later."""
    for n in module.graph.nodes:
        if (
            n.op == "call_method"
            and str(n.target).endswith("_")
            and not str(n.target).endswith("__")
        ):
            return True
        if n.op == "call_function":
            name = getattr(n.target, "__name__", str(n.target))
            if name.startswith("i") and hasattr(operator, name) and name[1:] in _BINARY:
                return True  # operator.iadd and friends
            if name.endswith("_") and not name.endswith("__") or "out" in n.kwargs:
                return True
            if n.kwargs.get("inplace"):
                return True
        if n.op == "call_module":
            try:
                sub = module.get_submodule(str(n.target))
            except AttributeError:
                continue
            if getattr(sub, "inplace", False):
                return True
    return False


_BINARY = {
    "add",
    "sub",
    "mul",
    "truediv",
    "floordiv",
    "mod",
    "pow",
    "and",
    "or",
    "xor",
    "lshift",
    "rshift",
    "matmul",
    "concat",
}


def _scope_exits(
    graph: Graph, ids: list[str], scopes: dict[str, tuple[str, ...]]
) -> list[tuple[str, ...] | None]:
    """Per node in run order: the scope execution returns to after it when module calls
    end there (the common part of its frame and the next node's scope), else None.
    An fx `module` node is a whole call: after it, execution is in its parent scope."""
    exits: list[tuple[str, ...] | None] = []
    for i, node_id in enumerate(ids):
        scope = scopes.get(node_id, ())
        kind = graph.node(node_id).get("kind") if node_id in graph else None
        after = scope[:-1] if kind == "module" else scope
        following = scopes.get(ids[i + 1], ()) if i + 1 < len(ids) else ()
        common = 0
        while common < min(len(after), len(following)) and after[common] == following[common]:
            common += 1
        exits.append(after[:common] if common < len(after) else None)
    return exits


def _named_parameters(model: Any, module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Parameters by FQN: the model's own when it is a module, else the graph module's."""
    source = model if isinstance(model, torch.nn.Module) else module
    return dict(source.named_parameters())


def _module_tensors(model: Any, method: str) -> list[tuple[str, torch.Tensor]]:
    if not isinstance(model, torch.nn.Module):
        return []
    return list(getattr(model, method)())


_USER_INPUT = object()


def _lifted_arguments(program: Any, model: Any) -> list[Any]:
    """One value per placeholder of an export graph; `_USER_INPUT` where the user's go.

    The model's own tensors where the model is at hand (so autograd reaches the real
    parameters), else the program's state dict and constants (a loaded .pt2).
    """
    own = dict(_module_tensors(model, "named_parameters"))
    own.update(_module_tensors(model, "named_buffers"))
    state = program.state_dict
    constants = program.constants
    lifted: list[Any] = []
    for spec in program.graph_signature.input_specs:
        if spec.kind == InputKind.USER_INPUT:
            lifted.append(_USER_INPUT)
            continue
        name = spec.target
        if name in own:
            lifted.append(own[name])
        elif name in state:
            lifted.append(state[name])
        elif name in constants:
            lifted.append(constants[name])
        else:
            raise KeyError(f"the exported program has no value for its input {name!r}")
    return lifted
