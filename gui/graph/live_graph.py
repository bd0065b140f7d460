"""What a view shows of a run: the eager graph grown from `NodeAdded` events, and the
per-node states (pending, executed, current, nan, error) painted on the graph.

Shared by the main window's debugger and the side-by-side compare panes, so both
draw a run the same way. Qt-free: plain functions over `Graph` and events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import chain

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
        states[current] = "current_nan" if states[current] == "nan" else "current"
    if error_node and error_node in states:
        states[error_node] = "error"
    return states


@dataclass
class RunMarks:
    """What the current run has done to each node, as a view paints it."""

    executed: dict[str, None] = field(default_factory=dict)  # in execution order
    flagged: set[str] = field(default_factory=set)  # outputs with NaN / Inf
    current: str | None = None
    error_node: str | None = None

    def reset(self) -> None:
        self.executed.clear()
        self.flagged.clear()
        self.current = self.error_node = None

    def stepped(self, events: Iterable[ev.NodeStepped]) -> None:
        for event in events:
            self.executed[event.node_id] = None
            if any(s.is_tensor and s.nonfinite for s in event.summaries):
                self.flagged.add(event.node_id)
            else:
                self.flagged.discard(event.node_id)
            self.current = event.node_id

    def paused(self, pause: ev.Paused) -> None:
        self.current = pause.node_id if pause.reason != ev.READY else None

    def states(
        self,
        nodes: Iterable[str],
        shown: Callable[[str], str] = lambda n: n,
        ran: Iterable[str] = (),
    ) -> dict[str, str]:
        """`node_states` for the graph on screen; `shown` maps a run's id to its id there.

        `ran` are nodes on screen known to have run though no event named them: the
        body of a loop or call that ran whole.
        """
        return node_states(
            nodes,
            chain(ran, (shown(n) for n in self.executed)),
            started=bool(self.executed or self.error_node),
            flagged=(shown(n) for n in self.flagged),
            current=shown(self.current) if self.current else None,
            error_node=shown(self.error_node) if self.error_node else None,
        )
