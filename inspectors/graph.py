"""The neutral computation graph every capture produces and every view consumes.

A `Graph` wraps one `networkx.MultiDiGraph` (multi, because `x * x` feeds one node
twice through two input slots) and fixes the attribute schema documented in
ARCHITECTURE.md, so the session and the GUI never ask which framework made it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

#: Node kinds, in the user's words.
KINDS = ("input", "param", "const", "op", "module", "output")

#: Keys every node carries (values may be empty / None).
NODE_KEYS = ("label", "kind", "op", "scope", "outputs", "source", "framework", "subgraph")

#: Keys every edge carries.
EDGE_KEYS = ("src_index", "dst_index", "shape", "dtype")

Shape = tuple[int | None, ...] | None
OutputSpec = tuple[Shape, str | None]

#: A scope part of a repeated call: the k-th call (k >= 2) of one module within one
#: enclosing call is `pool (2)`, `pool (3)`, ..., so each call is a box of its own.
_CALL_NUMBER = re.compile(r"^(.*) \((\d+)\)$")


def call_part(name: str, k: int) -> str:
    """The scope part of the `k`-th call of `name`: `pool` for the first, `pool (2)` after."""
    return name if k <= 1 else f"{name} ({k})"


#: A body tag in a stepped node's id: `while/body[2]/op`, `if/then/op`, `f/call/op`.
_FRAME = re.compile(r"/(body\[\d+\]|cond\[\d+\]|then|else|branch\[\d+\]|call)/")


def split_node_path(node_id: str) -> tuple[str, str | None, str | None]:
    """`while/body[2]/while/cell/Tanh` -> (`while`, `body[2]`, `while/cell/Tanh`).

    A node of the main graph gives (node_id, None, None). `inner` is the node's id in
    the body's own graph, one level down (a deeper path stays in `inner`).
    """
    match = _FRAME.search(node_id)
    if match is None:
        return node_id, None, None
    rest = node_id[match.end() :]
    deeper = _FRAME.search(rest)
    return node_id[: match.start()], match.group(1), rest[: deeper.start()] if deeper else rest


def plain_part(part: str) -> str:
    """A scope part without its call number: `pool (2)` -> `pool`."""
    found = _CALL_NUMBER.match(part)
    return found.group(1) if found else part


def titled(label: str, node_id: str) -> str:
    """`label (node_id)`, or the id alone when the label says nothing more."""
    return node_id if not label or label == node_id else f"{label} ({node_id})"


def plain_scope(scope: Iterable[str]) -> tuple[str, ...]:
    """The module path of a scope, whichever call: `("block (2)", "conv")` -> `("block", "conv")`."""
    return tuple(plain_part(part) for part in scope)


def _shape(value: Any) -> Shape:
    """A shape as a tuple of ints / None, or None when unknown (rank unknown)."""
    if value is None:
        return None
    return tuple(None if d is None else int(d) for d in value)


def _outputs(value: Iterable[Any] | None) -> tuple[OutputSpec, ...]:
    if not value:
        return ()
    return tuple((_shape(s), None if d is None else str(d)) for s, d in value)


@dataclass
class ScopeNode:
    """One module path / name scope: its direct nodes and its child scopes."""

    path: tuple[str, ...]
    children: dict[str, ScopeNode] = field(default_factory=dict)
    nodes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path[-1] if self.path else ""

    def walk(self) -> Iterator[ScopeNode]:
        """This scope and every scope below it, parents first."""
        yield self
        for child in self.children.values():
            yield from child.walk()

    def all_nodes(self) -> list[str]:
        """Every node id in this scope or below it."""
        out = list(self.nodes)
        for child in self.children.values():
            out.extend(child.all_nodes())
        return out

    def depth(self) -> int:
        return len(self.path)


class Graph:
    """A captured computation graph: nodes, edges, scopes, execution order, metadata.

    `meta` holds plain data about the capture: `capture` (strategy used),
    `failures` (list of `{"strategy", "reason", "error"}` for strategies tried
    first), `model` (spec), `framework`. `subgraphs` maps the `subgraph` id carried
    by a control-flow / call node to the nested Graph of its body.
    """

    def __init__(self, name: str = "", framework: str = "", **meta: Any) -> None:
        self.nx = nx.MultiDiGraph()
        self.name = name
        self.framework = framework
        self.order: list[str] = []
        self.meta: dict[str, Any] = {"failures": [], **meta}
        self.subgraphs: dict[str, Graph] = {}

    # -- building ---------------------------------------------------------------

    def add_node(
        self,
        node_id: str,
        *,
        kind: str,
        op: str,
        label: str | None = None,
        scope: Iterable[str] = (),
        outputs: Iterable[Any] | None = (),
        source: str | None = None,
        subgraph: str | None = None,
        in_order: bool = True,
        **extra: Any,
    ) -> str:
        """Add a node with the full schema; `in_order` appends it to `order`."""
        if kind not in KINDS:
            raise ValueError(f"node {node_id!r}: kind {kind!r} is not one of {KINDS}")
        if node_id in self.nx:
            raise ValueError(f"node {node_id!r} already exists")
        self.nx.add_node(
            node_id,
            label=label if label is not None else node_id,
            kind=kind,
            op=op,
            scope=tuple(str(s) for s in scope),
            outputs=_outputs(outputs),
            source=source,
            framework=self.framework,
            subgraph=subgraph,
            **extra,
        )
        if in_order:
            self.order.append(node_id)
        return node_id

    def add_edge(
        self,
        src: str,
        dst: str,
        *,
        src_index: int = 0,
        dst_index: int = 0,
        shape: Any = None,
        dtype: str | None = None,
    ) -> None:
        """Connect output `src_index` of `src` to input `dst_index` of `dst`."""
        for n in (src, dst):
            if n not in self.nx:
                raise KeyError(f"edge {src!r} -> {dst!r}: no node {n!r}")
        if shape is None and dtype is None:
            outs = self.nx.nodes[src]["outputs"]
            if src_index < len(outs):
                shape, dtype = outs[src_index]
        self.nx.add_edge(
            src,
            dst,
            src_index=int(src_index),
            dst_index=int(dst_index),
            shape=_shape(shape),
            dtype=None if dtype is None else str(dtype),
        )

    def set_outputs(self, node_id: str, outputs: Iterable[Any]) -> None:
        """Fill in observed output shapes/dtypes (and refresh out-edges that lack them)."""
        outs = _outputs(outputs)
        self.nx.nodes[node_id]["outputs"] = outs
        for _, _, data in self.nx.out_edges(node_id, data=True):
            i = data["src_index"]
            if data["shape"] is None and i < len(outs):
                data["shape"], data["dtype"] = outs[i]

    # -- reading ----------------------------------------------------------------

    def __len__(self) -> int:
        return self.nx.number_of_nodes()

    def __contains__(self, node_id: object) -> bool:
        return node_id in self.nx

    def node(self, node_id: str) -> dict[str, Any]:
        return self.nx.nodes[node_id]

    def title(self, node_id: str) -> str:
        """How text names a node: `conv1 (op_0002)`, its label and the id everything is
        keyed by; the id alone where the label is the id or the node is not here."""
        data = self.nx.nodes.get(node_id) if node_id in self.nx else None
        return titled(str(data.get("label") or node_id) if data else node_id, node_id)

    @property
    def nodes(self) -> list[str]:
        return list(self.nx.nodes)

    def edges(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        yield from self.nx.edges(data=True)

    def number_of_edges(self) -> int:
        return self.nx.number_of_edges()

    def inputs_of(self, node_id: str) -> list[str]:
        """Producers feeding `node_id`, in input-slot order."""
        ins = sorted(self.nx.in_edges(node_id, data=True), key=lambda e: e[2]["dst_index"])
        seen: list[str] = []
        for src, _, _ in ins:
            if src not in seen:
                seen.append(src)
        return seen

    def consumers_of(self, node_id: str) -> list[str]:
        return list(dict.fromkeys(self.nx.successors(node_id)))

    def op_counts(self) -> dict[str, int]:
        """How many nodes of each kind (`op`, `param`, ...)."""
        counts: dict[str, int] = {}
        for _, kind in self.nx.nodes(data="kind"):
            counts[kind] = counts.get(kind, 0) + 1
        return counts

    def scope_tree(self) -> ScopeNode:
        """The tree of module paths / name scopes with each node under its own scope."""
        root = ScopeNode(())
        placed = set(self.order)
        for node_id in self.order + [n for n in self.nx.nodes if n not in placed]:
            scope = self.nx.nodes[node_id]["scope"]
            here = root
            for i, part in enumerate(scope):
                here = here.children.setdefault(part, ScopeNode(tuple(scope[: i + 1])))
            here.nodes.append(node_id)
        return root

    def validate(self) -> list[str]:
        """Schema problems, in words; empty when the graph is well formed."""
        problems: list[str] = []
        for node_id, data in self.nx.nodes(data=True):
            missing = [k for k in NODE_KEYS if k not in data]
            if missing:
                problems.append(f"node {node_id!r} lacks {missing}")
            if data.get("kind") not in KINDS:
                problems.append(f"node {node_id!r} has kind {data.get('kind')!r}")
            if not isinstance(data.get("scope"), tuple):
                problems.append(f"node {node_id!r} scope is not a tuple")
            sub = data.get("subgraph")
            if sub is not None and sub not in self.subgraphs:
                problems.append(f"node {node_id!r} names a missing subgraph {sub!r}")
        for src, dst, data in self.nx.edges(data=True):
            missing = [k for k in EDGE_KEYS if k not in data]
            if missing:
                problems.append(f"edge {src!r}->{dst!r} lacks {missing}")
        if len(set(self.order)) != len(self.order):
            problems.append("order repeats a node")
        unknown = [n for n in self.order if n not in self.nx]
        if unknown:
            problems.append(f"order names unknown nodes {unknown[:5]}")
        position = {n: i for i, n in enumerate(self.order)}
        for src, dst in self.nx.edges():
            if src in position and dst in position and position[src] >= position[dst]:
                problems.append(f"order runs {dst!r} before its input {src!r}")
        for key, sub in self.subgraphs.items():
            problems.extend(f"subgraph {key}: {p}" for p in sub.validate())
        return problems

    def all_subgraphs(self) -> Iterator[tuple[str, Graph]]:
        """Every nested graph, at any depth."""
        for key, sub in self.subgraphs.items():
            yield key, sub
            yield from sub.all_subgraphs()

    # -- export -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """networkx node-link data, with name, order, meta and subgraphs in `graph`."""
        data = nx.node_link_data(self.nx, edges="edges")
        data["graph"] = {
            "name": self.name,
            "framework": self.framework,
            "order": list(self.order),
            "meta": _jsonable(self.meta),
            "subgraphs": {k: g.to_dict() for k, g in self.subgraphs.items()},
        }
        return _jsonable(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Graph:
        info = data.get("graph", {})
        graph = cls(info.get("name", ""), info.get("framework", ""))
        graph.meta = dict(info.get("meta", {}))
        g = nx.node_link_graph(data, directed=True, multigraph=True, edges="edges")
        for _, attrs in g.nodes(data=True):
            attrs["scope"] = tuple(attrs.get("scope") or ())
            attrs["outputs"] = _outputs(attrs.get("outputs"))
        for _, _, attrs in g.edges(data=True):
            attrs["shape"] = _shape(attrs.get("shape"))
        g.graph = {}  # node_link_graph shares this dict with `info`
        graph.nx = g
        graph.order = list(info.get("order", []))
        graph.subgraphs = {k: cls.from_dict(v) for k, v in info.get("subgraphs", {}).items()}
        return graph

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> Graph:
        return cls.from_dict(json.loads(text))

    def to_graphml(self) -> str:
        """GraphML; tuple-valued attributes are written as JSON strings."""
        g = nx.MultiDiGraph(name=self.name, framework=self.framework)
        position = {n: i for i, n in enumerate(self.order)}
        for node_id, attrs in self.nx.nodes(data=True):
            g.add_node(node_id, **_flat(attrs), order=position.get(node_id, -1))
        for src, dst, attrs in self.nx.edges(data=True):
            g.add_edge(src, dst, **_flat(attrs))
        return "\n".join(nx.generate_graphml(g))

    def to_dot(self) -> str:
        """Graphviz DOT, with scopes as nested clusters."""
        lines = [
            f"digraph {_dot_id(self.name or 'graph')} {{",
            "  rankdir=TB;",
            "  node [shape=box];",
        ]

        def emit(scope: ScopeNode, indent: str) -> None:
            for node_id in scope.nodes:
                d = self.nx.nodes[node_id]
                label = f"{d['label']}\\n{d['op']}"
                lines.append(f"{indent}{_dot_id(node_id)} [label={_dot_str(label)}];")
            for child in scope.children.values():
                lines.append(f"{indent}subgraph {_dot_id('cluster_' + '/'.join(child.path))} {{")
                lines.append(f"{indent}  label={_dot_str(child.name)};")
                emit(child, indent + "  ")
                lines.append(f"{indent}}}")

        emit(self.scope_tree(), "  ")
        for src, dst, d in self.nx.edges(data=True):
            attr = f" [label={_dot_str(_shape_text(d['shape']))}]" if d["shape"] is not None else ""
            lines.append(f"  {_dot_id(src)} -> {_dot_id(dst)}{attr};")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def export(self, fmt: str) -> str:
        """The graph as text in `fmt`: json, graphml or dot."""
        if fmt == "json":
            return self.to_json()
        if fmt == "graphml":
            return self.to_graphml()
        if fmt == "dot":
            return self.to_dot()
        raise ValueError(f"unknown format {fmt!r}: use json, graphml or dot")

    def summary(self) -> str:
        """One line: capture, counts, and why earlier strategies failed."""
        text = (
            f"capture={self.meta.get('capture', '?')} nodes={len(self)} "
            f"edges={self.number_of_edges()}"
        )
        for fail in self.meta.get("failures", []):
            text += f"; {fail['strategy']} failed: {fail['reason']}"
        if self.meta.get("forward_error"):
            text += f"; {self.meta['forward_error']}"
        return text


def shape_text(shape: Shape) -> str:
    """`[8, 3, 32, 32]`, with `?` for unknown dimensions."""
    return _shape_text(shape)


def _shape_text(shape: Shape) -> str:
    if shape is None:
        return "?"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _flat(attrs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if value is None:
            continue
        if isinstance(value, str | int | float | bool):
            out[key] = value
        else:
            out[key] = json.dumps(_jsonable(value))
    return out


def _dot_id(text: str) -> str:
    return _dot_str(text)


def _dot_str(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\\\\n", "\\n") + '"'
