"""Layered top-to-bottom layout of a Graph with collapsed scopes (Qt-free numpy math).

Our own vectorised Sugiyama, because no library is fast enough on wide graphs:

1. *Boxes*: each node is a box, except that a collapsed scope is one box for all
   its nodes, hidden plumbing (`hidden=True`, e.g. TF Identity) is elided with its
   edges bridged, and shared inputs (parameters, constants, inputs feeding several
   consumers) are drawn once per consumer as small stubs right above it, so they
   make no long edges. A collapsed scope holding nothing but stubs draws no box.
2. *Layers*: longest path in execution order, except that no edge runs backwards (a
   collapsed scope comes after what feeds it; only a real cycle between collapsed
   scopes is broken); a scope starts below what feeds it from outside, so scopes
   that follow one another stack instead of standing side by side; what depends on
   no model input (weight reads, constant reshapes; a collapsed scope of them too)
   is pulled down next to its first consumer, inside that consumer's scope. Long
   edges get one dummy node per layer crossed, drawn in the deepest scope of either
   end that spans that layer: an edge enters its target's box as soon as it can.
3. *Order*: small graphs get dot's layer-by-layer barycenter sweeps (down and up,
   from two starts), large ones sweeps over all layers at once (even layers, then
   odd); then dot's transpose step, vectorised. A scope is kept together in each
   layer and two sibling scopes keep the same left-to-right order in all their
   layers, so every expanded scope can be drawn as a rectangle (`layout_place`).
4. *Coordinates* (`gui.graph.layout_place`): x by projection onto separation constraints
   with each group's borders and each straight run of edges shared across layers;
   y per layer with room for the groups' titles and padding; edge routes that run
   vertically through layers and bend between them (`edge_curves` draws the bends as
   curves). No box overlaps another or leaves its group, and no edge crosses a box:
   `gui.graph.layout_metrics` measures it and bench/layout_quality.py compares with dot.

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

from gui.graph.colors import MODULE, category
from gui.graph.layout_place import assign_x, assign_y, fillers, find_groups, routes
from inspectors.graph import Graph, shape_text

Scope = tuple[str, ...]

#: Box kinds.
NODE, SCOPE, STUB = 0, 1, 2

NODE_H = 36.0
SCOPE_H = 44.0
STUB_H = 22.0
DUMMY_W = 6.0
#: Layouts of up to this many items (boxes, dummies) are ordered layer by layer.
SEQUENTIAL_MAX = 6000
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
    shape_len: dict[Any, int] = {}  # most nodes share a few shapes

    def detail(op: str, outputs: Any) -> int:
        if not outputs:
            return len(op)
        shape = outputs[0][0]
        try:
            k = shape_len.get(shape)
        except TypeError:  # an unhashable shape (a list)
            return len(op) + len(shape_text(shape)) + 2
        if k is None:
            k = shape_len[shape] = len(shape_text(shape))
        return len(op) + k + 2

    detail_len = np.fromiter(
        (detail(o, a.get("outputs")) for o, a in zip(ops, attrs, strict=True)), np.int64, n
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
    cats: np.ndarray  # op category (gui.graph.colors)
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
    # index into group_rects of the innermost group each box is drawn in, -1 for none
    box_groups: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

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
    # a collapsed scope is drawn when it holds something besides stubs (a module whose
    # only nodes are its parameters, used elsewhere, draws no empty box)
    boxed = visible & (node_top >= 0) & ~p.shared
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
    unit_of[boxed_idx] = top_unit[top_inv]
    node_box = unit_of.copy()
    # a shared node inside a collapsed scope belongs to that scope's box, if it has one
    sh = np.nonzero(visible & (node_top >= 0) & p.shared)[0]
    if len(sh) and len(tops):
        at = np.minimum(np.searchsorted(tops, node_top[sh]), len(tops) - 1)
        found = tops[at] == node_top[sh]
        node_box[sh[found]] = top_unit[at[found]]
    members = np.ones(n_units, np.int64)
    members[top_unit] = np.bincount(top_inv, minlength=len(tops))
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
    box_node_l = box_node.tolist()
    box_scope_id = np.concatenate([scope_of_unit, np.full(n_stubs, -1)])
    scope_ids = np.where(box_scope_id >= 0, box_scope_id, p.node_scope[np.maximum(box_node, 0)])
    box_scope: list[Scope] = [p.scopes[s] for s in scope_ids.tolist()]
    node_ids, labels, ops = p.node_ids, p.labels, p.ops
    if len(tops):
        box_ids = [node_ids[i] if i >= 0 else "" for i in box_node_l]
        box_label = [labels[i] if i >= 0 else box_scope[b][-1] for b, i in enumerate(box_node_l)]
        box_op = [ops[i] if i >= 0 else "/".join(box_scope[b]) for b, i in enumerate(box_node_l)]
    else:  # no collapsed scope: every box draws a node
        box_ids = [node_ids[i] for i in box_node_l]
        box_label = [labels[i] for i in box_node_l]
        box_op = [ops[i] for i in box_node_l]
    cats = np.where(box_node >= 0, p.cats[np.maximum(box_node, 0)], MODULE)
    lens = p.label_len[np.maximum(box_node, 0)]
    for b in np.nonzero(box_node < 0)[0].tolist():
        lens[b] = len(box_label[b])
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
    # execution order, except that an edge never runs backwards: a collapsed scope is
    # ranked after everything that feeds it (its parameters may have run first)
    unit_order = _topological_rank(n_units, us, ud, unit_rank)
    rev = unit_order[us] > unit_order[ud]
    ls = np.where(rev, ud, us)
    ld = np.where(rev, us, ud)
    has_stub = np.zeros(n_units, bool)
    has_stub[st_dst] = True
    plain_unit = node_of_unit >= 0
    anchored = np.zeros(n_units, bool)
    anchored[plain_unit] = p.is_input[node_of_unit[plain_unit]]
    if len(tops):
        # a collapsed scope stays up only when it holds a model input: one holding
        # weight reads and constants floats down to its first user, like a weight read
        holds_input = np.zeros(len(tops), bool)
        np.logical_or.at(holds_input, top_inv, p.is_input[boxed_idx])
        anchored[top_unit] |= holds_input
    anchored[st_dst[p.is_input[st_src]]] = True  # fed by a model input drawn as a stub
    unit_loc = np.where(is_scope_unit, scope_of_unit, p.node_group[np.maximum(node_of_unit, 0)])
    layer_u, floats = _longest_path(
        n_units, ls, ld, unit_order, has_stub, anchored, unit_loc, p.anc
    )
    layer = np.concatenate([layer_u, layer_u[st_dst] - 1]).astype(np.int64)
    all_s = np.concatenate([ls, stub_box])
    all_d = np.concatenate([ld, st_dst])
    reversed_e = np.concatenate([rev, np.zeros(n_stubs, bool)])

    # -- dummy nodes for long edges ------------------------------------------------------
    span = layer[all_d] - layer[all_s]
    long_e = np.nonzero(span > 1)[0]
    n_dummy_per = span[long_e] - 1
    n_dummy = int(n_dummy_per.sum())
    lay = np.concatenate([layer, np.zeros(n_dummy, np.int64)])
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

    # -- groups: every layout node's ---------------------------------------------------
    group_all = np.concatenate(
        [
            box_group,
            _dummy_groups(p, box_group, layer, all_s[dummy_edge], all_d[dummy_edge], lay[n_boxes:]),
        ]
    )
    groups = find_groups(p.anc, p.scope_depth, group_all, lay)
    fill_g, fill_r = fillers(groups, lay)
    n_fill = len(fill_g)
    if n_fill:  # an empty item wherever a group spans a layer holding nothing of it
        lay = np.concatenate([lay, fill_r])
        group_all = np.concatenate([group_all, groups.scope[fill_g]])
        groups = find_groups(p.anc, p.scope_depth, group_all, lay)
    total = n_boxes + n_dummy + n_fill
    w_all = np.concatenate([width, np.full(n_dummy, DUMMY_W), np.zeros(n_fill)])
    h_all = np.concatenate([height, np.zeros(n_dummy + n_fill)])

    # -- ordering ------------------------------------------------------------------------
    init = np.zeros(total)
    init[:n_units] = unit_order
    if n_stubs:
        init[n_units:n_boxes] = unit_order[st_dst] - 0.5
    if n_dummy:
        init[n_boxes : n_boxes + n_dummy] = (
            unit_order[np.minimum(all_s[dummy_edge], n_units - 1)] + 0.25
        )
    if hint_x:
        hx = np.array([hint_x.get(v, np.nan) if v else np.nan for v in box_ids], dtype=float)
        have = ~np.isnan(hx)
        if have.any():
            scale = max(1.0, float(np.nanmax(np.abs(hx))))
            init[:n_boxes][have] = hx[have] / scale * max(n, 1)
    if n_fill:
        init[n_boxes + n_dummy :] = _group_mean(groups, init, fill_g, n_boxes + n_dummy)
    if sweeps is None:
        sweeps = 12 if total < 8000 else (5 if total < 40000 else (3 if total < 150000 else 2))
    keep_best = total < 60000
    transpose = 12 if total < 20000 else 0
    pos, crossings = _order(
        lay, init, seg_a, seg_b, groups.item_chain, sweeps, keep_best, transpose
    )

    # -- coordinates -----------------------------------------------------------------------
    is_dummy = np.arange(total) >= n_boxes
    # what follows its consumer and pulls nobody: stubs, and what depends on no model
    # input (weight reads and what is computed from them, and the edges out of them), so
    # the data's path runs straight and weights branch off beside it
    follower = np.zeros(total, bool)
    follower[:n_units] = floats
    follower[n_units:n_boxes] = True
    if n_dummy:
        follower[n_boxes : n_boxes + n_dummy] = follower[all_s[dummy_edge]]
    xs, g_left, g_right, x_stats = assign_x(
        groups,
        lay,
        pos,
        w_all,
        is_dummy,
        seg_a,
        seg_b,
        follower,
        iterations=8 if total < 20000 else (6 if total < 60000 else 4),
    )
    layer_top, layer_h, g_top, g_bottom = assign_y(groups, lay, h_all)
    ys = layer_top[lay] + layer_h[lay] / 2
    rects = np.column_stack([xs[:n_boxes] - width / 2, ys[:n_boxes] - height / 2, width, height])
    edge_off, edge_pts = routes(
        chain,
        chain_off,
        xs,
        lay,
        ys - h_all / 2,
        ys + h_all / 2,
        layer_top,
        layer_h,
        reversed_e,
    )
    group_ids = groups.scope
    group_rects = np.column_stack([g_left, g_top, g_right - g_left, g_bottom - g_top])
    group_scopes = [p.scopes[s] for s in group_ids.tolist()]
    group_depth = groups.depth
    group_pos = np.full(n_scopes, -1, np.int64)
    group_pos[group_ids] = np.arange(len(group_ids))

    # -- normalise to a positive scene -------------------------------------------------------
    lo_parts = [rects[:, :2].min(axis=0)] if n_boxes else [np.zeros(2)]
    hi_parts = [(rects[:, :2] + rects[:, 2:]).max(axis=0)] if n_boxes else [np.zeros(2)]
    if len(group_rects):
        lo_parts.append(group_rects[:, :2].min(axis=0))
        hi_parts.append((group_rects[:, :2] + group_rects[:, 2:]).max(axis=0))
    if len(edge_pts):
        lo_parts.append(edge_pts.min(axis=0))
        hi_parts.append(edge_pts.max(axis=0))
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
            "fillers": n_fill,
            **x_stats,
            "layers": int(lay.max() + 1) if total else 0,
            "seconds": time.perf_counter() - t0,
        },
        node_box=node_box,
        node_index=p.index,
        stub_boxes=stub_boxes,
        scope_box={p.scopes[int(t)]: int(u) for t, u in zip(tops, top_unit, strict=True)},
        box_groups=group_pos[box_group] if n_boxes else np.zeros(0, np.int64),
    )


# -- steps ----------------------------------------------------------------------------


def _dummy_groups(p: Prepared, box_group, box_lay, src, dst, lay) -> np.ndarray:
    """The group each dummy of an edge src -> dst is drawn in: the deepest scope of
    either end whose box spans the dummy's layer (the target's at equal depth), so an
    edge enters its target's group as soon as it can and leaves its source's as late
    as it can, and runs down a side channel inside it rather than around it."""
    n_scopes = len(p.scopes)
    first = np.full(n_scopes, np.iinfo(np.int64).max)
    last = np.full(n_scopes, -1, np.int64)
    for d in range(p.anc.shape[1]):
        col = p.anc[box_group, d]
        has = col >= 0
        np.minimum.at(first, col[has], box_lay[has])
        np.maximum.at(last, col[has], box_lay[has])
    out = np.zeros(len(lay), np.int64)
    gu, gv = box_group[src], box_group[dst]
    for d in range(p.anc.shape[1]):
        for g in (p.anc[gu, d], p.anc[gv, d]):
            ok = (g >= 0) & (first[np.maximum(g, 0)] <= lay) & (lay <= last[np.maximum(g, 0)])
            out[ok] = g[ok]
    return out


def _topological_rank(n: int, src: np.ndarray, dst: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Positions of the boxes in an order where every edge runs forward, as close to
    `rank` (execution order) as that allows; a cycle (possible only between collapsed
    scopes) is broken at its box that ran first."""
    if not len(src) or bool((rank[src] < rank[dst]).all()):
        return rank
    t = _EdgeTables(n, src, dst)
    indeg = t.indeg.tolist()
    ranks = rank.tolist()
    heap = [(ranks[u], u) for u in range(n) if indeg[u] == 0]
    heapq.heapify(heap)
    by_rank = sorted(range(n), key=ranks.__getitem__)
    next_forced = 0
    placed = [False] * n
    out = np.empty(n, np.int64)
    users, ub = t.users, t.user_bounds
    for k in range(n):
        while heap and placed[heap[0][1]]:
            heapq.heappop(heap)
        if heap:
            _, u = heapq.heappop(heap)
        else:  # a cycle: take the earliest box not placed yet
            while placed[by_rank[next_forced]]:
                next_forced += 1
            u = by_rank[next_forced]
        placed[u] = True
        out[u] = k
        for v in users[ub[u] : ub[u + 1]]:
            indeg[v] -= 1
            if indeg[v] == 0 and not placed[v]:
                heapq.heappush(heap, (ranks[v], v))
    return out


def _group_mean(groups, values: np.ndarray, of_group: np.ndarray, n_items: int) -> np.ndarray:
    """Mean of `values` over the first `n_items` items inside each group of `of_group`."""
    sums = np.zeros(len(groups.scope))
    cnt = np.zeros(len(groups.scope))
    for c in groups.item_chain:
        c = c[:n_items]
        has = c >= 0
        sums += np.bincount(c[has], weights=values[:n_items][has], minlength=len(sums))
        cnt += np.bincount(c[has], minlength=len(sums))
    return sums[of_group] / np.maximum(cnt[of_group], 1)


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
    """Layer per box, and which boxes float: longest path from the sources; what
    depends on no model input (`anchored` marks the inputs) pulled down next to its
    users.

    With `unit_loc` (the scope id each box is drawn in) and `anc` (scope ancestors),
    what depends on no input also starts below everything that feeds its group from
    outside, so a layer's weight reads sit inside that layer's box, under the layer
    before it, and sibling scope boxes do not overlap.
    """
    base = has_stub.astype(np.int64)
    if n_units == 0:
        return np.zeros(0, np.int64), np.zeros(0, bool)
    if not len(ls):
        return base, ~anchored
    t = _EdgeTables(n_units, ls, ld)
    order = np.argsort(rank, kind="stable").tolist()
    floats = _floating(t, rank, anchored)
    if unit_loc is not None and anc is not None and len(anc):
        grouped = _grouped_forward(t, rank, base, floats, ls, ld, unit_loc, anc)
        if grouped is not None:
            layer = _pull_down(grouped, floats, t, order, base)
            if (layer[ls] < layer[ld]).all():  # tied weights could pull against an edge
                return layer, floats
    return _pull_down(_forward(t, order, base), floats, t, order, base), floats


def _grouped_forward(t, rank, base, floats, ls, ld, unit_loc, anc) -> np.ndarray | None:
    """Longest path where a group starts below what feeds it from outside.

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
    o = np.lexsort((group, src))
    key = np.unique(src[o] * anc.shape[0] + group[o])
    enter_src, enter_group = key // anc.shape[0], key % anc.shape[0]
    enter_start = np.searchsorted(enter_src, np.arange(n + 1))
    # what starts below its groups' entries: floating roots, boxes with a stub (the
    # stub, drawn in the layer above, must be inside the group too), and every box
    # fed by nothing of its own group: so a group starts below what feeds it, and
    # scope boxes that follow one another stack instead of standing side by side
    inner = np.zeros(n, bool)
    inner[ld[unit_loc[ls] == unit_loc[ld]]] = True
    starter = ((floats & (t.indeg == 0)) | (base > 0) | ~inner) & (unit_loc > 0)
    locs = np.unique(unit_loc[starter])
    chain_of = {int(s): [g for g in anc[s].tolist() if g >= 0] for s in locs}
    # visiting order: floating boxes just before their first user, deepest first
    eff_l = rank.astype(np.float64).tolist()
    step = 1.0 / (2 * (n + 1))
    users, ub = t.users, t.user_bounds
    for u in sorted(np.nonzero(floats)[0].tolist(), key=eff_l.__getitem__, reverse=True):
        first = users[ub[u] : ub[u + 1]]
        if first:
            eff_l[u] = min(eff_l[v] for v in first) - step
    visit = np.argsort(np.asarray(eff_l), kind="stable").tolist()
    return _forward(
        t,
        visit,
        base,
        np.where(starter, unit_loc, -1).tolist(),
        chain_of,
        (enter_start.tolist(), enter_group.tolist()),
        anc.shape[0],
    )


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
    start_loc: list[int] | None = None,
    chain_of: dict[int, list[int]] | None = None,
    enters: tuple[list[int], list[int]] | None = None,
    n_scopes: int = 0,
) -> np.ndarray:
    """Longest path in `order`, each box at least at its `floor`. With the rest: a box
    whose `start_loc` is a scope also goes below the last box seen entering any group
    of `chain_of[scope]`; `enters` (CSR: per box, the groups it feeds from outside)
    says which boxes enter which group."""
    layer = floor.tolist()
    preds, bounds = t.preds, t.pred_bounds
    scoped = start_loc is not None and chain_of is not None and enters is not None
    starts, chains = start_loc or [], chain_of or {}
    e_start, e_group = enters or ([], [])
    stub = layer[:]
    entry = [-1] * n_scopes
    for u in order:
        a, b = bounds[u], bounds[u + 1]
        if a != b:
            best = max([layer[p] for p in preds[a:b]]) + 1
            if best > layer[u]:
                layer[u] = best
        if not scoped:
            continue
        loc = starts[u]
        if loc >= 0:
            start = max([entry[g] for g in chains[loc]])
            if start >= 0 and start + 1 + stub[u] > layer[u]:
                layer[u] = start + 1 + stub[u]  # its stub goes in the layer above it
        a, b = e_start[u], e_start[u + 1]
        if a != b:
            lu = layer[u]
            for g in e_group[a:b]:
                if lu > entry[g]:
                    entry[g] = lu
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


def _order(lay, init, seg_a, seg_b, cluster_keys, sweeps, keep_best=True, transpose=0):
    """Barycenter sweeps over all layers at once (unless the start has fewer
    crossings, with `keep_best`), improved by up to `transpose` rounds of swapping
    neighbours. Graphs of up to `SEQUENTIAL_MAX` items get dot-like layer-by-layer
    sweeps instead."""
    total = len(lay)
    if total == 0:
        return np.zeros(0, np.int64), 0
    if total <= SEQUENTIAL_MAX:
        starts = (True, False) if total <= SEQUENTIAL_MAX // 2 else (True,)
        best, best_c = _order_sequential(lay, init, seg_a, seg_b, cluster_keys, 12, starts)
        if transpose and best_c:
            nb = _Neighbours(total, seg_a, seg_b)
            best = _transpose(lay, best, nb, _innermost(cluster_keys, total), transpose)
            best_c = count_crossings(lay, best, seg_a, seg_b)
        return best, int(best_c)
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
    # each sweep mostly improves on the last: only the start is worth comparing with
    if not keep_best:
        best = pos
    elif sweeps:
        c = count_crossings(lay, pos, seg_a, seg_b)
        if c <= best_c:
            best, best_c = pos, c
    if transpose and best_c != 0:
        nb = _Neighbours(total, seg_a, seg_b)
        best = _transpose(lay, best, nb, _innermost(cluster_keys, total), transpose)
        best_c = count_crossings(lay, best, seg_a, seg_b)
    return best, int(best_c)


def _order_sequential(lay, init, seg_a, seg_b, cluster_keys, sweeps, starts=(True, False)):
    """Layer-by-layer barycenter sweeps, alternating down and up, like dot's mincross:
    Python loops, for graphs of a few thousand items. One run per entry of `starts`
    (True: the first sweep goes down), each from the initial order; the ordering with
    fewest crossings wins.

    A group is placed as a block: where a sweep meets it first, by the barycenter of
    its items there; in the layers after, where it was in the layer before, so two
    groups never swap sides within a sweep and stay drawable as rectangles.
    """
    total = len(lay)
    counts = np.bincount(lay)
    first_pos = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos0 = _sorted_positions(lay, init.astype(float), cluster_keys, first_pos)
    best, best_c = pos0.copy(), count_crossings(lay, pos0, seg_a, seg_b)
    if best_c == 0:
        return best, 0
    nb = _Neighbours(total, seg_a, seg_b)
    up_l, ups = nb.up.tolist(), nb.up_start.tolist()
    dn_l, dns = nb.down.tolist(), nb.down_start.tolist()
    bounds = np.concatenate([[0], np.cumsum(counts)]).tolist()
    o0 = np.lexsort((pos0, lay)).tolist()
    # per item, its groups outermost first; each group's first and last layer
    item_groups: list[list[int]] = [[] for _ in range(total)]
    for ck in cluster_keys:
        for v, g in zip(np.nonzero(ck >= 0)[0].tolist(), ck[ck >= 0].tolist(), strict=True):
            item_groups[v].append(g)
    n_groups = max((int(ck.max()) + 1 for ck in cluster_keys if len(ck)), default=0)
    g_first = [len(counts)] * n_groups
    g_last = [-1] * n_groups
    for v, r in enumerate(lay.tolist()):
        for g in item_groups[v]:
            g_first[g] = min(g_first[g], r)
            g_last[g] = max(g_last[g], r)
    depth = len(cluster_keys)
    enter_down = [False] * len(counts)  # a group starts in this layer
    enter_up = [False] * len(counts)  # a group ends in this layer
    for g in range(n_groups):
        if g_last[g] >= 0:
            enter_down[g_first[g]] = True
            enter_up[g_last[g]] = True
    grouped = [False] * len(counts)  # the layer holds something of a group
    for v, r in enumerate(lay.tolist()):
        if item_groups[v]:
            grouped[r] = True
    for down_first in starts:
        layers = [o0[bounds[r] : bounds[r + 1]] for r in range(len(counts))]
        pos = pos0.astype(float).tolist()
        run_best, stale = best_c, 0
        for it in range(sweeps):
            if stale >= 4:  # four sweeps without progress: this run has settled
                break
            down = (it % 2 == 0) == down_first
            nbr, nst = (up_l, ups) if down else (dn_l, dns)
            rng = range(len(layers)) if down else range(len(layers) - 1, -1, -1)
            entry = g_first if down else g_last
            entering = enter_down if down else enter_up
            prev_mean = [0.0] * n_groups  # each group's mean position in the layer before
            for r in rng:
                items = layers[r]
                if len(items) > 1:
                    bary = []
                    for v in items:
                        a, b = nst[v], nst[v + 1]
                        if b - a == 1:
                            bary.append(pos[nbr[a]])
                        elif b > a:
                            bary.append(sum([pos[u] for u in nbr[a:b]]) / (b - a))
                        else:
                            bary.append(pos[v])
                    if entering[r]:
                        # a group met here for the first time: its items' mean barycenter
                        key_sum: dict[int, float] = {}
                        key_n: dict[int, int] = {}
                        for v, bv in zip(items, bary, strict=True):
                            for g in item_groups[v]:
                                if entry[g] == r:
                                    key_sum[g] = key_sum.get(g, 0.0) + bv
                                    key_n[g] = key_n.get(g, 0) + 1
                        for g, sm in key_sum.items():
                            prev_mean[g] = sm / key_n[g] + g * 1e-9
                    keyed = []
                    for v, bv in zip(items, bary, strict=True):
                        groups_v = item_groups[v]
                        if groups_v:
                            key = [prev_mean[g] for g in groups_v]
                            key += [bv] * (depth + 1 - len(key))
                            key.append(pos[v])
                            keyed.append((key, v))
                        else:
                            keyed.append(([bv] * (depth + 1) + [pos[v]], v))
                    keyed.sort()
                    layers[r] = items = [v for _, v in keyed]
                if not grouped[r]:
                    for i, v in enumerate(items):
                        pos[v] = float(i)
                    continue
                sums: dict[int, float] = {}
                ns: dict[int, int] = {}
                for i, v in enumerate(items):
                    pos[v] = float(i)
                    for g in item_groups[v]:
                        sums[g] = sums.get(g, 0.0) + i
                        ns[g] = ns.get(g, 0) + 1
                for g, sm in sums.items():
                    prev_mean[g] = sm / ns[g] + g * 1e-9
            cur = np.asarray(pos, np.int64)
            c = count_crossings(lay, cur, seg_a, seg_b)
            stale = 0 if c < run_best else stale + 1
            run_best = min(run_best, c)
            if c < best_c:
                best, best_c = cur, c
                if c == 0:
                    return best, 0
    return best, int(best_c)


def _innermost(cluster_keys: list[np.ndarray], n: int) -> np.ndarray:
    """The innermost group of each item (-1: none), from the per-depth group ids."""
    out = np.full(n, -1, np.int64)
    for ck in cluster_keys:
        out = np.where(ck >= 0, ck, out)
    return out


class _Neighbours:
    """Each item's neighbours in the layer above and in the layer below (CSR arrays)."""

    def __init__(self, n: int, seg_a: np.ndarray, seg_b: np.ndarray) -> None:
        o = np.argsort(seg_b, kind="stable")
        self.up = seg_a[o]
        self.up_start = np.searchsorted(seg_b[o], np.arange(n + 1))
        o = np.argsort(seg_a, kind="stable")
        self.down = seg_b[o]
        self.down_start = np.searchsorted(seg_a[o], np.arange(n + 1))


def _pair_crossings(nbr, start, pos, u, v) -> tuple[np.ndarray, np.ndarray]:
    """For pairs (u, v): crossings between their edges to one side with u left of v,
    and with v left of u."""
    du = start[u + 1] - start[u]
    dv = start[v + 1] - start[v]
    size = du * dv
    k = np.repeat(np.arange(len(u)), size)
    if not len(k):
        return np.zeros(len(u)), np.zeros(len(u))
    idx = np.arange(len(k)) - np.repeat(np.cumsum(size) - size, size)
    dvk = dv[k]
    a = nbr[start[u][k] + idx // dvk]
    b = nbr[start[v][k] + idx % dvk]
    pa, pb = pos[a], pos[b]
    return (
        np.bincount(k, weights=pa > pb, minlength=len(u)),
        np.bincount(k, weights=pa < pb, minlength=len(u)),
    )


def _transpose(lay, pos, nb: _Neighbours, same: np.ndarray, rounds: int) -> np.ndarray:
    """dot's transpose step, vectorised: swap neighbours of a layer (of one group) when
    that removes crossings with the layers above and below. Pairs that share no item
    and lie in layers of one parity are decided together."""
    pos = pos.copy()
    order = np.lexsort((pos, lay))
    for _ in range(rounds):
        swapped = 0
        for lay_parity in (0, 1):
            for pos_parity in (0, 1):
                u, v = order[:-1], order[1:]
                cand = (
                    (lay[u] == lay[v])
                    & (lay[u] % 2 == lay_parity)
                    & (pos[u] % 2 == pos_parity)
                    & (same[u] == same[v])
                )
                k = np.nonzero(cand)[0]
                if not len(k):
                    continue
                u, v = order[k], order[k + 1]
                c_uv, c_vu = _pair_crossings(nb.up, nb.up_start, pos, u, v)
                d_uv, d_vu = _pair_crossings(nb.down, nb.down_start, pos, u, v)
                better = (c_vu + d_vu) < (c_uv + d_uv)
                if not better.any():
                    continue
                k, u, v = k[better], u[better], v[better]
                pos[u] += 1
                pos[v] -= 1
                order[k], order[k + 1] = v, u
                swapped += len(k)
        if not swapped:
            break
    return pos


def _sorted_positions(lay, bary, cluster_keys, starts) -> np.ndarray:
    """Position in its layer of each node, layers sorted by scope cluster then barycenter.

    A cluster (the nodes of one scope, in every layer) is placed by its mean barycenter
    over all its layers, outermost scope first: a scope is contiguous in each layer
    and two sibling scopes keep the same left-to-right order in every layer they share,
    so each can be drawn as one rectangle.
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
    pa = pos[seg_a].astype(np.int64)
    pb = pos[seg_b].astype(np.int64)
    w = int(max(pa.max(), pb.max())) + 1
    if w * w * (int(la.max()) + 1) < 2**62:  # one sort key: faster than three
        o = np.argsort((la * w + pa) * w + pb)
    else:
        o = np.lexsort((pb, pa, la))
    group = la[o]
    key = pb[o]
    m = len(key)
    bounds = np.concatenate([[0], np.nonzero(np.diff(group))[0] + 1, [m]])
    lens = np.diff(bounds)
    seg_start = np.repeat(bounds[:-1], lens)
    seg_len = np.repeat(lens, lens)
    r = np.arange(m) - seg_start
    kmax = w + 1
    total = 0
    b = 1
    longest = int(lens.max())
    ar = np.arange(m)
    while b < longest:
        pair_start = (r // (2 * b)) * (2 * b)
        side = (r - pair_start) >= b
        gid = seg_start + pair_start
        comp = (gid * kmax + key) * 2 + side
        perm = np.argsort(comp, kind="stable")
        inv = np.empty(m, np.int64)
        inv[perm] = ar
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


def edge_curves(off: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges as drawn: each slanted step of a route becomes a curve leaving and entering
    vertically (a cubic Bezier), sampled into a polyline; vertical steps stay straight.

    Returns (offsets, points) like `Layout.edge_off` / `edge_pts`.
    """
    n_e = len(off) - 1
    if n_e <= 0 or len(pts) == 0:
        return off.copy(), pts.copy()
    lens = np.diff(off)
    not_last = np.ones(len(pts), bool)
    not_last[off[1:][lens > 0] - 1] = False
    a = np.nonzero(not_last)[0]
    d = pts[a + 1] - pts[a]
    slanted = (np.abs(d[:, 0]) > 0.5) & (np.abs(d[:, 1]) > 0.5)
    k = np.where(slanted, np.clip(np.ceil(np.abs(d[:, 0]) / 12.0) + 2, 3, 12), 1).astype(np.int64)
    seg_edge = np.searchsorted(off, a, side="right") - 1
    per_edge = np.bincount(seg_edge, weights=k, minlength=n_e).astype(np.int64) + (lens > 0)
    new_off = np.zeros(n_e + 1, np.int64)
    np.cumsum(per_edge, out=new_off[1:])
    out = np.empty((int(new_off[-1]), 2))
    firsts = lens > 0
    out[new_off[:-1][firsts]] = pts[off[:-1][firsts]]
    # the samples of segment s go after its edge's first point and earlier segments
    seg_first = np.zeros(len(a), np.int64)
    cum = np.cumsum(k) - k
    edge_cum0 = np.zeros(n_e, np.int64)
    first_seg = np.searchsorted(seg_edge, np.arange(n_e), side="left")
    has_seg = first_seg < len(a)
    edge_cum0[has_seg] = cum[np.minimum(first_seg[has_seg], len(a) - 1)]
    seg_first = new_off[seg_edge] + 1 + cum - edge_cum0[seg_edge]
    s = np.repeat(np.arange(len(a)), k)
    j = np.arange(int(k.sum())) - np.repeat(cum, k) + 1
    t = j / k[s]
    p0 = pts[a[s]]
    dd = d[s]
    curve = slanted[s]
    fx = np.where(curve, t * t * (3 - 2 * t), t)
    fy = np.where(curve, 1.5 * t * (1 - t) + t**3, t)
    out[seg_first[s] + j - 1, 0] = p0[:, 0] + dd[:, 0] * fx
    out[seg_first[s] + j - 1, 1] = p0[:, 1] + dd[:, 1] * fy
    return new_off, out
