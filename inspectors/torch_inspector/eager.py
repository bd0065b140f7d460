"""Record a model's ops as it really runs: the dynamic graph of one input.

A TorchFunctionMode sees every torch function and tensor method the model calls
(with the mode switched off inside its own handler, so an op's internals stay one
node); module forward pre/post hooks keep the stack of module calls that becomes
each node's scope: one scope per call, `pool` then `pool (2)` for a module called
twice (`names.CallScopes`). An op a module runs itself is titled with the module's
path (`names.WorkLabels`); its id stays `op_0042`. Edges follow tensor identity:
every tensor an op produced is kept alive for the run and found by its `id()`, so
ids are never reused.

It runs once per torch call, so it keeps the per-call work small: op names,
output specs and source lines are cached, and nodes go straight into the
networkx graph in the form `Graph.add_node` would give them.

The recorder is built for stepping, not only capture: `on_node_added(node_id)` fires
as the graph grows, and `on_node(node_id, outputs)` fires right after each op ran;
returning a replacement from it overrides what the model sees (a debugger's
"set this node's output"). Blocking inside `on_node` pauses the model mid-forward.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import torch
from torch.overrides import TorchFunctionMode

from inspectors.graph import Graph
from inspectors.torch_inspector.names import CallScopes, WorkLabels, op_name, scope_of
from inspectors.torch_inspector.source import caller_source
from inspectors.torch_inspector.values import (
    OutputSpec,
    flatten,
    rebuild,
    spec_of,
    tensor_leaves,
)

#: `on_node(node_id, outputs)`: outputs is the op's result flattened (tensors and
#: Python values, in the order of the node's `outputs` list). Return None to keep
#: them, or a tuple of the same length (a single tensor for a one-output op) to
#: replace them.
OnNode = Callable[[str, tuple[Any, ...]], Any]
OnNodeAdded = Callable[[str], None]

#: Tensor-returning calls that are bookkeeping, not computation.
_SKIPPED = frozenset({"data", "grad", "_base", "_grad", "__get__"})
#: In-place methods that return None: their first argument is what they produce.
_RETURNS_NONE_INPLACE = frozenset({"setitem"})
#: Containers whose tensors are an op's inputs too (`torch.cat([a, b])`).
_CONTAINERS = (tuple, list, dict)

#: Types of results that hold no tensor, so the call makes no node.
_PLAIN_VALUES = frozenset({int, float, bool, str, torch.Size, torch.dtype, torch.device})

_Tensor = torch.Tensor


@dataclass
class Recording:
    """One recorded run: the graph of what happened and what the model returned."""

    graph: Graph
    output: Any
    inputs: tuple[Any, ...]
    #: node id -> its output values, when the recorder was asked to keep them.
    values: dict[str, tuple[Any, ...]] = field(default_factory=dict)


@dataclass
class FailedCall:
    """A torch call that raised during recording, kept until the error is known to escape."""

    func: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    scope: tuple[str, ...]
    exc: Exception
    source: str | None


def _caused_by(exc: BaseException, cause: BaseException) -> bool:
    """Whether `exc` is `cause` or was raised while handling it (a wrapper's re-raise)."""
    seen: BaseException | None = exc
    for _ in range(16):
        if seen is None:
            return False
        if seen is cause:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class EagerRecorder:
    """Runs `model` with recording on; each `record(*inputs)` gives a fresh graph.

    During a run, `graph` is the graph so far (callbacks may read it) and
    `current_scope` the module path being executed.
    """

    def __init__(
        self,
        model: Callable[..., Any],
        *,
        on_node: OnNode | None = None,
        on_node_added: OnNodeAdded | None = None,
        keep_values: bool = False,
        name: str = "",
    ) -> None:
        self.model = model
        self.on_node = on_node
        self.on_node_added = on_node_added
        #: Called with the scope execution is back in after a module call returns.
        self.on_scope_left: Callable[[tuple[str, ...]], None] | None = None
        self.keep_values = keep_values
        self.name = name or type(model).__name__
        self.graph = Graph(self.name, "torch")
        self.current_scope: tuple[str, ...] = ()
        #: True while a callback runs outside a torch call: torch calls then go unrecorded
        self.quiet = False
        self._modules = _module_paths(model)
        self._param_names = _tensor_names(model, "named_parameters")
        self._buffer_names = _tensor_names(model, "named_buffers")
        self._reset(self.graph)

    # -- running ----------------------------------------------------------------

    def record(self, *inputs: Any, graph: Graph | None = None) -> Recording:
        """Run the model on `inputs`, recording every op into `graph` (or a new Graph)."""
        self._reset(graph if graph is not None else Graph(self.name, "torch"))
        for name, value in zip(_input_names(self.model, len(inputs)), inputs, strict=True):
            self._add_input(name, value)
        handles = self._hook_modules()
        try:
            with _RecordingMode(self):
                output = self.model(*inputs)
        finally:
            for handle in handles:
                handle.remove()
            self._scopes.clear()
        self._add_output(output)
        recording = Recording(self.graph, output, inputs, self._values)
        self._produced.clear()  # the graph is done: stop keeping the tensors alive
        self._alive.clear()
        return recording

    def _reset(self, graph: Graph) -> None:
        self.graph = graph
        self.current_scope = ()
        #: the module calls running, innermost last: (call scope, module path)
        self._scopes: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
        self._calls = CallScopes()
        self._labels = WorkLabels(self._calls)
        #: nodes that depend on a model input (`WorkLabels` titles the first such op)
        self._fed: set[str] = set()
        #: id(tensor) -> (node, output slot, that slot's spec) for every tensor made so far
        self._produced: dict[int, tuple[str, int, OutputSpec]] = {}
        #: the tensors of `_produced`, kept alive for the run so their ids stay unique
        self._alive: list[Any] = []
        #: torch function -> op name, or None for bookkeeping calls that are not recorded
        self._names: dict[Any, str | None] = {}
        #: (shape, dtype) -> the `outputs` of a node producing one such tensor
        self._single_outputs: dict[tuple[Any, Any], tuple[OutputSpec, ...]] = {}
        self._counter = 0
        self._const_counter = 0
        self._values: dict[str, tuple[Any, ...]] = {}
        #: the tensor of the input / param / const node being added (for steppers)
        self.leaf_value: torch.Tensor | None = None
        self.failed_call: FailedCall | None = None

    def _hook_modules(self) -> list[Any]:
        handles = []
        for module, path in self._modules.values():
            handles.append(module.register_forward_pre_hook(self._enter(scope_of(path))))
            handles.append(module.register_forward_hook(self._leave, always_call=True))
        return handles

    def _enter(self, path: tuple[str, ...]) -> Callable[..., None]:
        def enter(module: Any, args: Any) -> None:
            parent_scope, parent_path = self._scopes[-1] if self._scopes else ((), ())
            scope = self._calls.enter(path, parent_path, parent_scope)
            self._scopes.append((scope, path))
            self.current_scope = scope

        return enter

    def _leave(self, module: Any, args: Any, output: Any) -> None:
        if self._scopes:
            self._scopes.pop()
        self.current_scope = self._scopes[-1][0] if self._scopes else ()
        if self.on_scope_left is not None:
            # A module hook runs outside any torch call, the mode watching: a debugger
            # paused here makes torch calls of its own (a value the window asks for),
            # and they are not the model's.
            self.quiet = True
            try:
                self.on_scope_left(self.current_scope)
            finally:
                self.quiet = False

    # -- recording --------------------------------------------------------------

    def on_call(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> Any:
        """Record one torch call that already ran; returns what the model should see."""
        try:
            name = self._names[func]
        except KeyError:
            name = self._names[func] = _recorded_name(func)
        except TypeError:  # an unhashable callable
            name = _recorded_name(func)
        if name is None:
            return result
        if isinstance(result, _Tensor) and name not in _RETURNS_NONE_INPLACE:
            produced = [result]
            outputs = self._single_output(result)
        elif type(result) in _PLAIN_VALUES:  # `x.shape`, `x.dim()`: no tensor made
            return result
        else:
            produced = [args[0]] if name in _RETURNS_NONE_INPLACE and args else flatten(result)
            if not any(isinstance(v, _Tensor) for v in produced):
                return result
            outputs = self._outputs(produced)
        # Frame 1 is the mode's handler, frame 2 the code that made the torch call.
        source = caller_source(sys._getframe(2))
        node_id = self._add_op(name, args, kwargs, outputs, source)
        if self.on_node is not None:
            replacement = self.on_node(node_id, tuple(produced))
            if replacement is not None:
                produced, result = _replace(result, produced, replacement, name)
        self._keep(node_id, produced, outputs)
        return result

    def _add_op(
        self,
        name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        outputs: tuple[OutputSpec, ...],
        source: str | None,
    ) -> str:
        """Add an op node with edges from its tensor arguments; returns its id."""
        in_edges: list[tuple[str, dict[str, Any]]] = []
        for position, arg in enumerate((*args, *kwargs.values()) if kwargs else args):
            if isinstance(arg, _Tensor):
                in_edges.append(self._edge_from(arg, position))
            elif isinstance(arg, _CONTAINERS):
                in_edges.extend(self._edge_from(t, position) for t in tensor_leaves(arg))
        node_id = f"op_{self._counter:04d}"
        self._counter += 1
        fed = False
        for src, _edge in in_edges:
            if src in self._fed:
                fed = True
                self._fed.add(node_id)
                break
        scope = self.current_scope
        label = self._labels.label(scope, name, fed) or name
        self._insert(node_id, "op", name, scope, outputs, source, in_edges, label)
        if self.on_node_added is not None:
            self.on_node_added(node_id)
        return node_id

    def _insert(
        self,
        node_id: str,
        kind: str,
        op: str,
        scope: tuple[str, ...],
        outputs: tuple[OutputSpec, ...],
        source: str | None = None,
        in_edges: list[tuple[str, dict[str, Any]]] | None = None,
        label: str | None = None,
    ) -> None:
        """Add a node (and edges into it) with the attributes `Graph.add_node` and
        `Graph.add_edge` write, from values already in their normal form: a scope of
        strings, outputs as a tuple of `(shape, dtype)`."""
        graph = self.graph
        attrs = {
            "label": label or node_id,
            "kind": kind,
            "op": op,
            "scope": scope,
            "outputs": outputs,
            "source": source,
            "framework": graph.framework,
            "subgraph": None,
        }
        _add_nx_node(graph.nx, node_id, attrs, in_edges or [])
        graph.order.append(node_id)

    def _outputs(self, produced: list[Any]) -> tuple[OutputSpec, ...]:
        """The node's `outputs`: one `(shape, dtype)` per produced value."""
        if len(produced) == 1:
            return self._single_output(produced[0])
        return tuple(self._single_output(v)[0] for v in produced)

    def _single_output(self, value: Any) -> tuple[OutputSpec, ...]:
        """`(spec_of(value),)`, one tuple shared by the tensors of a shape and dtype."""
        if not isinstance(value, _Tensor):
            return (spec_of(value),)
        try:
            key = (value.shape, value.dtype)
            known = self._single_outputs.get(key)
        except TypeError:  # symbolic dims do not hash
            return (spec_of(value),)
        if known is None:
            known = self._single_outputs[key] = (spec_of(value),)
        return known

    def on_failure(
        self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], exc: Exception
    ) -> None:
        """Note the torch call that raised; `add_failed_op` adds it if the error escapes."""
        source = caller_source(sys._getframe(1))
        self.failed_call = FailedCall(func, args, kwargs, self.current_scope, exc, source)

    def add_failed_op(self, exc: BaseException) -> str | None:
        """Add the op whose error `exc` is (or was caused by) as a node with no outputs.

        Returns its id, or None when `exc` did not come out of a torch call (a Python
        error in the model's own code, or an op error the model caught itself).
        """
        failed = self.failed_call
        self.failed_call = None
        if failed is None or not _caused_by(exc, failed.exc):
            return None
        self.current_scope = failed.scope
        return self._add_op(op_name(failed.func), failed.args, failed.kwargs, (), failed.source)

    def _keep(self, node_id: str, produced: list[Any], outputs: tuple[OutputSpec, ...]) -> None:
        """Note which node made each produced tensor, and the spec of its output slot."""
        for i, value in enumerate(produced):
            if isinstance(value, _Tensor):
                self._produced[id(value)] = (node_id, i, outputs[i])
                self._alive.append(value)
        if self.keep_values:
            self._values[node_id] = tuple(produced)

    def _edge_from(self, tensor: torch.Tensor, position: int) -> tuple[str, dict[str, Any]]:
        """The producer of `tensor` and the attributes Graph.add_edge gives its edge into
        input slot `position`."""
        src, src_index, (shape, dtype) = self._produced.get(id(tensor)) or self._producer(tensor)
        return src, {"src_index": src_index, "dst_index": position, "shape": shape, "dtype": dtype}

    def _producer(self, tensor: torch.Tensor) -> tuple[str, int, OutputSpec]:
        """The node, output slot and its spec that made `tensor`; params and constants
        on first use."""
        key = id(tensor)
        known = self._produced.get(key)
        if known is not None:
            return known
        if key in self._param_names:
            node_id, kind = self._param_names[key], "param"
        elif key in self._buffer_names:
            node_id, kind = self._buffer_names[key], "const"
        else:
            node_id, kind = f"const_{self._const_counter:04d}", "const"
            self._const_counter += 1
        return self._add_leaf(node_id, kind, tensor)

    def _add_leaf(
        self, node_id: str, kind: str, tensor: torch.Tensor
    ) -> tuple[str, int, OutputSpec]:
        """Add an input, param or const node; returns it as `_producer` does."""
        node_id = self._unique(node_id)
        scope = scope_of(node_id.rpartition(".")[0]) if kind == "param" else self.current_scope
        outputs = self._outputs([tensor])
        self._insert(node_id, kind, kind, scope, outputs)
        if kind == "input":
            self._fed.add(node_id)
        self._keep(node_id, [tensor], outputs)
        self.leaf_value = tensor
        if self.on_node_added is not None:
            self.on_node_added(node_id)
        return node_id, 0, outputs[0]

    def _add_input(self, name: str, value: Any) -> None:
        leaves = tensor_leaves(value)
        for i, tensor in enumerate(leaves):
            node_name = name if len(leaves) == 1 else f"{name}_{i}"
            self._add_leaf(node_name, "input", tensor)

    def _add_output(self, output: Any) -> None:
        leaves = flatten(output)
        sources: list[tuple[int, str, int]] = []
        for position, value in enumerate(leaves):
            if isinstance(value, torch.Tensor):
                src, src_index, _spec = self._producer(value)
                sources.append((position, src, src_index))
        node_id = self._unique("output")
        self.graph.add_node(
            node_id,
            kind="output",
            op="output",
            label="output",
            outputs=[spec_of(v) for v in leaves],
        )
        for position, src, src_index in sources:
            self.graph.add_edge(src, node_id, src_index=src_index, dst_index=position)
        if self.on_node_added is not None:
            self.on_node_added(node_id)

    def _unique(self, node_id: str) -> str:
        if node_id not in self.graph:
            return node_id
        n = 1
        while f"{node_id}_{n}" in self.graph:
            n += 1
        return f"{node_id}_{n}"


class _RecordingMode(TorchFunctionMode):
    """Hands every torch call to the recorder after running it.

    Torch disables the mode while `__torch_function__` runs, so the op's own
    internals and the recorder's bookkeeping are not recorded.
    """

    def __init__(self, recorder: EagerRecorder) -> None:
        super().__init__()
        self.recorder = recorder

    def __torch_function__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None
    ) -> Any:
        kwargs = kwargs or {}
        if self.recorder.quiet:  # the debugger's own calls, not the model's
            return func(*args, **kwargs)
        try:
            result = func(*args, **kwargs)
        except Exception as exc:
            self.recorder.on_failure(func, args, kwargs, exc)
            raise
        return self.recorder.on_call(func, args, kwargs, result)


def _add_nx_node(
    nx_graph: nx.MultiDiGraph,
    node_id: str,
    attrs: dict[str, Any],
    in_edges: list[tuple[str, dict[str, Any]]],
) -> None:
    """`add_node(node_id, **attrs)`, then `add_edge(src, node_id, **edge)` for each in-edge.

    The eager capture adds thousands of nodes while the model runs, so rather than
    pay networkx's per-call overhead it writes the MultiDiGraph's dicts the way those
    methods do: the same graph, with edge keys 0, 1, ... per `src -> node_id` pair.
    """
    if node_id in nx_graph._node:
        raise ValueError(f"node {node_id!r} already exists")
    succ = nx_graph._succ
    succ[node_id] = {}
    pred: dict[str, dict[int, dict[str, Any]]] = {}
    nx_graph._pred[node_id] = pred
    nx_graph._node[node_id] = attrs
    for src, edge in in_edges:
        keyed = pred.get(src)
        if keyed is None:
            succ[src][node_id] = pred[src] = {0: edge}
        else:
            keyed[len(keyed)] = edge
    cache = getattr(nx_graph, "__networkx_cache__", None)
    if cache:  # what networkx cached about the graph (converted copies) is stale now
        cache.clear()


def _replace(
    result: Any, produced: list[Any], replacement: Any, name: str
) -> tuple[list[Any], Any]:
    """Put a debugger's replacement outputs where the op's own results were."""
    new = list(replacement) if isinstance(replacement, tuple | list) else [replacement]
    if len(new) != len(produced):
        raise ValueError(
            f"replacement for `{name}` has {len(new)} values; the op produced {len(produced)}"
        )
    if name in _RETURNS_NONE_INPLACE:
        with torch.no_grad():
            produced[0].copy_(new[0])
        return produced, result
    return new, rebuild(result, iter(new))


def _module_paths(model: Any) -> dict[int, tuple[torch.nn.Module, str]]:
    if not isinstance(model, torch.nn.Module):
        return {}
    return {id(m): (m, path) for path, m in model.named_modules()}


def _tensor_names(model: Any, method: str) -> dict[int, str]:
    if not isinstance(model, torch.nn.Module):
        return {}
    return {id(t): name for name, t in getattr(model, method)(remove_duplicate=True)}


def _input_names(model: Any, count: int) -> list[str]:
    """The forward's parameter names for the inputs (`x`, `images`), else input_0, ..."""
    try:
        fn = model.forward if isinstance(model, torch.nn.Module) else model
        params = [
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    if len(params) >= count:
        return params[:count]
    return [f"input_{i}" for i in range(count)]


def _recorded_name(func: Any) -> str | None:
    """The op name a call is recorded under, or None for a call that is not recorded."""
    name = op_name(func)
    return None if name in _SKIPPED else name
