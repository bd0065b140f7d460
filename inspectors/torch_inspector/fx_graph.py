"""Turn any torch.fx graph (symbolic trace or torch.export) into the neutral Graph.

The fx and export captures differ only in how they describe one node (kind, op,
scope, shapes); the walk, the edges and the output node are the same, so they live
here once. Graph node ids are the fx node names, so a stepper driving
`torch.fx.Interpreter.run_node` finds the fx node of a Graph node by name.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch.fx

from inspectors.graph import Graph

OutputSpec = tuple[Any, Any]


@dataclass
class NodeInfo:
    """How one fx node appears in the neutral graph."""

    kind: str
    op: str
    label: str
    scope: tuple[str, ...] = ()
    outputs: list[OutputSpec] = field(default_factory=list)
    source: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


Describe = Callable[[torch.fx.Node], NodeInfo]


def to_graph(fx_graph: torch.fx.Graph, describe: Describe, graph: Graph) -> Graph:
    """Add every fx node (in execution order) and its argument edges to `graph`."""
    widths: dict[str, int] = {}
    for node in fx_graph.nodes:
        info = describe(node)
        if node.op == "output" and not info.outputs:
            info.outputs = _output_specs(graph, node)
        graph.add_node(
            node.name,
            kind=info.kind,
            op=info.op,
            label=info.label,
            scope=info.scope,
            outputs=info.outputs,
            source=info.source,
            **info.extra,
        )
        widths[node.name] = len(info.outputs)
        getitem_index = _getitem_index(node)
        for dst_index, producer in _arg_nodes(node):
            src_index = 0
            if (
                getitem_index is not None
                and dst_index == 0
                and 0 <= getitem_index < widths.get(producer.name, 0)
            ):
                src_index = getitem_index
            graph.add_edge(producer.name, node.name, src_index=src_index, dst_index=dst_index)
    return graph


def fx_nodes(fx_graph: torch.fx.Graph) -> dict[str, torch.fx.Node]:
    """Graph node id -> fx node, for steppers."""
    return {node.name: node for node in fx_graph.nodes}


def _getitem_index(node: torch.fx.Node) -> int | None:
    if node.op == "call_function" and node.target is operator.getitem:
        index = node.args[1] if len(node.args) > 1 else None
        if isinstance(index, int):
            return index
    return None


def _arg_nodes(node: torch.fx.Node) -> Iterator[tuple[int, torch.fx.Node]]:
    """(argument position, producer) for every fx node among the arguments.

    Keyword arguments are numbered after the positional ones. For the output node
    every returned value gets its own position, so each output slot is one edge.
    """
    if node.op == "output":
        for i, leaf in enumerate(_leaves(node.args[0])):
            if isinstance(leaf, torch.fx.Node):
                yield i, leaf
        return
    position = 0
    for arg in node.args:
        for producer in _nodes_in(arg):
            yield position, producer
        position += 1
    for arg in node.kwargs.values():
        for producer in _nodes_in(arg):
            yield position, producer
        position += 1


def _leaves(arg: Any) -> list[Any]:
    if isinstance(arg, tuple | list):
        return [leaf for a in arg for leaf in _leaves(a)]
    if isinstance(arg, dict):
        return [leaf for a in arg.values() for leaf in _leaves(a)]
    return [arg]


def _output_specs(graph: Graph, node: torch.fx.Node) -> list[OutputSpec]:
    """What the model returns, slot by slot: each returned node's first output."""
    specs: list[OutputSpec] = []
    for leaf in _leaves(node.args[0]):
        if isinstance(leaf, torch.fx.Node):
            outs = graph.node(leaf.name)["outputs"]
            specs.append(outs[0] if outs else (None, None))
        else:
            specs.append((None, None if leaf is None else type(leaf).__name__))
    return specs


def _nodes_in(arg: Any) -> Iterator[torch.fx.Node]:
    if isinstance(arg, torch.fx.Node):
        yield arg
    elif isinstance(arg, tuple | list):
        for a in arg:
            yield from _nodes_in(a)
    elif isinstance(arg, dict):
        for a in arg.values():
            yield from _nodes_in(a)
    elif isinstance(arg, slice):
        yield from _nodes_in((arg.start, arg.stop, arg.step))
