"""Layered top-to-bottom layout of a Graph with collapsed scopes (Qt-free numpy math).

Our own vectorised Sugiyama, because no library is fast enough on wide graphs:

1. *Boxes*: each node is a box, except that a collapsed scope is one box for all
   its nodes, hidden plumbing (`hidden=True`, e.g. TF Identity) is elided with its
   edges bridged, and shared inputs (parameters, constants, inputs feeding several
   consumers) are drawn once per consumer as small stubs right above it, so they
   make no long edges.
2. *Layers*: longest path in execution order (edges that run against it, possible
   once scopes are collapsed, are reversed); what depends on no model input (weight
   reads, constant reshapes) pulled down next to its first consumer, but below what
   feeds its scope from outside, so sibling scope boxes stack without overlapping;
   long edges get one dummy node per layer crossed.
3. *Order*: barycenter sweeps over all layers at once (even layers, then odd, each
   from both neighbours), nodes of one scope kept together; the ordering with the
   fewest crossings wins.
4. *x*: each node pulled to the mean of its neighbours, then pushed apart within
   its layer (an isotonic projection done with cumulative max / min); *y* per layer,
   with room for group titles.

`prepare` reads a Graph once (the slow, Python-level part); `layout_graph` lays out
any collapsed / expanded state of it. Both are pure.
"""

from __future__ import annotations

import heapq
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inspectors.graph import Graph, shape_text

from .colors import MODULE, category

Scope = tuple[str, ...]

#: Box kinds.
NODE, SCOPE, STUB = 0, 1, 2

NODE_H = 36.0
SCOPE_H = 44.0
STUB_H = 22.0
LAYER_GAP = 34.0
NODE_SEP = 22.0
DUMMY_W = 6.0
GROUP_PAD = 12.0
TITLE_H = 20.0
CHAR_W = 6.6


@dataclass
class Prepared:
    """A Graph read into arrays: everything the layout needs that no collapse changes."""

    node_ids: list[str]
    index: dict[str, int]
    order_pos: np.ndarray  # execution position per node
    esrc: np.ndarray  # node-level edges, hidden nodes bridged
    edst: np.ndarray
    eshape: np.ndarray  # object array of edge shapes
    hidden: np.ndarray
    shared: np.ndarray  # drawn as one stub per consumer
    is_input: np.ndarray
    labels: list[str]
    ops: list[str]
    cats: np.ndarray
    label_len: np.ndarray
    node_scope: np.ndarray  # scope id per node
    scopes: list[Scope]  # scope id -> path; id 0 is the root ()
    scope_index: dict[Scope, int]
    scope_depth: np.ndarray
    anc: np.ndarray  # (scopes, max depth): id of the prefix of length d + 1, else -1
    node_group: np.ndarray  # scope id of the group a node is drawn in (no one-node groups)
    n_edges: int = 0


_CACHE: weakref.WeakKeyDictionary[Graph, tuple[tuple[int, int, bool], Prepared]] = (
    weakref.WeakKeyDictionary()
)


def prepare(graph: Graph, *, elide_hidden: bool = True, shared_min_consumers: int = 3) -> Prepared:
    """Read `graph` into arrays (cached per graph until it gains nodes or edges)."""
    # cheap to read: counting a MultiDiGraph's edges walks every node
    stamp = (len(graph), len(graph.order), elide_hidden)
    hit = _CACHE.get(graph)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    g = graph.nx
    node_ids = list(g.nodes)
    index = {v: i for i, v in enumerate(node_ids)}
    n = len(node_ids)
    attrs = [g.nodes[v] for v in node_ids]
    order_pos = np.full(n, n, dtype=np.int64)
    for pos, v in enumerate(graph.order):
        i = index.get(v)
        if i is not None:
            order_pos[i] = pos
    missing = order_pos == n
    if missing.any():
        order_pos[missing] = n + np.arange(int(missing.sum()))

    src_l: list[int] = []
    dst_l: list[int] = []
    shp_l: list[Any] = []
    for u, nbrs in g._succ.items():
        iu = index[u]
        for v, keyed in nbrs.items():
            iv = index[v]
            for data in keyed.values():
                src_l.append(iu)
                dst_l.append(iv)
                shp_l.append(data.get("shape"))
    esrc = np.asarray(src_l, dtype=np.int64)
    edst = np.asarray(dst_l, dtype=np.int64)
    hidden = np.fromiter((bool(a.get("hidden")) for a in attrs), bool, n) & elide_hidden
    if hidden.any() and len(esrc):
        esrc, edst, shp_l = _bridge_hidden(esrc, edst, shp_l, hidden, order_pos)
    eshape = np.empty(len(shp_l), dtype=object)
    eshape[:] = shp_l

    kinds = [a.get("kind", "op") for a in attrs]
    is_shared_kind = np.fromiter((k in ("param", "const") for k in kinds), bool, n)
    is_input = np.fromiter((k == "input" for k in kinds), bool, n)
    indeg = np.bincount(edst, minlength=n) if len(edst) else np.zeros(n, np.int64)
    if len(esrc):
        pairs = np.unique(esrc * n + edst)
        n_consumers = np.bincount(pairs // n, minlength=n)
    else:
        n_consumers = np.zeros(n, np.int64)
    shared = (
        (is_shared_kind | (is_input & (n_consumers >= shared_min_consumers)))
        & (indeg == 0)
        & (n_consumers > 0)
        & ~hidden
    )
    labels = [str(a.get("label") or v) for a, v in zip(attrs, node_ids, strict=True)]
    ops = [str(a.get("op") or "") for a in attrs]
    cats = np.fromiter((category(o, k) for o, k in zip(ops, kinds, strict=True)), np.int64, n)
    label_len = np.fromiter((len(t) for t in labels), np.int64, n)
    # the second line drawn up close: "op  [shape]" in a smaller font
    detail_len = np.fromiter(
        (
            len(o) + (len(shape_text(a["outputs"][0][0])) + 2 if a.get("outputs") else 0)
            for o, a in zip(ops, attrs, strict=True)
        ),
        np.int64,
        n,
    )
    label_len = np.maximum(label_len, (detail_len * 0.82).astype(np.int64))

    scope_index: dict[Scope, int] = {(): 0}
    scopes: list[Scope] = [()]
    node_scope = np.empty(n, np.int64)
    for i, a in enumerate(attrs):
        s = a.get("scope") or ()
        sid = scope_index.get(s)
        if sid is None:
            for k in range(1, len(s) + 1):
                if s[:k] not in scope_index:
                    scope_index[s[:k]] = len(scopes)
                    scopes.append(s[:k])
            sid = scope_index[s]
        node_scope[i] = sid
    depth = np.fromiter((len(s) for s in scopes), np.int64, len(scopes))
    max_d = int(depth.max()) if len(depth) else 0
    anc = np.full((len(scopes), max(max_d, 1)), -1, np.int64)
    for sid, s in enumerate(scopes):
        for k in range(1, len(s) + 1):
            anc[sid, k - 1] = scope_index[s[:k]]
    # a scope holding a single drawn node (an fx Linear module) is not worth a group
    size = np.zeros(len(scopes), np.int64)
    drawn = ~hidden & ~shared
    for d in range(anc.shape[1]):
        col = anc[node_scope[drawn], d]
        np.add.at(size, col[col >= 0], 1)
    node_group = node_scope.copy()
    for _ in range(max_d):
        single = (size[node_group] <= 1) & (depth[node_group] > 0)
        if not single.any():
            break
        g = node_group[single]
        node_group[single] = np.where(depth[g] >= 2, anc[g, np.maximum(depth[g] - 2, 0)], 0)
    prep = Prepared(
        node_ids=node_ids,
        index=index,
        order_pos=order_pos,
        esrc=esrc,
        edst=edst,
        eshape=eshape,
        hidden=hidden,
        shared=shared,
        is_input=is_input,
        labels=labels,
        ops=ops,
        cats=cats,
        label_len=label_len,
        node_scope=node_scope,
        scopes=scopes,
        scope_index=scope_index,
        scope_depth=depth,
        anc=anc,
        node_group=node_group,
        n_edges=len(esrc),
    )
    _CACHE[graph] = (stamp, prep)
    return prep


@dataclass
class Layout:
    """Where everything goes. Box arrays are indexed by box number."""

    ids: list[str]  # node id ("" for a collapsed scope box)
    kinds: np.ndarray  # NODE / SCOPE / STUB
    scopes: list[Scope]  # the collapsed scope (SCOPE) or the node's scope
    labels: list[str]
    ops: list[str]
    cats: np.ndarray  # op category (gui.colors)
    members: np.ndarray  # nodes inside the box (1 for a node)
    rects: np.ndarray  # (n, 4) x, y, w, h: top-left corner and size
    edge_src: np.ndarray  # box numbers, in the graph's direction
    edge_dst: np.ndarray
    edge_off: np.ndarray  # edge i's points are edge_pts[edge_off[i]:edge_off[i+1]]
    edge_pts: np.ndarray  # (p, 2); the last point of each edge is its arrow tip
    edge_shapes: np.ndarray  # object array: the shape carried by each edge, or None
    group_scopes: list[Scope]  # expanded scopes drawn as rectangles, parents first
    group_rects: np.ndarray  # (g, 4)
    group_depth: np.ndarray
    width: float = 0.0
    height: float = 0.0
    crossings: int = 0
    stats: dict[str, Any] = field(default_factory=dict)
    node_box: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    node_index: dict[str, int] = field(default_factory=dict)
    stub_boxes: dict[int, list[int]] = field(default_factory=dict)  # node index -> stubs
    scope_box: dict[Scope, int] = field(default_factory=dict)  # collapsed scope -> box

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def visible_count(self) -> int:
        """Boxes drawn, not counting parameter / input stubs."""
        return int(np.count_nonzero(self.kinds != STUB))

    def boxes_of(self, node_id: str) -> list[int]:
        """The boxes drawing `node_id`: its own, its stubs, or its collapsed scope."""
        i = self.node_index.get(node_id)
        if i is None:
            return []
        b = int(self.node_box[i])
        return ([b] if b >= 0 else []) + self.stub_boxes.get(i, [])

    def edge_label(self, e: int) -> str:
        shape = self.edge_shapes[e]
        return "" if shape is None else shape_text(shape)


def drawn_collapsed(scope: Scope, collapsed: set[Scope]) -> Scope | None:
    """The outermost collapsed scope containing `scope` (itself included), if any."""
    for k in range(1, len(scope) + 1):
        if scope[:k] in collapsed:
            return scope[:k]
    return None


def count_boxes(graph: Graph, depth: int) -> int:
    """Boxes drawn when every scope deeper than `depth` is collapsed (stubs excluded)."""
    prep = prepare(graph)
    keep = ~prep.hidden & ~prep.shared
    d = prep.scope_depth[prep.node_scope[keep]]
    plain = int(np.count_nonzero(d <= depth))
    deep = prep.node_scope[keep][d > depth]
    return plain + len(np.unique(prep.anc[deep, depth])) if len(deep) else plain


def scopes_deeper_than(graph: Graph, depth: int) -> set[Scope]:
    """Every scope path longer than `depth`: the collapsed set for collapse-to-depth."""
    return {s for s in prepare(graph).scopes if len(s) > depth}


def layout_graph(
    graph: Graph | Prepared,
    collapsed: set[Scope] | None = None,
    *,
    sweeps: int | None = None,
    hint_x: dict[str, float] | None = None,
) -> Layout:
    """Lay out `graph` with the scopes in `collapsed` drawn as single boxes.

    `hint_x` (node id -> x centre from an earlier layout) seeds the ordering so an
    incremental relayout keeps nodes roughly where they were.
    """
    t0 = time.perf_counter()
    p = graph if isinstance(graph, Prepared) else prepare(graph)
    collapsed = set(collapsed or ())
    n = len(p.node_ids)
    n_scopes = len(p.scopes)

    # -- boxes: plain nodes and collapsed scopes --------------------------------------
    is_coll = np.zeros(n_scopes + 1, bool)  # slot -1 stays False
    for s in collapsed:
        sid = p.scope_index.get(s)
        if sid is not None:
            is_coll[sid] = True
    anc_coll = is_coll[p.anc]
    has_top = anc_coll.any(axis=1)
    first_col = np.argmax(anc_coll, axis=1)
    top_of_scope = np.where(has_top, p.anc[np.arange(n_scopes), first_col], -1)
    node_top = top_of_scope[p.node_scope]
    visible = ~p.hidden
    plain = visible & (node_top < 0) & ~p.shared
    boxed = visible & (node_top >= 0)
    tops, top_inv = np.unique(node_top[boxed], return_inverse=True)
    top_rank = np.full(len(tops), np.iinfo(np.int64).max)
    np.minimum.at(top_rank, top_inv, p.order_pos[boxed])
    plain_idx = np.nonzero(plain)[0]
    # units sorted by execution rank: plain nodes and collapsed scopes interleaved
    unit_rank_all = np.concatenate([p.order_pos[plain_idx], top_rank])
    unit_ref = np.concatenate([plain_idx, -1 - np.arange(len(tops))])  # <0: scope box
    o = np.argsort(unit_rank_all, kind="stable")
    unit_rank = unit_rank_all[o]
    unit_ref = unit_ref[o]
    n_units = len(unit_ref)
    unit_of_ref = np.empty(n_units, np.int64)
    unit_of_ref[o] = np.arange(n_units)
    unit_of = np.full(n, -1, np.int64)
    unit_of[plain_idx] = unit_of_ref[: len(plain_idx)]
    top_unit = unit_of_ref[len(plain_idx) :]
    boxed_idx = np.nonzero(boxed)[0]
    boxed_nonshared = ~p.shared[boxed_idx]
    unit_of[boxed_idx[boxed_nonshared]] = top_unit[top_inv[boxed_nonshared]]
    node_box = unit_of.copy()
    node_box[boxed_idx] = top_unit[top_inv]
    members = np.ones(n_units, np.int64)
    members[top_unit] = np.bincount(top_inv[boxed_nonshared], minlength=len(tops))
    is_scope_unit = unit_ref < 0
    tops_ext = np.concatenate([tops, [-1]]).astype(np.int64)
    scope_of_unit = np.where(
        is_scope_unit, tops_ext[np.where(is_scope_unit, -1 - unit_ref, -1)], -1
    )
    node_of_unit = np.where(is_scope_unit, -1, unit_ref)

    # -- unit-level edges and stubs ------------------------------------------------------
    esrc, edst, eshape = p.esrc, p.edst, p.eshape
    s_shared = p.shared[esrc] if len(esrc) else np.zeros(0, bool)
    st_src = esrc[s_shared]
    st_dst = unit_of[edst[s_shared]]
    st_shape = eshape[s_shared]
    ok = st_dst >= 0
    if ok.any():
        ok &= ~is_scope_unit[np.maximum(st_dst, 0)] | p.is_input[st_src]
    st_src, st_dst, st_shape = st_src[ok], st_dst[ok], st_shape[ok]
    if len(st_src):
        _, first = np.unique(st_src * max(n_units, 1) + st_dst, return_index=True)
        first.sort()
        st_src, st_dst, st_shape = st_src[first], st_dst[first], st_shape[first]
    n_stubs = len(st_src)
    n_boxes = n_units + n_stubs
    stub_box = np.arange(n_units, n_boxes, dtype=np.int64)

    m = ~s_shared
    us, ud, ushape = unit_of[esrc[m]], unit_of[edst[m]], eshape[m]
    ok = (us >= 0) & (ud >= 0) & (us != ud)
    us, ud, ushape = us[ok], ud[ok], ushape[ok]
    if len(us):
        _, first = np.unique(us * n_units + ud, return_index=True)
        first.sort()
        us, ud, ushape = us[first], ud[first], ushape[first]

    # -- box attributes ------------------------------------------------------------------
    kinds = np.concatenate([np.where(is_scope_unit, SCOPE, NODE), np.full(n_stubs, STUB)]).astype(
        np.int8
    )
    box_node = np.concatenate([node_of_unit, st_src])  # node index or -1
    box_ids = [p.node_ids[i] if i >= 0 else "" for i in box_node.tolist()]
    box_scope_id = np.concatenate([scope_of_unit, np.full(n_stubs, -1)])
    box_scope: list[Scope] = [
        p.scopes[s] if s >= 0 else p.scopes[int(p.node_scope[i])]
        for s, i in zip(box_scope_id.tolist(), box_node.tolist(), strict=True)
    ]
    box_label = [
        p.labels[i] if i >= 0 else box_scope[b][-1] for b, i in enumerate(box_node.tolist())
    ]
    box_op = [
        p.ops[i] if i >= 0 else "/".join(box_scope[b]) for b, i in enumerate(box_node.tolist())
    ]
    cats = np.where(box_node >= 0, p.cats[np.maximum(box_node, 0)], MODULE)
    lens = np.where(
        box_node >= 0,
        p.label_len[np.maximum(box_node, 0)],
        np.fromiter((len(t) for t in box_label), np.int64, n_boxes),
    )
    width = np.where(kinds == SCOPE, np.clip((lens + 4) * CHAR_W + 22, 96, 230), 0.0)
    width = np.where(kinds == NODE, np.clip(lens * CHAR_W + 22, 64, 230), width)
    width = np.where(kinds == STUB, np.clip(lens * CHAR_W + 22, 40, 130) * 0.9, width)
    height = np.where(kinds == SCOPE, SCOPE_H, np.where(kinds == STUB, STUB_H, NODE_H))
    # group (expanded scope id) a box sits in: a collapsed box sits in its parent
    parent_of_scope = np.zeros(n_scopes, np.int64)
    d_sc = p.scope_depth
    has_parent = d_sc >= 2
    parent_of_scope[has_parent] = p.anc[np.nonzero(has_parent)[0], d_sc[has_parent] - 2]
    box_group = np.where(
        box_scope_id >= 0,
        parent_of_scope[np.maximum(box_scope_id, 0)],
        p.node_group[np.maximum(box_node, 0)],
    )
    if n_stubs:
        box_group[stub_box] = box_group[st_dst]

    # -- layering ----------------------------------------------------------------------
    rev = unit_rank[us] > unit_rank[ud]
    ls = np.where(rev, ud, us)
    ld = np.where(rev, us, ud)
    has_stub = np.zeros(n_units, bool)
    has_stub[st_dst] = True
    anchored = np.ones(n_units, bool)  # a collapsed scope box stays where it is
    plain_unit = node_of_unit >= 0
    anchored[plain_unit] = p.is_input[node_of_unit[plain_unit]]
    anchored[st_dst[p.is_input[st_src]]] = True  # fed by a model input drawn as a stub
    unit_loc = np.where(is_scope_unit, scope_of_unit, p.node_group[np.maximum(node_of_unit, 0)])
    layer_u = _longest_path(n_units, ls, ld, unit_rank, has_stub, anchored, unit_loc, p.anc)
    layer = np.concatenate([layer_u, layer_u[st_dst] - 1]).astype(np.int64)
    all_s = np.concatenate([ls, stub_box])
    all_d = np.concatenate([ld, st_dst])
    reversed_e = np.concatenate([rev, np.zeros(n_stubs, bool)])

    # -- dummy nodes for long edges ------------------------------------------------------
    span = layer[all_d] - layer[all_s]
    long_e = np.nonzero(span > 1)[0]
    n_dummy_per = span[long_e] - 1
    n_dummy = int(n_dummy_per.sum())
    total = n_boxes + n_dummy
    lay = np.concatenate([layer, np.zeros(n_dummy, np.int64)])
    w_all = np.concatenate([width, np.full(n_dummy, DUMMY_W)])
    h_all = np.concatenate([height, np.zeros(n_dummy)])
    chain_len = np.where(span > 1, span + 1, 2)
    chain_off = np.zeros(len(all_s) + 1, np.int64)
    np.cumsum(chain_len, out=chain_off[1:])
    chain = np.empty(int(chain_off[-1]), np.int64)
    chain[chain_off[:-1]] = all_s
    chain[chain_off[1:] - 1] = all_d
    dummy_edge = np.repeat(long_e, n_dummy_per)
    if n_dummy:
        starts = np.repeat(np.cumsum(n_dummy_per) - n_dummy_per, n_dummy_per)
        within = np.arange(n_dummy) - starts
        lay[n_boxes:] = layer[all_s[dummy_edge]] + within + 1
        chain[chain_off[dummy_edge] + 1 + within] = n_boxes + np.arange(n_dummy)
    seg_mask = np.ones(len(chain), bool)
    seg_mask[chain_off[1:] - 1] = False
    seg_a = chain[seg_mask]
    seg_b = chain[np.roll(seg_mask, 1)]

    # -- groups of every layout node (dummies: the common scope of their edge's ends) --
    group_all = np.concatenate(
        [box_group, _common_scope(p, box_group[all_s[dummy_edge]], box_group[all_d[dummy_edge]])]
    )
    cluster_keys = _cluster_keys(p, group_all, lay)

    # -- ordering ------------------------------------------------------------------------
    init = np.zeros(total)
    init[:n_units] = unit_rank
    if n_stubs:
        init[n_units:n_boxes] = unit_rank[st_dst] - 0.5
    if n_dummy:
        init[n_boxes:] = unit_rank[np.minimum(all_s[dummy_edge], n_units - 1)] + 0.25
    if hint_x:
        hx = np.array([hint_x.get(v, np.nan) if v else np.nan for v in box_ids], dtype=float)
        have = ~np.isnan(hx)
        if have.any():
            scale = max(1.0, float(np.nanmax(np.abs(hx))))
            init[:n_boxes][have] = hx[have] / scale * max(n, 1)
    if sweeps is None:
        sweeps = 12 if total < 8000 else (5 if total < 40000 else (3 if total < 150000 else 2))
    keep_best = total < 60000
    pos, crossings = _order(lay, init, seg_a, seg_b, cluster_keys, sweeps, keep_best)

    # -- coordinates -----------------------------------------------------------------------
    xs = _assign_x(p, lay, pos, w_all, seg_a, seg_b, group_all, n_boxes, n_units)
    ys, layer_top, layer_h = _assign_y(p, lay, h_all, box_group, n_boxes)
    rects = np.column_stack([xs[:n_boxes] - width / 2, ys[:n_boxes] - height / 2, width, height])
    edge_off, edge_pts = _polylines(
        chain, chain_off, xs, ys, h_all, layer_top, layer_h, lay, reversed_e, all_s, all_d
    )
    group_ids, group_rects = _groups(p, rects, box_group)
    group_scopes = [p.scopes[s] for s in group_ids.tolist()]
    group_depth = p.scope_depth[group_ids] if len(group_ids) else np.zeros(0, np.int64)

    # -- normalise to a positive scene -------------------------------------------------------
    lo_parts = [rects[:, :2].min(axis=0)] if n_boxes else [np.zeros(2)]
    hi_parts = [(rects[:, :2] + rects[:, 2:]).max(axis=0)] if n_boxes else [np.zeros(2)]
    if len(group_rects):
        lo_parts.append(group_rects[:, :2].min(axis=0))
        hi_parts.append((group_rects[:, :2] + group_rects[:, 2:]).max(axis=0))
    lo = np.min(lo_parts, axis=0)
    hi = np.max(hi_parts, axis=0)
    shift = 24.0 - lo
    rects[:, :2] += shift
    if len(edge_pts):
        edge_pts += shift
    if len(group_rects):
        group_rects[:, :2] += shift

    stub_boxes: dict[int, list[int]] = {}
    for b, i in zip(stub_box.tolist(), st_src.tolist(), strict=True):
        stub_boxes.setdefault(i, []).append(b)
    if p.hidden.any():
        hid = np.nonzero(p.hidden & (node_top >= 0))[0]
        if len(hid):
            tu = {int(t): int(u) for t, u in zip(tops, top_unit, strict=True)}
            for i in hid.tolist():
                node_box[i] = tu.get(int(node_top[i]), -1)
    return Layout(
        ids=box_ids,
        kinds=kinds,
        scopes=box_scope,
        labels=box_label,
        ops=box_op,
        cats=cats.astype(np.int64),
        members=np.concatenate([members, np.ones(n_stubs, np.int64)]),
        rects=rects,
        edge_src=np.concatenate([us, stub_box]),
        edge_dst=np.concatenate([ud, st_dst]),
        edge_off=edge_off,
        edge_pts=edge_pts,
        edge_shapes=np.concatenate([ushape, st_shape]),
        group_scopes=group_scopes,
        group_rects=group_rects,
        group_depth=group_depth,
        width=float(hi[0] - lo[0] + 48),
        height=float(hi[1] - lo[1] + 48),
        crossings=crossings,
        stats={
            "boxes": n_boxes,
            "stubs": n_stubs,
            "dummies": n_dummy,
            "layers": int(lay.max() + 1) if total else 0,
            "seconds": time.perf_counter() - t0,
        },
        node_box=node_box,
        node_index=p.index,
        stub_boxes=stub_boxes,
        scope_box={p.scopes[int(t)]: int(u) for t, u in zip(tops, top_unit, strict=True)},
    )


# -- steps ----------------------------------------------------------------------------


def _common_depth(p: Prepared, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Length of the common prefix of scope ids `a` and `b`, elementwise."""
    if len(a) == 0:
        return np.zeros(0, np.int64)
    aa, bb = p.anc[a], p.anc[b]
    return ((aa == bb) & (aa >= 0)).sum(axis=1)


def _common_scope(p: Prepared, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    k = _common_depth(p, a, b)
    return np.where(k > 0, p.anc[a, np.maximum(k - 1, 0)], 0) if len(a) else k


def _cluster_keys(p: Prepared, groups: np.ndarray, lay: np.ndarray) -> list[np.ndarray]:
    """Per depth d, an id per node for (layer, scope prefix of length d), -1 for none."""
    keys: list[np.ndarray] = []
    max_depth = min(6, int(p.scope_depth[groups].max()) if len(groups) else 0)
    for d in range(1, max_depth + 1):
        pref = p.anc[groups, d - 1]
        has = pref >= 0
        key = np.where(has, lay * (len(p.scopes) + 1) + pref, -1)
        _, inv = np.unique(key, return_inverse=True)
        inv = inv.astype(np.int64)
        inv[~has] = -1
        keys.append(inv)
    return keys


def _assign_x(p, lay, pos, w, seg_a, seg_b, groups, n_boxes, n_units) -> np.ndarray:
    """Centres pulled toward neighbours, then pushed apart within each layer."""
    total = len(lay)
    if total == 0:
        return np.zeros(0)
    o = np.lexsort((pos, lay))
    lay_o = lay[o]
    w_o = w[o]
    first = np.ones(total, bool)
    first[1:] = lay_o[1:] != lay_o[:-1]
    # separation between neighbours: half widths, a gap, and padding per group border
    g_o = groups[o]
    k = _common_depth(p, g_o[:-1], g_o[1:])
    d_o = p.scope_depth[g_o]
    borders = d_o[:-1] + d_o[1:] - 2 * k
    is_dummy = o >= n_boxes
    sep = np.where(is_dummy[1:] & is_dummy[:-1], 4.0, NODE_SEP)
    gap = np.zeros(total)
    gap[1:] = (w_o[1:] + w_o[:-1]) / 2 + sep + borders * GROUP_PAD
    gap[first] = 0.0
    cum = np.cumsum(gap)
    offs = cum - np.maximum.accumulate(np.where(first, cum, 0.0))
    x = np.empty(total)
    x[o] = offs - _segment_mean(offs, lay_o)

    dummy = np.arange(total) >= n_boxes
    wgt = np.where(dummy[seg_a] | dummy[seg_b], 4.0, 1.0)
    wgt = np.where(dummy[seg_a] & dummy[seg_b], 16.0, wgt)
    stub = np.zeros(total, bool)
    stub[n_units:n_boxes] = True
    # a stub pulls nobody; it only follows its consumer
    w_up = wgt * 8.0
    w_down = np.where(stub[seg_a], 0.0, wgt)
    for it in range(8):
        num = np.zeros(total)
        den = np.zeros(total)
        if it % 3 != 1:
            num += np.bincount(seg_b, weights=x[seg_a] * w_down, minlength=total)
            den += np.bincount(seg_b, weights=w_down, minlength=total)
        if it % 3 != 0:
            num += np.bincount(seg_a, weights=x[seg_b] * w_up, minlength=total)
            den += np.bincount(seg_a, weights=w_up, minlength=total)
        want = np.where(den > 0, num / np.maximum(den, 1e-12), x)
        x = _project(want, o, lay_o, offs, first)
    return x


def _assign_y(p, lay, h, box_group, n_boxes):
    """Layer centres, leaving room above a layer for the titles of groups that start there."""
    n_layers = int(lay.max()) + 1 if len(lay) else 0
    if n_layers == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    layer_h = np.zeros(n_layers)
    np.maximum.at(layer_h, lay, h)
    layer_h = np.maximum(layer_h, 8.0)
    n_scopes = len(p.scopes)
    first_l = np.full(n_scopes, n_layers, np.int64)
    last_l = np.full(n_scopes, -1, np.int64)
    lb = lay[:n_boxes]
    for d in range(p.anc.shape[1]):
        col = p.anc[box_group, d]
        has = col >= 0
        np.minimum.at(first_l, col[has], lb[has])
        np.maximum.at(last_l, col[has], lb[has])
    used = last_l >= 0
    used[0] = False
    depth = p.scope_depth
    extra = np.zeros(n_layers)
    if used.any():
        # distinct group depths starting (ending) at each layer, each needs a title (pad)
        st = np.unique(first_l[used] * (depth.max() + 1) + depth[used])
        extra += np.bincount(st // (depth.max() + 1), minlength=n_layers) * (TITLE_H + GROUP_PAD)
        en = np.unique(last_l[used] * (depth.max() + 1) + depth[used]) // (depth.max() + 1)
        en = en[en + 1 < n_layers] + 1
        extra += np.bincount(en, minlength=n_layers)[:n_layers] * GROUP_PAD
    gaps = LAYER_GAP + extra
    tops = np.cumsum(gaps + np.concatenate([[0.0], layer_h[:-1]]))
    centre = tops + layer_h / 2
    return centre[lay], tops, layer_h


def _groups(p, rects, box_group):
    """Rectangles of expanded scopes: members' bounds plus padding and a title per level."""
    n_scopes = len(p.scopes)
    if len(rects) == 0 or n_scopes <= 1:
        return np.zeros(0, np.int64), np.zeros((0, 4))
    x0, y0 = rects[:, 0], rects[:, 1]
    x1, y1 = x0 + rects[:, 2], y0 + rects[:, 3]
    gx0 = np.full(n_scopes, np.inf)
    gy0 = np.full(n_scopes, np.inf)
    gx1 = np.full(n_scopes, -np.inf)
    gy1 = np.full(n_scopes, -np.inf)
    deepest = np.zeros(n_scopes, np.int64)
    bd = p.scope_depth[box_group]
    for d in range(p.anc.shape[1]):
        col = p.anc[box_group, d]
        has = col >= 0
        c = col[has]
        np.minimum.at(gx0, c, x0[has])
        np.minimum.at(gy0, c, y0[has])
        np.maximum.at(gx1, c, x1[has])
        np.maximum.at(gy1, c, y1[has])
        np.maximum.at(deepest, c, bd[has])
    used = np.isfinite(gx0)
    used[0] = False
    ids = np.nonzero(used)[0]
    ids = ids[np.lexsort((ids, p.scope_depth[ids]))]
    below = deepest[ids] - p.scope_depth[ids]
    pad = GROUP_PAD * (below + 1)
    top = (TITLE_H + GROUP_PAD) * (below + 1)
    out = np.column_stack(
        [
            gx0[ids] - pad,
            gy0[ids] - top,
            gx1[ids] - gx0[ids] + 2 * pad,
            gy1[ids] - gy0[ids] + top + pad,
        ]
    )
    return ids, out


def _bridge_hidden(esrc, edst, labels, hidden, order_pos):
    """Replace paths through hidden nodes by direct edges between visible ends."""
    n = len(hidden)
    preds: dict[int, list[tuple[int, Any]]] = {}
    for s, d, lab in zip(esrc.tolist(), edst.tolist(), labels, strict=True):
        if hidden[d]:
            preds.setdefault(d, []).append((s, lab))
    resolved: dict[int, list[tuple[int, Any]]] = {}

    def resolve(h: int) -> list[tuple[int, Any]]:
        stack = [h]
        while stack:
            top = stack[-1]
            if top in resolved:
                stack.pop()
                continue
            todo = [p for p, _ in preds.get(top, ()) if hidden[p] and p not in resolved]
            todo = [p for p in todo if p not in stack]  # a hidden cycle ends here
            if todo:
                stack.extend(todo)
                continue
            out: list[tuple[int, Any]] = []
            for p, lab in preds.get(top, ()):
                if hidden[p]:
                    out.extend(
                        (q, lab2 if lab2 is not None else lab) for q, lab2 in resolved.get(p, [])
                    )
                else:
                    out.append((p, lab))
            resolved[top] = out
            stack.pop()
        return resolved[h]

    ns: list[int] = []
    nd: list[int] = []
    nl: list[Any] = []
    for s, d, lab in zip(esrc.tolist(), edst.tolist(), labels, strict=True):
        if hidden[d]:
            continue
        if hidden[s]:
            for q, lab2 in resolve(s):
                ns.append(q)
                nd.append(d)
                nl.append(lab if lab is not None else lab2)
        else:
            ns.append(s)
            nd.append(d)
            nl.append(lab)
    del n
    return np.asarray(ns, np.int64), np.asarray(nd, np.int64), nl


def _longest_path(n_units, ls, ld, rank, has_stub, anchored, unit_loc=None, anc=None):
    """Layer per box: longest path from the sources; what depends on no model input
    (`anchored` marks the inputs) pulled down next to its users.

    With `unit_loc` (the scope id each box is drawn in) and `anc` (scope ancestors),
    what depends on no input also starts below everything that feeds its group from
    outside, so a layer's weight reads sit inside that layer's box, under the layer
    before it, and sibling scope boxes do not overlap.
    """
    base = has_stub.astype(np.int64)
    if n_units == 0:
        return np.zeros(0, np.int64)
    if not len(ls):
        return base
    t = _EdgeTables(n_units, ls, ld)
    order = np.argsort(rank, kind="stable").tolist()
    floats = _floating(t, rank, anchored)
    if unit_loc is not None and anc is not None and floats.any():
        grouped = _grouped_forward(t, rank, base, floats, ls, ld, unit_loc, anc)
        if grouped is not None:
            layer = _pull_down(grouped, floats, t, order, base)
            if (layer[ls] < layer[ld]).all():  # tied weights could pull against an edge
                return layer
    return _pull_down(_forward(t, order, base), floats, t, order, base)


def _grouped_forward(t, rank, base, floats, ls, ld, unit_loc, anc) -> np.ndarray | None:
    """Longest path where a floating root starts below what feeds its groups from outside.

    A box with a stub also leaves room for it below those entries. Floating boxes
    are visited just before their first user (not where the framework
    happened to run them: TensorFlow reads every weight first), so by then the boxes
    entering their group have their layers. None when no group has an outside entry.
    """
    n = t.n
    fixed = ~floats[ls] & ~floats[ld]
    a, b = ls[fixed], ld[fixed]
    pairs_src: list[np.ndarray] = []
    pairs_group: list[np.ndarray] = []
    for d in range(anc.shape[1]):
        ga, gb = anc[unit_loc[a], d], anc[unit_loc[b], d]
        cross = (gb >= 0) & (gb != ga)
        pairs_src.append(a[cross])
        pairs_group.append(gb[cross])
    src = np.concatenate(pairs_src) if pairs_src else np.zeros(0, np.int64)
    if not len(src):
        return None
    group = np.concatenate(pairs_group)
    enters: dict[int, list[int]] = {}
    for p, g in zip(src.tolist(), group.tolist(), strict=True):
        enters.setdefault(p, []).append(g)
    # what starts below its groups' entries: floating roots, and boxes with a stub
    # (the stub, drawn in the layer above, must be inside the group too)
    starters = np.nonzero((floats & (t.indeg == 0)) | (base > 0))[0].tolist()
    groups_of = {u: [g for g in anc[unit_loc[u]].tolist() if g >= 0] for u in starters}
    # visiting order: floating boxes just before their first user, deepest first
    ranks = rank.astype(np.float64)
    eff = ranks.copy()
    step = 1.0 / (2 * (n + 1))
    users, ub = t.users, t.user_bounds
    eff_l = eff.tolist()
    for u in sorted(np.nonzero(floats)[0].tolist(), key=eff_l.__getitem__, reverse=True):
        first = users[ub[u] : ub[u + 1]]
        if first:
            eff_l[u] = min(eff_l[v] for v in first) - step
    visit = np.argsort(np.asarray(eff_l), kind="stable").tolist()
    return _forward(t, visit, base, groups_of, enters, anc.shape[0])


class _EdgeTables:
    """Predecessors and users of each box, as Python lists (the passes are Python loops)."""

    def __init__(self, n_units: int, ls: np.ndarray, ld: np.ndarray) -> None:
        self.n = n_units
        by_dst = np.argsort(ld, kind="stable")
        self.preds = ls[by_dst].tolist()
        self.pred_bounds = np.searchsorted(ld[by_dst], np.arange(n_units + 1)).tolist()
        by_src = np.argsort(ls, kind="stable")
        self.users = ld[by_src].tolist()
        self.user_bounds = np.searchsorted(ls[by_src], np.arange(n_units + 1)).tolist()
        self.indeg = np.bincount(ld, minlength=n_units)


def _forward(
    t: _EdgeTables,
    order: list[int],
    floor: np.ndarray,
    groups_of: dict[int, list[int]] | None = None,
    enters: dict[int, list[int]] | None = None,
    n_scopes: int = 0,
) -> np.ndarray:
    """Longest path in `order`, each box at least at its `floor`; a box in `groups_of`
    also below the last box seen entering any of its groups (`enters`: box -> the
    groups it feeds from outside)."""
    layer = floor.tolist()
    stub = layer[:] if groups_of else layer
    groups_of = groups_of or {}
    enters = enters or {}
    entry = [-1] * n_scopes
    preds, bounds = t.preds, t.pred_bounds
    for u in order:
        a, b = bounds[u], bounds[u + 1]
        if a != b:
            best = max([layer[p] for p in preds[a:b]]) + 1
            if best > layer[u]:
                layer[u] = best
        if u in groups_of:
            start = max([entry[g] for g in groups_of[u]], default=-1)
            if start >= 0 and start + 1 + stub[u] > layer[u]:
                layer[u] = start + 1 + stub[u]  # its stub goes in the layer above it
        for g in enters.get(u, ()):
            if layer[u] > entry[g]:
                entry[g] = layer[u]
    return np.asarray(layer, np.int64)


def _floating(t: _EdgeTables, rank: np.ndarray, anchored: np.ndarray) -> np.ndarray:
    """Boxes that depend on no model input: a parameter's read, a constant's reshape,
    a shape computed from constants. A box floats when every predecessor floats: only
    users of floating boxes need a look, in execution order (a Python pass over few
    boxes: parameter reads mostly)."""
    floating = (t.indeg == 0) & ~anchored
    floats = floating.tolist()
    ranks = rank.tolist()
    users, ub, preds, pb = t.users, t.user_bounds, t.preds, t.pred_bounds
    heap = [
        (ranks[v], v) for u in np.nonzero(floating)[0].tolist() for v in users[ub[u] : ub[u + 1]]
    ]
    heapq.heapify(heap)
    seen = {v for _, v in heap}
    while heap:
        _, u = heapq.heappop(heap)
        if floats[u] or not all(floats[q] for q in preds[pb[u] : pb[u + 1]]):
            continue
        floats[u] = True
        for v in users[ub[u] : ub[u + 1]]:
            if v not in seen:
                seen.add(v)
                heapq.heappush(heap, (ranks[v], v))
    return np.asarray(floats, bool)


def _pull_down(out, floats, t: _EdgeTables, order: list[int], lo: np.ndarray) -> np.ndarray:
    """Floating boxes just above their first user, deepest first: a layer's weights sit
    beside that layer, not beside the network's first ops. An unused one (a dead
    constant) goes beside what runs after it."""
    movable = np.nonzero(floats)[0]
    if not len(movable):
        return out
    place = {u: i for i, u in enumerate(order)}
    users, ub = t.users, t.user_bounds
    layer = out.tolist()
    low = lo.tolist()
    for u in sorted(movable.tolist(), key=place.__getitem__, reverse=True):
        a, b = ub[u], ub[u + 1]
        if a != b:
            layer[u] = max(min([layer[v] for v in users[a:b]]) - 1, layer[u], low[u])
        elif place[u] + 1 < t.n:
            layer[u] = max(layer[order[place[u] + 1]], layer[u])
    return np.asarray(layer, np.int64)


def _order(lay, init, seg_a, seg_b, cluster_keys, sweeps, keep_best=True):
    """Barycenter sweeps over all layers at once; the ordering with fewest crossings."""
    total = len(lay)
    if total == 0:
        return np.zeros(0, np.int64), 0
    counts = np.bincount(lay)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = _sorted_positions(lay, init.astype(float), cluster_keys, starts)
    best = pos.copy()
    best_c = count_crossings(lay, pos, seg_a, seg_b) if keep_best else -1
    parity = lay % 2
    deg_b = np.bincount(seg_b, minlength=total).astype(float)
    deg_a = np.bincount(seg_a, minlength=total).astype(float)
    for it in range(sweeps):
        # two-sided barycenter; alternate which side counts double
        w_down, w_up = (2.0, 1.0) if it % 2 == 0 else (1.0, 2.0)
        den = deg_b * w_down + deg_a * w_up
        for half in (0, 1):
            p = pos.astype(float)
            num = np.bincount(seg_b, weights=p[seg_a], minlength=total) * w_down
            num += np.bincount(seg_a, weights=p[seg_b], minlength=total) * w_up
            bary = np.where((den > 0) & (parity == half), num / np.maximum(den, 1e-9), p)
            pos = _sorted_positions(lay, bary + p * 1e-6, cluster_keys, starts)
        if not keep_best:
            best = pos
            continue
        c = count_crossings(lay, pos, seg_a, seg_b)
        if c < best_c:
            best, best_c = pos.copy(), c
        if best_c == 0:
            break
    return best, int(best_c)


def _sorted_positions(lay, bary, cluster_keys, starts) -> np.ndarray:
    """Position in its layer of each node, layers sorted by scope cluster then barycenter.

    A cluster (the nodes of one scope in one layer) is placed by its mean barycenter,
    outermost scope first, so scopes stay contiguous and their groups do not overlap.
    """
    keys = [bary]
    for ck in reversed(cluster_keys):
        has = ck >= 0
        if not has.any():
            continue
        sums = np.bincount(ck[has], weights=bary[has])
        cnt = np.bincount(ck[has])
        mean = sums / np.maximum(cnt, 1)
        keys.append(np.where(has, mean[np.maximum(ck, 0)] + ck * 1e-9, bary))
    keys.append(lay)
    o = np.lexsort(tuple(keys))  # the last key is the primary one
    pos = np.empty(len(lay), np.int64)
    pos[o] = np.arange(len(lay)) - starts[lay[o]]
    return pos


def count_crossings(lay, pos, seg_a, seg_b) -> int:
    """Edge crossings between adjacent layers: inversions, counted by vectorised merges."""
    if len(seg_a) < 2:
        return 0
    la = lay[seg_a]
    pb = pos[seg_b]
    o = np.lexsort((pb, pos[seg_a], la))
    group = la[o]
    key = pb[o].astype(np.int64)
    m = len(key)
    bounds = np.concatenate([[0], np.nonzero(np.diff(group))[0] + 1, [m]])
    lens = np.diff(bounds)
    seg_start = np.repeat(bounds[:-1], lens)
    seg_len = np.repeat(lens, lens)
    r = np.arange(m) - seg_start
    kmax = int(key.max()) + 2
    total = 0
    b = 1
    longest = int(lens.max())
    while b < longest:
        pair_start = (r // (2 * b)) * (2 * b)
        side = (r - pair_start) >= b
        gid = seg_start + pair_start
        comp = (gid * kmax + key) * 2 + side
        perm = np.argsort(comp, kind="stable")
        inv = np.empty(m, np.int64)
        inv[perm] = np.arange(m)
        rs = np.nonzero(side)[0]
        if len(rs):
            merged = inv[rs] - gid[rs]  # position inside the merged pair block
            rank_r = r[rs] - pair_start[rs] - b
            left_le = merged - rank_r
            n_left = np.minimum(b, seg_len[rs] - pair_start[rs])
            total += int((n_left - left_le).sum())
        key = key[perm]
        b *= 2
    return total


def _segment_mean(values: np.ndarray, seg: np.ndarray) -> np.ndarray:
    sums = np.bincount(seg, weights=values)
    cnt = np.bincount(seg)
    return (sums / np.maximum(cnt, 1))[seg]


def _project(want, o, lay_o, offs, first) -> np.ndarray:
    """Closest ordered, non-overlapping centres: cumulative max and min, averaged."""
    y = want[o] - offs
    span = float(np.abs(y).max() + 1.0) * 4.0
    lift = lay_o * span
    up = np.maximum.accumulate(y + lift) - lift
    down = (np.minimum.accumulate((y + lift)[::-1]) - lift[::-1])[::-1]
    del first
    res = np.empty(len(want))
    res[o] = (up + down) / 2 + offs
    return res


def _polylines(chain, chain_off, xs, ys, h, layer_top, layer_h, lay, reversed_e, all_s, all_d):
    """Edge points: source bottom, through each dummy's layer, to the target top."""
    n_e = len(chain_off) - 1
    if n_e == 0:
        return np.zeros(1, np.int64), np.zeros((0, 2))
    # ports: spread the ends of several edges along a box's top / bottom
    sx = xs[all_s]
    dx = xs[all_d]
    out_off = _port_offsets(all_s, dx)
    in_off = _port_offsets(all_d, sx)
    interior = chain_off[1:] - chain_off[:-1] - 2  # dummies per edge
    n_pts = 2 + 2 * interior
    off = np.zeros(n_e + 1, np.int64)
    np.cumsum(n_pts, out=off[1:])
    pts = np.empty((int(off[-1]), 2))
    pts[off[:-1], 0] = sx + out_off
    pts[off[:-1], 1] = ys[all_s] + h[all_s] / 2
    pts[off[1:] - 1, 0] = dx + in_off
    pts[off[1:] - 1, 1] = ys[all_d] - h[all_d] / 2
    has = interior > 0
    if has.any():
        e = np.repeat(np.arange(n_e)[has], interior[has])
        k = np.arange(len(e)) - np.repeat(np.cumsum(interior[has]) - interior[has], interior[has])
        node = chain[chain_off[e] + 1 + k]
        base = off[e] + 1 + 2 * k
        lt = layer_top[lay[node]]
        pts[base, 0] = xs[node]
        pts[base, 1] = lt
        pts[base + 1, 0] = xs[node]
        pts[base + 1, 1] = lt + layer_h[lay[node]]
    # reversed edges: flip so the arrow tip (last point) is the real target
    for i in np.nonzero(reversed_e)[0].tolist():
        pts[off[i] : off[i + 1]] = pts[off[i] : off[i + 1]][::-1].copy()
    return off, pts


def _port_offsets(owner: np.ndarray, other_x: np.ndarray) -> np.ndarray:
    """Offsets spreading the edges of one box by the x of their other end."""
    o = np.lexsort((other_x, owner))
    own = owner[o]
    cnt = np.bincount(owner)
    first = np.concatenate([[0], np.cumsum(cnt)[:-1]])
    rank = np.arange(len(o)) - first[own]
    k = cnt[own]
    off = np.empty(len(o))
    off[o] = (rank - (k - 1) / 2) * np.minimum(10.0, 40.0 / np.maximum(k, 1))
    return off
