"""How good a drawn layout is: the figures bench/layout_quality.py prints and tests assert.

Qt-free numpy on plain geometry (box rectangles, group rectangles, edge polylines), so
the same functions measure a `gui.graph.layout.Layout` and a layout read back from graphviz.
Pairs of nearby shapes are found through a uniform grid, so a 100k-box layout is
measured in about a second.

- *backward edges*: a consumer drawn above its producer (its top above the
  producer's bottom);
- *node overlaps*: two boxes (nodes, stubs, collapsed scopes) that overlap;
- *box overlaps*: two group rectangles that overlap although neither is nested in the
  other, or a group sticking out of the group it is nested in;
- *outside box*: a box not inside every group it belongs to, or inside a group it
  does not belong to;
- *edges through nodes*: an edge whose drawn curve passes through a box other than
  its two ends;
- *crossings*: pairs of edges whose left-to-right order changes between two
  consecutive rows of boxes, an edge taken from its source's centre through the rows
  it spans to its target's centre (edges sharing an end do not count);
- *bends*: changes of direction of edges, counted once per straight vertical stretch
  an edge runs along between its ends (through the rows its dummy nodes are in): an
  edge that leaves its source's column down a side channel into its target counts
  one, a zig-zag one per stretch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from gui.graph.layout import Layout, count_crossings, edge_curves

#: Geometry closer than this (scene units) is taken as touching, not overlapping.
EPS = 0.5


@dataclass
class Quality:
    """The figures of one layout; the first five are zero in a correct drawing."""

    backward_edges: int
    node_overlaps: int
    box_overlaps: int
    outside_box: int
    edges_through_nodes: int
    crossings: int
    bends: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @property
    def defects(self) -> int:
        """What must be zero: everything but crossings and bends."""
        return (
            self.backward_edges
            + self.node_overlaps
            + self.box_overlaps
            + self.outside_box
            + self.edges_through_nodes
        )


def measure(layout: Layout) -> Quality:
    """Every figure of `layout`, edges taken as drawn (curves sampled)."""
    off, pts = edge_curves(layout.edge_off, layout.edge_pts)
    groups = group_of_boxes(layout)
    parents = group_parents(layout.group_scopes)
    return Quality(
        backward_edges=backward_edges(layout.rects, layout.edge_src, layout.edge_dst),
        node_overlaps=node_overlaps(layout.rects),
        box_overlaps=box_overlaps(layout.group_rects, parents),
        outside_box=outside_box(layout.rects, groups, layout.group_rects, parents),
        edges_through_nodes=edges_through_nodes(
            layout.rects, layout.edge_src, layout.edge_dst, off, pts
        ),
        crossings=edge_crossings(layout.rects, layout.edge_src, layout.edge_dst, off, pts),
        bends=bends(layout.edge_off, layout.edge_pts),
    )


# -- structure ------------------------------------------------------------------------


def group_of_boxes(layout: Layout) -> np.ndarray:
    """Index into `layout.group_rects` of the innermost group each box is drawn in, or -1."""
    return np.asarray(layout.box_groups, np.int64)


def group_parents(group_scopes: list[tuple[str, ...]]) -> np.ndarray:
    """Index of the nearest drawn enclosing group of each group, or -1."""
    index = {s: i for i, s in enumerate(group_scopes)}
    out = np.full(len(group_scopes), -1, np.int64)
    for i, s in enumerate(group_scopes):
        for k in range(len(s) - 1, 0, -1):
            j = index.get(s[:k])
            if j is not None:
                out[i] = j
                break
    return out


def _chains(groups: np.ndarray, parents: np.ndarray) -> list[np.ndarray]:
    """Per nesting level, the group at that level above each item (-1 past the root)."""
    out = []
    cur = groups.copy()
    while (cur >= 0).any():
        out.append(cur.copy())
        cur = np.where(cur >= 0, parents[np.maximum(cur, 0)], -1)
    return out


# -- the figures ------------------------------------------------------------------------


def backward_edges(rects: np.ndarray, src: np.ndarray, dst: np.ndarray) -> int:
    """Edges whose consumer's top lies above its producer's bottom."""
    if len(src) == 0:
        return 0
    bottom = rects[src, 1] + rects[src, 3]
    return int(np.count_nonzero(rects[dst, 1] < bottom - EPS))


def node_overlaps(rects: np.ndarray) -> int:
    """Pairs of boxes that overlap by more than `EPS` both ways."""
    i, j = _grid_pairs(rects, rects)
    keep = i < j
    i, j = i[keep], j[keep]
    return int(np.count_nonzero(_overlap(rects[i], rects[j])))


def box_overlaps(group_rects: np.ndarray, parents: np.ndarray) -> int:
    """Pairs of groups, neither nested in the other, that overlap; plus nested groups
    that stick out of their enclosing group."""
    n = len(group_rects)
    if n == 0:
        return 0
    i, j = _grid_pairs(group_rects, group_rects)
    keep = i < j
    i, j = i[keep], j[keep]
    # nested: one is an ancestor of the other
    nested = np.zeros(len(i), bool)
    for level in _chains(parents, parents):
        nested |= (level[i] == j) | (level[j] == i)
    bad = int(np.count_nonzero(_overlap(group_rects[i], group_rects[j]) & ~nested))
    has = parents >= 0
    if has.any():
        bad += int(np.count_nonzero(~_inside(group_rects[has], group_rects[parents[has]])))
    return bad


def outside_box(
    rects: np.ndarray, groups: np.ndarray, group_rects: np.ndarray, parents: np.ndarray
) -> int:
    """Boxes not inside every group they belong to, or overlapping a group they do not."""
    n = len(rects)
    if n == 0 or len(group_rects) == 0:
        return 0
    bad = np.zeros(n, bool)
    chains = _chains(groups, parents)
    for level in chains:
        has = level >= 0
        bad[has] |= ~_inside(rects[has], group_rects[level[has]])
    b, g = _grid_pairs(rects, group_rects)
    member = np.zeros(len(b), bool)
    for level in chains:
        member |= level[b] == g
    foreign = ~member & _overlap(rects[b], group_rects[g])
    bad[b[foreign]] = True
    return int(np.count_nonzero(bad))


def edges_through_nodes(
    rects: np.ndarray, src: np.ndarray, dst: np.ndarray, off: np.ndarray, pts: np.ndarray
) -> int:
    """Edges with a drawn segment through a box that is neither of their ends."""
    n_e = len(off) - 1
    if n_e <= 0 or len(pts) < 2:
        return 0
    lens = np.diff(off)
    seg_start = np.nonzero(np.repeat(lens > 1, lens) & _not_last(off, len(pts)))[0]
    seg_edge = np.searchsorted(off, seg_start, side="right") - 1
    p, q = pts[seg_start], pts[seg_start + 1]
    boxes = np.column_stack(
        [np.minimum(p[:, 0], q[:, 0]), np.minimum(p[:, 1], q[:, 1]), np.abs(q - p)]
    )
    s, b = _grid_pairs(boxes, rects)
    e = seg_edge[s]
    keep = (b != src[e]) & (b != dst[e])
    s, b, e = s[keep], b[keep], e[keep]
    hit = _segment_hits_rect(p[s], q[s], rects[b], EPS)
    return len(np.unique(e[hit]))


def edge_crossings(
    rects: np.ndarray, src: np.ndarray, dst: np.ndarray, off: np.ndarray, pts: np.ndarray
) -> int:
    """Crossings between consecutive rows of boxes (see the module docstring).

    Rows are the distinct box centre heights; an edge is followed from its source's
    centre, through its curve where it meets each row it spans, to its target's centre.
    """
    n_e = len(src)
    if n_e < 2:
        return 0
    cy = rects[:, 1] + rects[:, 3] / 2
    cx = rects[:, 0] + rects[:, 2] / 2
    row_y, row = np.unique(np.round(cy, 1), return_inverse=True)
    r0, r1 = row[src], row[dst]
    lo, hi = np.minimum(r0, r1), np.maximum(r0, r1)
    span = hi - lo
    e_ok = np.nonzero(span > 0)[0]
    if len(e_ok) == 0:
        return 0
    # samples: rows lo..hi of each edge
    n_s = span[e_ok] + 1
    e_of = np.repeat(e_ok, n_s)
    k = np.arange(int(n_s.sum())) - np.repeat(np.cumsum(n_s) - n_s, n_s)
    r = lo[e_of] + k
    x = np.empty(len(r))
    first = k == 0
    last = k == span[e_of]
    top_end = np.where(r0[e_of] <= r1[e_of], src[e_of], dst[e_of])
    bottom_end = np.where(r0[e_of] <= r1[e_of], dst[e_of], src[e_of])
    x[first] = cx[top_end[first]]
    x[last] = cx[bottom_end[last]]
    mid = ~first & ~last
    if mid.any():
        x[mid] = _x_at(off, pts, e_of[mid], row_y[r[mid]])
    pos = np.unique(np.round(x, 2), return_inverse=True)[1].astype(np.int64)
    point = np.arange(len(r))
    seg_a = point[~last]
    seg_b = point[~last] + 1
    return count_crossings(r.astype(np.int64), pos, seg_a, seg_b)


def bends(off: np.ndarray, pts: np.ndarray) -> int:
    """Direction changes of edges' routes at their vertical runs (see the docstring)."""
    total = 0
    if len(off) < 2:
        return 0
    lens = np.diff(off)
    # runs of equal x inside each edge become one waypoint at the run's middle
    same = np.zeros(len(pts), bool)
    same[1:] = np.abs(np.diff(pts[:, 0])) < EPS
    starts = np.zeros(len(pts), bool)
    starts[off[:-1][lens > 0]] = True
    new_run = starts | ~same
    run_id = np.cumsum(new_run) - 1
    n_runs = int(run_id[-1]) + 1 if len(pts) else 0
    ysum = np.bincount(run_id, weights=pts[:, 1], minlength=n_runs)
    cnt = np.bincount(run_id, minlength=n_runs)
    wx = pts[new_run, 0]
    wy = ysum / np.maximum(cnt, 1)
    run_edge = np.searchsorted(off, np.nonzero(new_run)[0], side="right") - 1
    if n_runs < 3:
        return 0
    d1 = np.column_stack([wx[1:-1] - wx[:-2], wy[1:-1] - wy[:-2]])
    d2 = np.column_stack([wx[2:] - wx[1:-1], wy[2:] - wy[1:-1]])
    inner = (run_edge[:-2] == run_edge[1:-1]) & (run_edge[1:-1] == run_edge[2:])
    cross = np.abs(d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0])
    norm = np.hypot(d1[:, 0], d1[:, 1]) * np.hypot(d2[:, 0], d2[:, 1])
    turned = cross > np.sin(np.radians(5.0)) * np.maximum(norm, 1e-9)
    total = int(np.count_nonzero(inner & turned))
    return total


# -- geometry helpers -------------------------------------------------------------------


def _not_last(off: np.ndarray, n_pts: int) -> np.ndarray:
    """True for every point that is not the last of its edge."""
    m = np.ones(n_pts, bool)
    m[off[1:] - 1] = False
    return m


def _x_at(off: np.ndarray, pts: np.ndarray, edges: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """x where each edge's polyline meets height y (edges are taken as y-monotone)."""
    n_e = len(off) - 1
    edge_of_pt = np.repeat(np.arange(n_e), np.diff(off))
    y = pts[:, 1].copy()
    # make each edge's heights increasing: upward edges are read backwards
    down = np.ones(n_e, bool)
    lens = np.diff(off)
    has = lens > 0
    down[has] = pts[off[1:][has] - 1, 1] >= pts[off[:-1][has], 1]
    flip = ~down[edge_of_pt]
    y[flip] = -y[flip]
    span = float(np.abs(pts[:, 1]).max() + 1.0) * 2.0 + 4.0 if len(pts) else 1.0
    y = np.maximum.accumulate(y + edge_of_pt * span) - edge_of_pt * span  # ties kept in order
    key = y + edge_of_pt * span
    qy = np.where(down[edges], ys, -ys)
    qkey = qy + edges * span
    j = np.searchsorted(key, qkey, side="left")
    lo_b = off[edges]
    hi_b = off[edges + 1] - 1
    j = np.clip(j, lo_b + 1, np.maximum(hi_b, lo_b + 1))
    j = np.minimum(j, len(pts) - 1)
    i = j - 1
    y0, y1 = y[i], y[j]
    t = np.where(np.abs(y1 - y0) > 1e-9, (qy - y0) / np.where(y1 != y0, y1 - y0, 1.0), 0.5)
    t = np.clip(t, 0.0, 1.0)
    return pts[i, 0] + (pts[j, 0] - pts[i, 0]) * t


def _overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rectangles (x, y, w, h) that overlap by more than `EPS` in both directions."""
    ox = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    oy = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    return (ox > EPS) & (oy > EPS)


def _inside(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rectangles `a` inside rectangles `b` (up to `EPS`)."""
    return (
        (a[:, 0] >= b[:, 0] - EPS)
        & (a[:, 1] >= b[:, 1] - EPS)
        & (a[:, 0] + a[:, 2] <= b[:, 0] + b[:, 2] + EPS)
        & (a[:, 1] + a[:, 3] <= b[:, 1] + b[:, 3] + EPS)
    )


def _segment_hits_rect(p: np.ndarray, q: np.ndarray, r: np.ndarray, shrink: float) -> np.ndarray:
    """Segments p-q passing through the inside of rectangles `r` shrunk by `shrink`."""
    x0, y0 = r[:, 0] + shrink, r[:, 1] + shrink
    x1, y1 = r[:, 0] + r[:, 2] - shrink, r[:, 1] + r[:, 3] - shrink
    d = q - p
    t0 = np.zeros(len(p))
    t1 = np.ones(len(p))
    ok = (x1 > x0) & (y1 > y0)
    for axis, lo, hi in ((0, x0, x1), (1, y0, y1)):
        dd = d[:, axis]
        pp = p[:, axis]
        flat = np.abs(dd) < 1e-12
        ok &= ~flat | ((pp > lo) & (pp < hi))
        with np.errstate(divide="ignore", invalid="ignore"):
            ta = np.where(flat, -np.inf, (lo - pp) / np.where(flat, 1.0, dd))
            tb = np.where(flat, np.inf, (hi - pp) / np.where(flat, 1.0, dd))
        t0 = np.maximum(t0, np.minimum(ta, tb))
        t1 = np.minimum(t1, np.maximum(ta, tb))
    return ok & (t0 < t1 - 1e-9)


def _grid_pairs(a: np.ndarray, b: np.ndarray, cell: float = 256.0) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs (i, j) of rectangles a[i], b[j] sharing a grid cell, each pair once."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    lo = np.minimum(a[:, :2].min(axis=0), b[:, :2].min(axis=0))
    ka, ia = _cells(a, lo, cell)
    kb, ib = _cells(b, lo, cell)
    o = np.argsort(kb, kind="stable")
    kb, ib = kb[o], ib[o]
    start = np.searchsorted(kb, ka, side="left")
    stop = np.searchsorted(kb, ka, side="right")
    cnt = stop - start
    i = np.repeat(ia, cnt)
    k = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    j = ib[np.repeat(start, cnt) + k]
    if len(i) == 0:
        return i, j
    key = np.unique(i * len(b) + j)
    return key // len(b), key % len(b)


def _cells(r: np.ndarray, lo: np.ndarray, cell: float) -> tuple[np.ndarray, np.ndarray]:
    cx0 = np.floor((r[:, 0] - lo[0]) / cell).astype(np.int64)
    cy0 = np.floor((r[:, 1] - lo[1]) / cell).astype(np.int64)
    cx1 = np.floor((r[:, 0] + r[:, 2] - lo[0]) / cell).astype(np.int64)
    cy1 = np.floor((r[:, 1] + r[:, 3] - lo[1]) / cell).astype(np.int64)
    nx = cx1 - cx0 + 1
    count = nx * (cy1 - cy0 + 1)
    item = np.repeat(np.arange(len(r)), count)
    k = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    cx = cx0[item] + k % nx[item]
    cy = cy0[item] + k // nx[item]
    return cx * (1 << 31) + cy, item
