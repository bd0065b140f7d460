"""Which node on one side of the compare window answers which node on the other.

Two graphs of one framework are matched by structure and scope (`diff_graphs`'
common pairs); a PyTorch and a Keras model are matched layer by layer
(`match_layers`: `fc1` with the first `Dense`). A layer link covers the whole scope
of its representative node, so clicking the Keras `BiasAdd` inside `fc1` finds the
PyTorch `fc1`. Qt-free.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Container

from inspectors.graph import Graph

#: Fills for linked pairs: the same colour on both sides means "these belong together".
LINK_COLOURS = (
    (120, 170, 230),
    (244, 162, 97),
    (125, 200, 140),
    (200, 140, 220),
    (240, 200, 90),
    (110, 200, 200),
    (230, 120, 140),
    (170, 170, 120),
)

#: Structure-diff categories and their fills.
#: A collapsed box shows its most telling member: the highest category.
IN_BOTH, ONLY_HERE, PARTS_HERE = 0, 1, 2
DIFF_COLOURS = {IN_BOTH: (174, 203, 235), ONLY_HERE: (239, 131, 84), PARTS_HERE: (214, 40, 57)}


class Links:
    """Node pairs between graph A and graph B, and the counterpart of any node."""

    def __init__(self, a: Graph, b: Graph) -> None:
        from inspectors.diff import diff_graphs, match_layers

        self.a, self.b = a, b
        self.by_layer = bool(a.framework and b.framework and a.framework != b.framework)
        pairs = match_layers(a, b) if self.by_layer else diff_graphs(a, b).common
        self.pairs: list[tuple[str, str]] = [(x, y) for x, y in pairs if x in a and y in b]
        self._maps: tuple[dict[str, str], dict[str, str]] = (
            {x: y for x, y in self.pairs},
            {y: x for x, y in self.pairs},
        )
        # layer links: every node in a linked layer's scope belongs to the link of the
        # last representative before it in that scope (a Keras BiasAdd to its MatMul)
        self._owner: tuple[dict[str, str], dict[str, str]] = ({}, {})
        if self.by_layer:
            for side, graph in ((0, a), (1, b)):
                self._owner[side].update(_owners(graph, [p[side] for p in self.pairs]))

    def graph(self, side: int) -> Graph:
        return self.a if side == 0 else self.b

    def representative(self, side: int, node_id: str) -> str | None:
        """The linked node on `side` that stands for `node_id` (itself, or its layer's)."""
        if node_id in self._maps[side]:
            return node_id
        graph = self.graph(side)
        if not self.by_layer or node_id not in graph:
            return None
        return self._owner[side].get(node_id)

    def counterpart(self, side: int, node_id: str) -> str | None:
        """The node on the other side linked to `node_id` on `side`, or None."""
        rep = self.representative(side, node_id)
        return self._maps[side].get(rep) if rep is not None else None

    def link_pairs(self) -> tuple[dict[str, int], dict[str, int]]:
        """The index (into `pairs`) of the link each node belongs to, per side."""
        out: tuple[dict[str, int], dict[str, int]] = ({}, {})
        index = {p: i for i, p in enumerate(self.pairs)}
        for side in (0, 1):
            for node in self.graph(side).nodes:
                rep = self.representative(side, node)
                if rep is None:
                    continue
                pair = (rep, self._maps[side][rep]) if side == 0 else (self._maps[side][rep], rep)
                out[side][node] = index[pair]
        return out

    def layer_ends(self, side: int) -> list[str]:
        """The last node to run of each linked pair's layer on `side`, pair by pair."""
        graph = self.graph(side)
        index = self.link_pairs()[side]
        ends = [pair[side] for pair in self.pairs]
        for node in dict.fromkeys(graph.order):
            if node in index:
                ends[index[node]] = node
        return ends


def lockstep_layer(
    ends: list[list[str]], executed: list[Container[str]], paused_at: list[str | None]
) -> int:
    """The linked layer every side should stop at next (`len(ends[0])`: none is left).

    Each side is on the first layer whose end has not run, or on the layer whose end
    it is paused at; all go to the furthest of these, or to the next one when every
    side already pauses at that layer's end.
    """
    if not ends:
        return 0
    levels, at_end = [], []
    for side_ends, done, at in zip(ends, executed, paused_at, strict=True):
        level = next((i for i, end in enumerate(side_ends) if end not in done), len(side_ends))
        if at is not None and at in side_ends[:level]:
            level = side_ends.index(at)
        levels.append(level)
        at_end.append(level < len(side_ends) and side_ends[level] == at)
    target = max(levels)
    if all(level == target and end for level, end in zip(levels, at_end, strict=True)):
        target += 1
    return min(target, len(ends[0]))


def _owners(graph: Graph, reps: list[str]) -> dict[str, str]:
    """node -> the representative whose layer it belongs to, by scope and execution order."""
    rep_set = set(reps)
    scoped: dict[tuple[str, ...], list[str]] = {}
    for rep in reps:
        scope = tuple(graph.node(rep).get("scope") or ())
        if scope:
            scoped.setdefault(scope, []).append(rep)
    if not scoped:
        return {}
    order = [n for n in dict.fromkeys(graph.order) if n in graph]
    placed = set(order)
    order += sorted(n for n in graph.nodes if n not in placed)
    position = {n: i for i, n in enumerate(order)}
    for members in scoped.values():
        members.sort(key=lambda r: position.get(r, 0))
    last: dict[tuple[str, ...], str] = {}
    out: dict[str, str] = {}
    for node in order:
        scope = tuple(graph.node(node).get("scope") or ())
        for k in range(len(scope), 0, -1):
            owners = scoped.get(scope[:k])
            if owners is None:
                continue
            if node in rep_set and node in owners:
                last[scope[:k]] = node
            out[node] = last.get(scope[:k], owners[0])
            break
    return out


def summary_line(graph: Graph, capture: str, shown: int | None = None) -> str:
    """`torch · capture fx · 5 nodes: 3 module, 1 input, 1 output · top ops: Linear ×2`."""
    counts = graph.op_counts()
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    ops = Counter(
        str(graph.node(n).get("op"))
        for n in graph.nodes
        if graph.node(n).get("kind") in ("op", "module")
    )
    top = ", ".join(f"{op} ×{n}" for op, n in ops.most_common(4))
    nodes = f"{len(graph)} nodes"
    if shown is not None and shown != len(graph):
        nodes = f"{shown} of {len(graph)} nodes drawn so far"
    text = f"{graph.framework or '?'} · capture {capture} · {nodes}: {kinds}"
    return text + (f" · top ops: {top}" if top else "")


def node_label(graph: Graph | None, node_id: str | None) -> str:
    """`fc1` or `MatMul (sequential/fc1/MatMul)`: the label, with the id when they differ."""
    if not node_id:
        return "—"
    if graph is None or node_id not in graph:
        return node_id
    label = str(graph.node(node_id).get("label") or node_id)
    return label if label == node_id else f"{label} ({node_id})"
