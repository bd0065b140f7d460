"""What a view shows of a run: the eager graph grown from `NodeAdded` events, and the
per-node states (pending, executed, current, nan, error) painted on the graph.

Shared by the main window's debugger and the side-by-side compare panes, so both
draw a run the same way. Qt-free: plain functions over `Graph` and events.
"""

from __future__ import annotations

from collections.abc import Iterable

from inspectors import events as ev
from inspectors.graph import Graph


def empty_live_graph(base: Graph | None) -> Graph:
    """The graph an eager run grows into, named after the captured one."""
    return Graph(
        base.name if base else "eager", base.framework if base else "torch", capture="eager"
    )


def add_recorded_nodes(graph: Graph, added: Iterable[ev.NodeAdded]) -> None:
    """Add the nodes (and their incoming edges) an eager run recorded; known ones are skipped."""
    for event in added:
        if event.node_id in graph:
            continue
        attrs = dict(event.attrs)
        attrs.pop("framework", None)
        kind = attrs.pop("kind", "op")
        op = attrs.pop("op", "?")
        graph.add_node(event.node_id, kind=kind, op=op, **attrs)
        for src, dst, data in event.edges:
            if src in graph and dst in graph:
                graph.add_edge(
                    src,
                    dst,
                    src_index=data.get("src_index", 0),
                    dst_index=data.get("dst_index", 0),
                    shape=data.get("shape"),
                    dtype=data.get("dtype"),
                )


def node_states(
    nodes: Iterable[str],
    executed: Iterable[str],
    *,
    started: bool,
    flagged: Iterable[str] = (),
    current: str | None = None,
    error_node: str | None = None,
) -> dict[str, str]:
    """Each node's state for `GraphView.set_node_states` (empty before a run starts)."""
    states = dict.fromkeys(nodes, "pending") if started else {}
    for node in executed:
        if node in states:
            states[node] = "executed"
    for node in flagged:
        if node in states:
            states[node] = "nan"
    if current and current in states:
        states[current] = "current"
    if error_node and error_node in states:
        states[error_node] = "error"
    return states
