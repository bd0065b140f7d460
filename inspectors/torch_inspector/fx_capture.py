"""Capture with torch.fx symbolic tracing: layer-level nodes, the best view for teaching.

`symbolic_trace` runs `forward` on placeholder Proxies, so leaf modules (`Linear`,
`Conv2d`, ...) stay single `module` nodes and free functions become `op` nodes.
Proxies carry no values, which is why Python control flow on a tensor's value fails
here (see failures.py). ShapeProp then runs the traced graph once on the example
inputs to put real shapes and dtypes on every node.
"""

from __future__ import annotations

import contextlib
import io
import time
from typing import Any

import torch
import torch.fx
from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata

from inspectors.graph import Graph, plain_scope
from inspectors.torch_inspector.fx_graph import NodeInfo, OutputSpec, fx_nodes, to_graph
from inspectors.torch_inspector.names import (
    CallScopes,
    call_label,
    module_label,
    op_name,
    own_params,
    scope_of,
)
from inspectors.torch_inspector.source import caller_source, code_at
from inspectors.torch_inspector.values import dtype_name


class SourceTracer(torch.fx.Tracer):
    """A Tracer that notes the user's `file:line` on every node it creates.

    fx's own `record_stack_traces` formats the whole Python stack per node, which
    costs more than the trace itself on a large model; one frame walk is enough.
    The line also goes into `node.stack_trace`, so `GraphModule.code` shows it.
    """

    def create_node(self, *args: Any, **kwargs: Any) -> torch.fx.Node:
        node = super().create_node(*args, **kwargs)
        where = caller_source()
        if where is not None:
            node.meta["source"] = where
            filename, _, line = where.rpartition(":")
            node.stack_trace = (
                f'  File "{filename}", line {line}\n    {code_at(filename, int(line))}'
            )
        return node


def trace(model: torch.nn.Module) -> torch.fx.GraphModule:
    """symbolic_trace with source lines; raises the tracer's own error on failure."""
    tracer = SourceTracer()
    fx_graph = tracer.trace(model)
    name = type(model).__name__
    return torch.fx.GraphModule(tracer.root, fx_graph, name)


def propagate_shapes(module: torch.fx.GraphModule, inputs: tuple[Any, ...]) -> str | None:
    """Run the graph once (no autograd) so every node's meta holds its `tensor_meta`.

    A model that raises on its inputs keeps the shapes of the nodes before the failing
    one (the rest have none): the graph is still worth stepping to the failure. Returns
    the failing node's name and the error, or None.
    """
    prop = ShapeProp(module)
    with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):  # it prints tracebacks
        try:
            prop.propagate(*inputs)
        except Exception as error:
            exc = error.__cause__ or error  # ShapeProp wraps the node's own exception
            failed = next(
                (
                    n.name
                    for n in module.graph.nodes
                    if n.op != "placeholder"
                    and "tensor_meta" not in n.meta
                    and "type" not in n.meta
                ),
                "?",
            )
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            return f"{failed}: {type(exc).__name__}: {first}"
    return None


def capture_fx(
    model: torch.nn.Module, inputs: tuple[Any, ...], graph: Graph
) -> tuple[torch.fx.GraphModule, dict[str, torch.fx.Node], dict[str, float]]:
    """Fill `graph` from a symbolic trace of `model`.

    Returns the shape-propagated GraphModule, Graph node id -> fx node, and the
    seconds spent tracing, propagating shapes and converting.
    """
    t0 = time.perf_counter()
    module = trace(model)
    t1 = time.perf_counter()
    shape_error = propagate_shapes(module, inputs)
    t2 = time.perf_counter()
    to_graph(module.graph, _Describer(module), graph)
    if shape_error:
        graph.meta["shapes_stop_at"] = shape_error
    t3 = time.perf_counter()
    timing = {"trace": t1 - t0, "shapes": t2 - t1, "convert": t3 - t2}
    return module, fx_nodes(module.graph), timing


class _Describer:
    """NodeInfo for symbolic-trace nodes, with module and attribute lookups cached.

    A node's scope is its module call's (see `CallScopes`): the tracer's
    `nn_module_stack` keys every call apart, so a module called twice is two boxes,
    and its `module` nodes read `pool` and `pool (2)`.
    """

    def __init__(self, module: torch.fx.GraphModule) -> None:
        self.module = module
        self.modules = dict(module.named_modules())
        self.calls = CallScopes()

    def __call__(self, node: torch.fx.Node) -> NodeInfo:
        outputs = _specs(node)
        source = node.meta.get("source")
        if node.op == "placeholder":
            return NodeInfo("input", "input", node.name, (), outputs, source)
        if node.op == "get_attr":
            target = str(node.target)
            value = self._attr(target)
            kind = "param" if isinstance(value, torch.nn.Parameter) else "const"
            owner = target.rpartition(".")[0]
            return NodeInfo(kind, kind, target, scope_of(owner), outputs, source)
        if node.op == "call_module":
            path = str(node.target)
            sub = self.modules[path]
            extra = {"params": own_params(sub)}
            scope = self.calls.of_stack(node.meta.get("nn_module_stack"))
            label = call_label(scope)
            if plain_scope(scope) != scope_of(path):  # no stack, or not this module's
                scope, label = scope_of(path), module_label(path)
            return NodeInfo("module", type(sub).__name__, label, scope, outputs, source, extra)
        if node.op in ("call_function", "call_method"):
            scope = self.calls.of_stack(node.meta.get("nn_module_stack"))
            return NodeInfo("op", op_name(node.target), node.name, scope, outputs, source)
        return NodeInfo("output", "output", "output", (), [], source)

    def _attr(self, target: str) -> Any:
        value: Any = self.module
        for part in target.split("."):
            value = getattr(value, part)
        return value


def _specs(node: torch.fx.Node) -> list[OutputSpec]:
    """Shapes from ShapeProp's `tensor_meta` (possibly nested); Python values by type."""
    meta = node.meta.get("tensor_meta")
    if meta is not None:
        return _meta_specs(meta)
    kind = node.meta.get("type")
    if kind is None or node.op == "output":
        return []
    return [(None, kind.__name__)]


def _meta_specs(meta: Any) -> list[OutputSpec]:
    if isinstance(meta, TensorMetadata):
        return [(tuple(meta.shape), dtype_name(meta.dtype))]
    if isinstance(meta, tuple | list):
        return [s for m in meta for s in _meta_specs(m)]
    if isinstance(meta, dict):
        return [s for m in meta.values() for s in _meta_specs(m)]
    return [(None, type(meta).__name__)]
