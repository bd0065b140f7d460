"""Compare two captured graphs: which nodes and edges they share, and where they part.

Two recordings of one dynamic model name their ops by position (`op_0007`), so a
branch taken early shifts every later id: nodes are matched by what they are (kind,
op, scope, and the name of a parameter or input) aligned along the execution order,
like lines in a text diff. `match_layers` pairs the layers of a PyTorch and a Keras
version of one model, and `numeric_diff` compares the values two runs gave.
"""

from __future__ import annotations

import bisect
import difflib
import math
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inspectors.graph import Graph

Edge = tuple[str, str]

#: Above this many key comparisons a region is split before the quadratic alignment.
_ALIGN_BUDGET = 250_000

#: Kinds whose nodes are told apart by name (`fc1.weight`, `x`), not by position alone.
_NAMED_KINDS = ("input", "param", "const", "output")


@dataclass
class GraphDiff:
    """Nodes and edges only in A, only in B, and common to both (as A/B id pairs).

    Lists follow A's (or B's) execution order, then the nodes outside it by id.
    """

    only_a: list[str]
    only_b: list[str]
    common: list[tuple[str, str]]
    edges_only_a: list[Edge]
    edges_only_b: list[Edge]
    edges_common: list[tuple[Edge, Edge]]
    order_a: list[str] = field(default_factory=list, repr=False)
    order_b: list[str] = field(default_factory=list, repr=False)

    def summary(self) -> dict[str, int]:
        """Counts of every list, and the node / distinct edge totals of each graph."""
        return {
            "nodes_a": len(self.only_a) + len(self.common),
            "nodes_b": len(self.only_b) + len(self.common),
            "only_a": len(self.only_a),
            "only_b": len(self.only_b),
            "common": len(self.common),
            "edges_a": len(self.edges_only_a) + len(self.edges_common),
            "edges_b": len(self.edges_only_b) + len(self.edges_common),
            "edges_only_a": len(self.edges_only_a),
            "edges_only_b": len(self.edges_only_b),
            "edges_common": len(self.edges_common),
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data: the six lists (pairs as 2-lists), `summary` and `first_divergence`."""
        first_a, first_b = self.first_divergence()
        return {
            "only_a": list(self.only_a),
            "only_b": list(self.only_b),
            "common": [[a, b] for a, b in self.common],
            "edges_only_a": [[s, d] for s, d in self.edges_only_a],
            "edges_only_b": [[s, d] for s, d in self.edges_only_b],
            "edges_common": [[[a[0], a[1]], [b[0], b[1]]] for a, b in self.edges_common],
            "summary": self.summary(),
            "first_divergence": {"a": first_a, "b": first_b},
        }

    def first_divergence(self) -> tuple[str | None, str | None]:
        """The first node of each execution that has no counterpart: where the runs part.

        None on a side whose every executed node is matched (its run is a prefix or a
        copy of the other's).
        """
        unmatched_a, unmatched_b = set(self.only_a), set(self.only_b)
        first_a = next((n for n in self.order_a if n in unmatched_a), None)
        first_b = next((n for n in self.order_b if n in unmatched_b), None)
        if not self.order_a and not self.order_b:  # built by hand: lists are in order
            first_a = self.only_a[0] if self.only_a else None
            first_b = self.only_b[0] if self.only_b else None
        return first_a, first_b


def node_key(graph: Graph, node_id: str) -> tuple[Any, ...]:
    """What a node is, regardless of its id: kind, op, scope (and name for named kinds)."""
    data = graph.node(node_id)
    kind = data.get("kind")
    key: tuple[Any, ...] = (kind, str(data.get("op")), tuple(data.get("scope") or ()))
    if kind in _NAMED_KINDS:
        key += (str(data.get("target") or data.get("label") or node_id),)
    return key


def diff_graphs(a: Graph, b: Graph) -> GraphDiff:
    """Match `a` and `b` node by node along their execution orders, then compare edges."""
    order_a = _ordered(a)
    order_b = _ordered(b)
    in_a, in_b = set(order_a), set(order_b)
    keys_a = [node_key(a, n) for n in order_a]
    keys_b = [node_key(b, n) for n in order_b]

    pairs = [(order_a[i], order_b[j]) for i, j in align(keys_a, keys_b)]
    matched_a = {x for x, _ in pairs}
    matched_b = {y for _, y in pairs}

    # Nodes outside the execution order (rare: unused params, dead constants) pair by key.
    rest_a = sorted(n for n in a.nx.nodes if n not in in_a)
    rest_b = sorted(n for n in b.nx.nodes if n not in in_b)
    waiting: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for n in rest_b:
        waiting[node_key(b, n)].append(n)
    for n in rest_a:
        bucket = waiting.get(node_key(a, n))
        if bucket:
            partner = bucket.pop(0)
            pairs.append((n, partner))
            matched_a.add(n)
            matched_b.add(partner)

    to_b = dict(pairs)
    edges_a = _distinct_edges(a, order_a + rest_a)
    edges_b = _distinct_edges(b, order_b + rest_b)
    set_b = set(edges_b)
    edges_common: list[tuple[Edge, Edge]] = []
    edges_only_a: list[Edge] = []
    common_b: set[Edge] = set()
    for src, dst in edges_a:
        mapped = (to_b.get(src), to_b.get(dst))
        if mapped[0] is not None and mapped[1] is not None and mapped in set_b:
            edge_b = (mapped[0], mapped[1])
            edges_common.append(((src, dst), edge_b))
            common_b.add(edge_b)
        else:
            edges_only_a.append((src, dst))

    return GraphDiff(
        only_a=[n for n in order_a + rest_a if n not in matched_a],
        only_b=[n for n in order_b + rest_b if n not in matched_b],
        common=pairs,
        edges_only_a=edges_only_a,
        edges_only_b=[e for e in edges_b if e not in common_b],
        edges_common=edges_common,
        order_a=order_a,
        order_b=order_b,
    )


def _ordered(graph: Graph) -> list[str]:
    """The execution order, without repeats or ids the graph does not hold."""
    return [n for n in dict.fromkeys(graph.order) if n in graph.nx]


def _distinct_edges(graph: Graph, nodes: list[str]) -> list[Edge]:
    """Distinct (src, dst) pairs, by the position of src then dst in `nodes`."""
    rank = {n: i for i, n in enumerate(nodes)}
    return sorted(set(graph.nx.edges()), key=lambda e: (rank[e[0]], rank[e[1]]))


# ------------------------------------------------------------------------- alignment


def align(a: Sequence[Hashable], b: Sequence[Hashable]) -> list[tuple[int, int]]:
    """Index pairs (i, j) with a[i] == b[j], increasing on both sides: a text-diff alignment.

    A common prefix and suffix are taken first (two runs of one model mostly agree);
    a small middle goes to difflib's longest-matching-block search, a large one is first
    cut at keys unique on both sides (patience diff), so 10k-node graphs stay fast.
    """
    out: list[tuple[int, int]] = []
    _align(a, b, 0, len(a), 0, len(b), out)
    return out


def _align(
    a: Sequence[Hashable],
    b: Sequence[Hashable],
    a0: int,
    a1: int,
    b0: int,
    b1: int,
    out: list[tuple[int, int]],
) -> None:
    head: list[tuple[int, int]] = []
    while a0 < a1 and b0 < b1 and a[a0] == b[b0]:
        head.append((a0, b0))
        a0, b0 = a0 + 1, b0 + 1
    tail: list[tuple[int, int]] = []
    while a0 < a1 and b0 < b1 and a[a1 - 1] == b[b1 - 1]:
        a1, b1 = a1 - 1, b1 - 1
        tail.append((a1, b1))
    out.extend(head)
    if a0 < a1 and b0 < b1:
        if (a1 - a0) * (b1 - b0) <= _ALIGN_BUDGET:
            matcher = difflib.SequenceMatcher(None, a[a0:a1], b[b0:b1], autojunk=False)
            for i, j, size in matcher.get_matching_blocks():
                out.extend((a0 + i + k, b0 + j + k) for k in range(size))
        elif anchors := _unique_anchors(a, b, a0, a1, b0, b1):
            i, j = a0, b0
            for ai, bj in anchors:
                _align(a, b, i, ai, j, bj, out)
                out.append((ai, bj))
                i, j = ai + 1, bj + 1
            _align(a, b, i, a1, j, b1, out)
        else:  # a long repetitive stretch with no landmark: align it piece by piece
            pieces = math.ceil(max(a1 - a0, b1 - b0) / math.isqrt(_ALIGN_BUDGET))
            for p in range(pieces):
                _align(
                    a,
                    b,
                    a0 + (a1 - a0) * p // pieces,
                    a0 + (a1 - a0) * (p + 1) // pieces,
                    b0 + (b1 - b0) * p // pieces,
                    b0 + (b1 - b0) * (p + 1) // pieces,
                    out,
                )
    out.extend(reversed(tail))


def _unique_anchors(
    a: Sequence[Hashable], b: Sequence[Hashable], a0: int, a1: int, b0: int, b1: int
) -> list[tuple[int, int]]:
    """Keys occurring once in each range, kept where their order agrees (longest run)."""
    count_a: dict[Hashable, int] = defaultdict(int)
    where_a: dict[Hashable, int] = {}
    for i in range(a0, a1):
        count_a[a[i]] += 1
        where_a[a[i]] = i
    count_b: dict[Hashable, int] = defaultdict(int)
    where_b: dict[Hashable, int] = {}
    for j in range(b0, b1):
        count_b[b[j]] += 1
        where_b[b[j]] = j
    candidates = sorted(
        (where_a[k], where_b[k]) for k in count_a if count_a[k] == 1 and count_b.get(k) == 1
    )
    return _longest_increasing(candidates)


def _longest_increasing(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest subsequence of `pairs` (sorted by first item) increasing in the second."""
    if not pairs:
        return []
    tails: list[int] = []  # smallest second item ending a run of each length
    tail_at: list[int] = []  # index into pairs of that item
    back = [-1] * len(pairs)
    for k, (_, j) in enumerate(pairs):
        pos = bisect.bisect_left(tails, j)
        if pos == len(tails):
            tails.append(j)
            tail_at.append(k)
        else:
            tails[pos] = j
            tail_at[pos] = k
        back[k] = tail_at[pos - 1] if pos else -1
    run = []
    k = tail_at[-1]
    while k != -1:
        run.append(pairs[k])
        k = back[k]
    return run[::-1]


# ---------------------------------------------------------------------- layer matching

#: Op and module names (lower case, no underscores) by layer family, across frameworks.
_FAMILIES: dict[str, tuple[str, ...]] = {
    "linear": ("linear", "addmm", "mm", "matmul", "batchmatmul", "batchmatmulv2", "dense"),
    "conv": ("conv1d", "conv2d", "conv3d", "convolution", "depthwiseconv2dnative"),
    "convtranspose": ("convtranspose1d", "convtranspose2d", "convtranspose3d"),
    "maxpool": ("maxpool", "maxpool1d", "maxpool2d", "maxpool3d", "maxpoolv2"),
    "avgpool": ("avgpool", "avgpool1d", "avgpool2d", "avgpool3d", "adaptiveavgpool2d"),
    "reshape": ("flatten", "reshape", "view", "unsafeview"),
    "batchnorm": (
        "batchnorm",
        "batchnorm1d",
        "batchnorm2d",
        "batchnorm3d",
        "fusedbatchnormv3",
        "nativebatchnorm",
    ),
    "layernorm": ("layernorm", "nativelayernorm"),
    "embedding": ("embedding", "resourcegather"),
    "dropout": ("dropout",),
    "relu": ("relu",),
    "relu6": ("relu6", "hardtanh"),
    "leakyrelu": ("leakyrelu",),
    "tanh": ("tanh",),
    "sigmoid": ("sigmoid",),
    "softmax": ("softmax",),
    "logsoftmax": ("logsoftmax",),
    "gelu": ("gelu",),
    "elu": ("elu",),
    "selu": ("selu",),
    "silu": ("silu", "swish"),
    "softplus": ("softplus",),
}
_FAMILY_OF = {name: family for family, names in _FAMILIES.items() for name in names}


def layer_family(op: str) -> str | None:
    """`Linear`, `aten.linear.default`, `MatMul` -> `linear`; None for non-layer ops."""
    name = str(op).split("::")[-1]
    if name.startswith("aten."):
        name = name[len("aten.") :].split(".")[0]
    name = name.rsplit(".", 1)[-1].lower().rstrip("_").replace("_", "")
    return _FAMILY_OF.get(name)


def layers(graph: Graph) -> list[tuple[str, str]]:
    """The layer sequence of a graph as (family, representative node), in execution order.

    Only nodes that depend on a model input count (a Keras layer's ReadVariableOp or
    bias Reshape do not). Consecutive nodes of one family in one scope are one layer,
    represented by the first (a layer's MatMul, not the MatMul of its bias).
    """
    order = _ordered(graph)
    fed = {n for n in order if graph.node(n).get("kind") == "input"}
    out: list[tuple[str, str]] = []
    last: tuple[str, tuple[str, ...]] | None = None
    for n in order:
        data = graph.node(n)
        if n not in fed:
            if not any(p in fed for p in graph.nx.predecessors(n)):
                continue
            fed.add(n)
        if data.get("kind") not in ("op", "module"):
            continue
        family = layer_family(str(data.get("op")))
        if family is None:
            continue
        here = (family, tuple(data.get("scope") or ()))
        if here != last:
            out.append((family, n))
        last = here
    return out


def match_layers(a: Graph, b: Graph) -> list[tuple[str, str]]:
    """Pairs (a node, b node) of corresponding layers, e.g. torch `fc1` with Keras fc1's MatMul.

    The two layer sequences (see `layers`) are aligned by family in execution order, so
    `fc1` goes with the first Dense and `fc2` with the second, whatever they are named.
    """
    la, lb = layers(a), layers(b)
    pairs = align([f for f, _ in la], [f for f, _ in lb])
    return [(la[i][1], lb[j][1]) for i, j in pairs]


# ------------------------------------------------------------------------ numeric diff


def numeric_diff(
    a: dict[str, np.ndarray], b: dict[str, np.ndarray], pairs: list[tuple[str, str]]
) -> dict[str, tuple[float, float]]:
    """Per A node: (max absolute difference, max relative error) against its B partner.

    The relative error of one element is |a - b| / max(|a|, |b|) (0 where both are 0).
    NaN against NaN and equal infinities count as equal; a shape mismatch or NaN
    against a number gives (inf, inf). Pairs whose value is missing on a side are left out.
    """
    out: dict[str, tuple[float, float]] = {}
    for a_id, b_id in pairs:
        if a_id not in a or b_id not in b:
            continue
        out[a_id] = _compare(np.asarray(a[a_id]), np.asarray(b[b_id]))
    return out


def _compare(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    if x.shape != y.shape:
        return math.inf, math.inf
    if x.size == 0:
        return 0.0, 0.0
    try:
        xf = x.astype(np.float64)
        yf = y.astype(np.float64)
    except (TypeError, ValueError):
        same = bool(np.array_equal(x, y))
        return (0.0, 0.0) if same else (math.inf, math.inf)
    equal = (xf == yf) | (np.isnan(xf) & np.isnan(yf))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        diff = np.abs(xf - yf)
        diff = np.where(equal, 0.0, np.where(np.isnan(diff), np.inf, diff))
        scale = np.maximum(np.abs(xf), np.abs(yf))
        rel = np.where(diff == 0.0, 0.0, diff / np.where(scale == 0.0, 1.0, scale))
        rel = np.where(np.isnan(rel), np.inf, rel)
    return float(diff.max()), float(rel.max())
