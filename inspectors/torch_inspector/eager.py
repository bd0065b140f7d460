"""Record a model's ops as it really runs: the dynamic graph of one input.

A TorchFunctionMode sees every torch function and tensor method the model calls
(with the mode switched off inside its own handler, so an op's internals stay one
node); module forward pre/post hooks keep the stack of module paths that becomes
each node's scope. Edges follow tensor identity: every tensor an op produced is
kept alive for the run in a dict keyed by `id()`, so ids are never reused.

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

import torch
from torch.overrides import TorchFunctionMode

from inspectors.graph import Graph
from inspectors.torch_inspector.names import op_name, scope_of
from inspectors.torch_inspector.source import caller_source
from inspectors.torch_inspector.values import flatten, rebuild, spec_of, tensor_leaves

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
        self.keep_values = keep_values
        self.name = name or type(model).__name__
        self.graph = Graph(self.name, "torch")
        self.current_scope: tuple[str, ...] = ()
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
        return recording

    def _reset(self, graph: Graph) -> None:
        self.graph = graph
        self.current_scope = ()
        self._scopes: list[tuple[str, ...]] = []
        self._produced: dict[int, tuple[str, int, Any]] = {}
        self._counter = 0
        self._const_counter = 0
        self._values: dict[str, tuple[Any, ...]] = {}
        #: the tensor of the input / param / const node being added (for steppers)
        self.leaf_value: torch.Tensor | None = None
        self.failed_call: FailedCall | None = None

    def _hook_modules(self) -> list[Any]:
        handles = []
        for module, path in self._modules.values():
            scope = scope_of(path)
            handles.append(module.register_forward_pre_hook(self._enter(scope)))
            handles.append(module.register_forward_hook(self._leave, always_call=True))
        return handles

    def _enter(self, scope: tuple[str, ...]) -> Callable[..., None]:
        def enter(module: Any, args: Any) -> None:
            self._scopes.append(scope)
            self.current_scope = scope

        return enter

    def _leave(self, module: Any, args: Any, output: Any) -> None:
        if self._scopes:
            self._scopes.pop()
        self.current_scope = self._scopes[-1] if self._scopes else ()

    # -- recording --------------------------------------------------------------

    def on_call(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> Any:
        """Record one torch call that already ran; returns what the model should see."""
        name = op_name(func)
        if name in _SKIPPED:
            return result
        produced = [args[0]] if name in _RETURNS_NONE_INPLACE and args else flatten(result)
        if not any(isinstance(v, torch.Tensor) for v in produced):
            return result
        node_id = self._add_op(name, args, kwargs, produced, caller_source(sys._getframe(1)))
        if self.on_node is not None:
            replacement = self.on_node(node_id, tuple(produced))
            if replacement is not None:
                produced, result = _replace(result, produced, replacement, name)
        self._keep(node_id, produced)
        return result

    def _add_op(
        self,
        name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        produced: list[Any],
        source: str | None,
    ) -> str:
        """Add an op node with edges from its tensor arguments; returns its id."""
        arg_edges = []
        for position, arg in enumerate((*args, *kwargs.values()) if kwargs else args):
            if isinstance(arg, torch.Tensor):
                arg_edges.append((*self._producer(arg), position))
            elif isinstance(arg, tuple | list | dict):
                arg_edges.extend((*self._producer(t), position) for t in tensor_leaves(arg))
        node_id = f"op_{self._counter:04d}"
        self._counter += 1
        self.graph.add_node(
            node_id,
            kind="op",
            op=name,
            label=name,
            scope=self.current_scope,
            outputs=[spec_of(v) for v in produced],
            source=source,
        )
        for src, src_index, dst_index in arg_edges:
            self.graph.add_edge(src, node_id, src_index=src_index, dst_index=dst_index)
        if self.on_node_added is not None:
            self.on_node_added(node_id)
        return node_id

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
        return self._add_op(op_name(failed.func), failed.args, failed.kwargs, [], failed.source)

    def _keep(self, node_id: str, produced: list[Any]) -> None:
        for i, value in enumerate(produced):
            if isinstance(value, torch.Tensor):
                self._produced[id(value)] = (node_id, i, value)
        if self.keep_values:
            self._values[node_id] = tuple(produced)

    def _producer(self, tensor: torch.Tensor) -> tuple[str, int]:
        """The node (and output slot) that made `tensor`; params and constants on first use."""
        known = self._produced.get(id(tensor))
        if known is not None:
            return known[0], known[1]
        key = id(tensor)
        if key in self._param_names:
            node_id, kind = self._param_names[key], "param"
        elif key in self._buffer_names:
            node_id, kind = self._buffer_names[key], "const"
        else:
            node_id, kind = f"const_{self._const_counter:04d}", "const"
            self._const_counter += 1
        self._add_leaf(node_id, kind, tensor)
        return node_id, 0

    def _add_leaf(self, node_id: str, kind: str, tensor: torch.Tensor, label: str = "") -> None:
        node_id = self._unique(node_id)
        scope = scope_of(node_id.rpartition(".")[0]) if kind == "param" else self.current_scope
        self.graph.add_node(
            node_id,
            kind=kind,
            op=kind,
            label=label or node_id,
            scope=scope,
            outputs=[spec_of(tensor)],
        )
        self._keep(node_id, [tensor])
        self.leaf_value = tensor
        if self.on_node_added is not None:
            self.on_node_added(node_id)

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
                sources.append((position, *self._producer(value)))
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
        try:
            result = func(*args, **kwargs)
        except Exception as exc:
            self.recorder.on_failure(func, args, kwargs, exc)
            raise
        return self.recorder.on_call(func, args, kwargs, result)


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
