"""Coordinates once layers and orders are known: x, y, group rectangles, edge routes.

Qt-free numpy, used by `gui.graph.layout.layout_graph`. The drawing it makes holds three
promises, whatever the graph: boxes of one layer never overlap; every expanded scope
is a rectangle that holds its members and nothing else; edges run vertically through
layers (where no box is in their way) and bend only between layers.

*x* is a projection onto separation constraints, like dot's, solved with cumulative
max / min per layer. Each layer is a sequence of *slots*: its boxes and dummy nodes in
order, plus a left and a right border per scope group present there. A group's left
border is one value shared by every layer the group spans, and so is its right: a
group is a rectangle, and whatever else lies in its layers stays outside it. A
*straight run* (the dummies of a long edge, or a chain of ops each feeding only the
next, weights aside) that crosses nothing on its way shares one value too, so it is
drawn as one vertical line: long edges run down a side channel, the data's main path
straight down. A pass settles the shared values as a longest path over them (what the
slots between two of them push, and the room in between), in an order found once.
Large layouts straighten runs afterwards where there is room instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NODE_SEP = 22.0  # between boxes of a layer
DUMMY_SEP = 10.0  # between a box and an edge passing by
EDGE_SEP = 5.0  # between two edges passing by
GROUP_PAD = 12.0  # between a group's border and what it holds
GROUP_SEP = 16.0  # between a group's border and what is outside
TITLE_H = 20.0
LAYER_GAP = 34.0

# slot kinds
BOX, DUMMY, LEFT, RIGHT = 0, 1, 2, 3

#: Up to this many items (boxes, dummies), straight runs are exact: one x each.
HARD_RUNS_MAX = 20000


@dataclass
class Groups:
    """Expanded scopes drawn as rectangles, and which of them each item sits in."""

    scope: np.ndarray  # scope id of each group, parents before children
    depth: np.ndarray  # nesting depth (1 = top level)
    parent: np.ndarray  # group index of the enclosing group, -1 at the top
    first: np.ndarray  # first and last layer the group spans
    last: np.ndarray
    item_chain: list[np.ndarray]  # per depth d (0-based), group index of each item, -1 none


def find_groups(
    anc: np.ndarray, scope_depth: np.ndarray, item_group: np.ndarray, lay: np.ndarray
) -> Groups:
    """The groups holding the items (`item_group`: innermost scope id per item, 0 = none)."""
    n_scopes = anc.shape[0]
    depth_max = anc.shape[1]
    chains_sid = [anc[item_group, d] for d in range(depth_max)]
    used = np.zeros(n_scopes, bool)
    for c in chains_sid:
        used[c[c >= 0]] = True
    used[0] = False
    sids = np.nonzero(used)[0]
    sids = sids[np.lexsort((sids, scope_depth[sids]))]
    gid = np.full(n_scopes + 1, -1, np.int64)  # slot -1 maps -1 to -1
    gid[sids] = np.arange(len(sids))
    chains = [gid[c] for c in chains_sid]
    depth = scope_depth[sids]
    parent = np.where(depth >= 2, gid[anc[sids, np.maximum(depth - 2, 0)]], -1)
    first = np.full(len(sids), np.iinfo(np.int64).max)
    last = np.full(len(sids), -1, np.int64)
    for c in chains:
        has = c >= 0
        np.minimum.at(first, c[has], lay[has])
        np.maximum.at(last, c[has], lay[has])
    return Groups(sids, depth, parent, first, last, chains)


def fillers(groups: Groups, lay: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(group index, layer) of an empty item to add wherever a group spans a layer that
    holds nothing of it, so that every layer of a group has something to border."""
    n_layers = int(lay.max()) + 1 if len(lay) else 0
    n_g = len(groups.scope)
    if n_g == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    present = np.zeros(0, np.int64)
    for c in groups.item_chain:
        has = c >= 0
        present = np.union1d(present, c[has] * n_layers + lay[has])
    out_g: list[np.ndarray] = []
    out_r: list[np.ndarray] = []
    for d in range(int(groups.depth.max()), 0, -1):  # deepest first: a filler fills its parents
        gs = np.nonzero(groups.depth == d)[0]
        span = groups.last[gs] - groups.first[gs] + 1
        g = np.repeat(gs, span)
        r = groups.first[g] + np.arange(int(span.sum())) - np.repeat(np.cumsum(span) - span, span)
        key = g * n_layers + r
        miss = ~np.isin(key, present)
        if not miss.any():
            continue
        g, r = g[miss], r[miss]
        out_g.append(g)
        out_r.append(r)
        # the filler sits in every enclosing group too
        anc_g = g
        while len(anc_g):
            present = np.union1d(present, anc_g * n_layers + r)
            keep = groups.parent[anc_g] >= 0
            anc_g, r = groups.parent[anc_g[keep]], r[keep]
    if not out_g:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(out_g), np.concatenate(out_r)


@dataclass
class Slots:
    """Every layer's slots in left-to-right order, layers one after another."""

    lay: np.ndarray
    kind: np.ndarray
    item: np.ndarray  # item index, -1 for a border
    group: np.ndarray  # group index of a border, -1 for an item
    sep: np.ndarray  # distance from the previous slot of the layer (0 for the first)
    first: np.ndarray  # True for a layer's first slot
    item_slot: np.ndarray  # slot of each item


def make_slots(groups: Groups, lay, pos, width, is_dummy) -> Slots:
    """Items and group borders in order: a group's left border right before its first
    item of the layer (outer groups first), its right border right after its last."""
    n = len(lay)
    n_layers = int(lay.max()) + 1 if n else 0
    keys, firsts, lasts = [], [], []
    for c in groups.item_chain:
        has = np.nonzero(c >= 0)[0]
        if not len(has):
            continue
        key = c[has] * n_layers + lay[has]
        o = np.argsort(key, kind="stable")
        k = key[o]
        bounds = np.concatenate([[0], np.nonzero(np.diff(k))[0] + 1])
        keys.append(k[bounds])
        firsts.append(np.minimum.reduceat(pos[has][o], bounds))
        lasts.append(np.maximum.reduceat(pos[has][o], bounds))
    if keys:
        gk = np.concatenate(keys)
        first_pos = np.concatenate(firsts)
        last_pos = np.concatenate(lasts)
    else:
        gk = first_pos = last_pos = np.zeros(0, np.int64)
    g_of, r_of = gk // max(n_layers, 1), gk % max(n_layers, 1)
    dep = groups.depth[g_of] if len(g_of) else np.zeros(0, np.int64)
    m = len(gk)
    # one sort key: per position, left borders (outer first), the item, right borders
    # (inner first); a right border comes before the next position's left borders
    d_max = int(groups.depth.max()) if len(groups.depth) else 0
    step = 2 * d_max + 4
    key = np.concatenate(
        [pos * step + d_max + 2, first_pos * step + dep, last_pos * step + 2 * d_max + 3 - dep]
    )
    s_lay = np.concatenate([lay, r_of, r_of])
    key = key + s_lay * ((int(pos.max(initial=0)) + 2) * step)
    s_kind = np.concatenate(
        [np.where(is_dummy, DUMMY, BOX), np.full(m, LEFT), np.full(m, RIGHT)]
    ).astype(np.int64)
    s_item = np.concatenate([np.arange(n), np.full(2 * m, -1)])
    s_group = np.concatenate([np.full(n, -1), g_of, g_of])
    s_w = np.concatenate([width, np.zeros(2 * m)])
    o = np.argsort(key)
    s_lay, s_kind, s_item, s_group, s_w = s_lay[o], s_kind[o], s_item[o], s_group[o], s_w[o]
    first = np.ones(len(o), bool)
    first[1:] = s_lay[1:] != s_lay[:-1]
    # gap between consecutive slots, by kinds: [previous kind, this kind]
    table = np.array(
        [
            [NODE_SEP, DUMMY_SEP, GROUP_SEP, GROUP_PAD],
            [DUMMY_SEP, EDGE_SEP, DUMMY_SEP, GROUP_PAD],
            [GROUP_PAD, GROUP_PAD, GROUP_PAD, 2 * GROUP_PAD],
            [GROUP_SEP, DUMMY_SEP, GROUP_SEP, GROUP_PAD],
        ]
    )
    sep = np.zeros(len(o))
    sep[1:] = table[s_kind[:-1], s_kind[1:]] + (s_w[:-1] + s_w[1:]) / 2
    sep[first] = 0.0
    item_slot = np.empty(n, np.int64)
    is_item = s_item >= 0
    item_slot[s_item[is_item]] = np.nonzero(is_item)[0]
    return Slots(s_lay, s_kind, s_item, s_group, sep, first, item_slot)


def straight_links(seg_a: np.ndarray, seg_b: np.ndarray, follower: np.ndarray, n: int):
    """Next item (-1: none) of each item along a one-to-one link: an edge segment
    whose upper end feeds nothing else and whose lower end is fed by nothing else,
    followers (stubs, weight paths) not counted. Long edges' dummies are linked so,
    and so is a chain of ops, the data's main path."""
    nxt = np.full(n, -1, np.int64)
    keep = ~follower[seg_a]
    a, b = seg_a[keep], seg_b[keep]
    one = (np.bincount(a, minlength=n)[a] == 1) & (np.bincount(b, minlength=n)[b] == 1)
    nxt[a[one]] = b[one]
    return nxt


def straight_runs(slots: Slots, nxt: np.ndarray) -> np.ndarray:
    """Run id per item (-1 for none): items joined by one-to-one links (`nxt`) whose
    links cross no other such link and no group border, so they can share one x."""
    n = len(nxt)
    run = np.full(n, -1, np.int64)
    a = np.nonzero(nxt >= 0)[0]
    if not len(a):
        return run
    b = nxt[a]
    top = slots.item_slot[a]
    bot = slots.item_slot[b]
    # borders continuing from a layer to the next: the same group's border one layer down
    border = np.nonzero(slots.group >= 0)[0]
    bk = (slots.group[border] * 2 + (slots.kind[border] == RIGHT)) * (int(slots.lay.max()) + 2)
    bk = bk + slots.lay[border]
    o = np.argsort(bk)
    bk, border = bk[o], border[o]
    cont = np.nonzero(bk[1:] == bk[:-1] + 1)[0]
    e_top = np.concatenate([top, border[cont]])
    e_bot = np.concatenate([bot, border[cont + 1]])
    e_lay = slots.lay[e_top]
    o = np.lexsort((e_top, e_lay))
    e_lay_o = e_lay[o]
    starts = np.concatenate([[0], np.nonzero(np.diff(e_lay_o))[0] + 1])
    cnt = np.diff(np.concatenate([starts, [len(o)]]))
    idx = np.arange(len(o)) - np.repeat(starts, cnt)
    ob = np.lexsort((e_bot[o], e_lay_o))  # the same elements by their lower end
    rank_b = np.empty(len(o), np.int64)
    rank_b[ob] = np.arange(len(o)) - np.repeat(starts, cnt)
    lift = np.repeat(np.arange(len(starts)), cnt) * (len(o) + 1)
    cm = np.maximum.accumulate(rank_b + lift) - lift
    clear = np.empty(len(o), bool)
    clear[o] = (rank_b == idx) & (cm == idx)
    rigid = clear[: len(a)]
    # runs: maximal paths of rigid links; each item finds its run's first by doubling
    prv = np.full(n, -1, np.int64)
    prv[b[rigid]] = a[rigid]
    member = np.zeros(n, bool)
    member[a[rigid]] = True
    member[b[rigid]] = True
    head = np.where(prv >= 0, prv, np.arange(n))
    while True:
        nh = head[head]
        if np.array_equal(nh, head):
            break
        head = nh
    _, rid = np.unique(head[member], return_inverse=True)
    run[member] = rid
    return run


class _Direction:
    """The slots in the order one pass visits them (left to right, or right to left
    with layers bottom up), and the borders' dependencies in that order.

    In a pass, a slot's position is the largest of its own want and its left
    neighbour's position plus their gap. So a border's value is the largest of what
    the items between it and the previous border of each of its layers push it to,
    and of those previous borders' values plus the room in between: a longest path
    over the borders, which `levels` orders once for all passes.
    """

    def __init__(self, slots: Slots, glob: np.ndarray, c: np.ndarray, order: np.ndarray) -> None:
        n = len(order)
        self.order = order
        self.c = c[order]
        lay = slots.lay[order]
        first = np.ones(n, bool)
        first[1:] = lay[1:] != lay[:-1]
        self.layer_id = np.cumsum(first) - 1
        g = glob[order]
        self.glob = g
        is_border = g >= 0
        seg_start = first | is_border
        self.seg_id = np.cumsum(seg_start) - 1
        starts = np.nonzero(seg_start)[0]
        b = np.nonzero(is_border)[0]
        self.b_pos = b
        self.b_glob = g[b]
        self.b_after_first = ~first[b]  # something precedes it in its layer
        prev = np.maximum(b - 1, 0)
        p = starts[self.seg_id[prev]]  # where the stretch before the border starts
        has_prev = self.b_after_first & is_border[p]
        self.e_src = g[p[has_prev]]
        self.e_dst = g[b[has_prev]]
        self.e_w = self.c[b[has_prev]] - self.c[p[has_prev]]
        # borders by number, for the per-border maximum
        o = np.argsort(self.b_glob, kind="stable")
        self.b_sorted = o
        gl = self.b_glob[o]
        self.g_bounds = np.concatenate([[0], np.nonzero(np.diff(gl))[0] + 1]) if len(gl) else gl
        self.g_ids = gl[self.g_bounds] if len(gl) else gl
        # longest-path levels of the border graph: edges relaxed level by level
        n_glob = int(g.max()) + 1 if len(b) else 0
        level = np.zeros(n_glob, np.int64)
        for _ in range(n_glob + 1):
            new = level.copy()
            if len(self.e_src):
                np.maximum.at(new, self.e_dst, level[self.e_src] + 1)
            if np.array_equal(new, level):
                break
            level = new
        e_level = level[self.e_dst]
        o = np.argsort(e_level, kind="stable")
        self.e_src, self.e_dst, self.e_w = self.e_src[o], self.e_dst[o], self.e_w[o]
        el = e_level[o]
        self.level_bounds = np.concatenate([[0], np.nonzero(np.diff(el))[0] + 1, [len(el)]])
        item = slots.item[order]
        self.item_pos = np.nonzero(item >= 0)[0]
        self.item_of = item[self.item_pos]


class _Projector:
    """Closest positions honouring the slots' separations and the group borders.

    A border is one value for all its slots. `up` pushes rightwards from the wanted
    positions (each slot at least its want and at least its left neighbour plus the
    gap), `down` leftwards; their mean is feasible.
    """

    def __init__(self, slots: Slots, n_groups: int, run: np.ndarray | None = None) -> None:
        self.s = slots
        n = len(slots.lay)
        glob = np.full(n, -1, np.int64)
        border = slots.group >= 0
        glob[border] = slots.group[border] * 2 + (slots.kind[border] == RIGHT)
        self.n_runs = 0
        if run is not None and len(run) and run.max() >= 0:
            self.n_runs = int(run.max()) + 1
            slot_run = np.where(slots.item >= 0, run[np.maximum(slots.item, 0)], -1)
            glob[slot_run >= 0] = 2 * n_groups + slot_run[slot_run >= 0]
        self.n_groups = n_groups
        self.n_glob = 2 * n_groups + self.n_runs
        cum = np.cumsum(slots.sep)
        base = np.maximum.accumulate(np.where(slots.first, cum, 0.0))
        c_fwd = cum - base  # distance from the layer's first slot, when packed
        n_layers = int(slots.lay.max()) + 1 if n else 0
        last = np.ones(n, bool)
        last[:-1] = slots.lay[1:] != slots.lay[:-1]
        total = np.zeros(n_layers)
        total[slots.lay[last]] = c_fwd[last]
        c_bwd = total[slots.lay] - c_fwd  # distance to the layer's last slot
        self.fwd = _Direction(slots, glob, c_fwd, np.arange(n))
        self.bwd = _Direction(slots, glob, c_bwd, np.arange(n)[::-1])

    def _pass(self, want_item, want_run, d: _Direction, sign: float) -> np.ndarray:
        """One direction: sign +1 pushes right (x >= want), -1 pushes left (x <= want).
        Returns positions in slot order (a border nothing bounds: -inf / +inf)."""
        n = len(d.order)
        span = 4.0 * float(np.abs(want_item).max(initial=0.0)) + 4.0 * float(d.c.max()) + 1e4
        y = np.full(n, -np.inf)  # want minus packed distance: what a slot pushes onward
        y[d.item_pos] = sign * want_item[d.item_of] - d.c[d.item_pos]
        gval = np.full(self.n_glob, -np.inf)
        gwant = np.full(self.n_glob, -np.inf)
        if self.n_runs:
            gwant[2 * self.n_groups :] = sign * want_run
        if len(d.b_pos):
            y[d.b_pos] = -np.inf  # a shared value's slots: set below, from the value
            # what the items before each border slot (since the previous border) push
            lift = d.seg_id * span
            run = np.maximum.accumulate(y + lift) - lift
            pushed = np.where(d.b_after_first, run[np.maximum(d.b_pos - 1, 0)], -np.inf)
            pushed = pushed + d.c[d.b_pos]
            pushed[pushed < -span / 2] = -np.inf
            gval[d.g_ids] = np.maximum.reduceat(pushed[d.b_sorted], d.g_bounds)
            gval = np.maximum(gval, gwant)
            lb = d.level_bounds
            for k in range(len(lb) - 1):
                a, b = lb[k], lb[k + 1]
                np.maximum.at(gval, d.e_dst[a:b], gval[d.e_src[a:b]] + d.e_w[a:b])
            y[d.b_pos] = gval[d.b_glob] - d.c[d.b_pos]
        lift = d.layer_id * span
        x = np.maximum.accumulate(y + lift) - lift + d.c
        x[x < -span / 2] = -np.inf  # nothing bounds it on this side
        out = np.empty(n)
        out[d.order] = sign * x
        return out

    def project(self, want_item: np.ndarray, want_run: np.ndarray | None = None) -> np.ndarray:
        """Slot positions closest to the wants (items', and straight runs'): the mean of
        both passes (borders: NaN)."""
        with np.errstate(invalid="ignore"):
            up = self._pass(want_item, want_run, self.fwd, 1.0)
            return (up + self._pass(want_item, want_run, self.bwd, -1.0)) / 2

    def borders(self, x: np.ndarray, groups: Groups) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each group's left and right border, as tight around its content as allowed,
        and the slot positions with the borders filled in.

        Deepest groups first, so an outer border wraps the inner ones.
        """
        s = self.s
        x = x.copy()
        n_g = len(groups.scope)
        left = np.zeros(n_g)
        right = np.zeros(n_g)
        g_slot = s.group
        lefts = np.nonzero(s.kind == LEFT)[0]
        rights = np.nonzero(s.kind == RIGHT)[0]
        for d in range(int(groups.depth.max()) if n_g else 0, 0, -1):
            ls = lefts[groups.depth[g_slot[lefts]] == d]
            rs = rights[groups.depth[g_slot[rights]] == d]
            lv = np.full(n_g, np.inf)
            np.minimum.at(lv, g_slot[ls], x[ls + 1] - s.sep[ls + 1])
            rv = np.full(n_g, -np.inf)
            np.maximum.at(rv, g_slot[rs], x[rs - 1] + s.sep[rs])
            at = groups.depth == d
            left[at], right[at] = lv[at], rv[at]
            x[ls] = lv[g_slot[ls]]
            x[rs] = rv[g_slot[rs]]
        return left, right, x


def _straighten(x: np.ndarray, slots: Slots, run_slot: np.ndarray, target: np.ndarray) -> None:
    """Move each straight run (`run_slot`: run id per slot, -1 none) to one x, the
    closest to its `target` that keeps clear of its neighbours in every layer; a run
    that cannot be straightened stays as it is. In place on slot positions `x`.

    A run may take all the room next to a box or a border, and half the room next to
    another run, which may move toward it at the same time.
    """
    m = np.nonzero(run_slot >= 0)[0]
    if not len(m):
        return
    n = len(x)
    first_in_layer = slots.first[m]
    last_in_layer = np.ones(len(m), bool)
    has_next = m + 1 < n
    last_in_layer[has_next] = slots.first[m[has_next] + 1]
    prv = np.maximum(m - 1, 0)
    nxt = np.minimum(m + 1, n - 1)
    left_gap = np.where(first_in_layer, np.inf, x[m] - x[prv] - slots.sep[m])
    right_gap = np.where(last_in_layer, np.inf, x[nxt] - x[m] - slots.sep[nxt])
    left_share = np.where(~first_in_layer & (run_slot[prv] >= 0), 0.5, 1.0)
    right_share = np.where(~last_in_layer & (run_slot[nxt] >= 0), 0.5, 1.0)
    lo = x[m] - np.maximum(left_gap, 0.0) * left_share
    hi = x[m] + np.maximum(right_gap, 0.0) * right_share
    r = run_slot[m]
    n_runs = len(target)
    lo_r = np.full(n_runs, -np.inf)
    hi_r = np.full(n_runs, np.inf)
    np.maximum.at(lo_r, r, lo)
    np.minimum.at(hi_r, r, hi)
    ok = lo_r <= hi_r
    new = np.clip(target, lo_r, np.maximum(hi_r, lo_r))
    move = ok[r]
    x[m[move]] = new[r[move]]


def assign_x(
    groups: Groups,
    lay: np.ndarray,
    pos: np.ndarray,
    width: np.ndarray,
    is_dummy: np.ndarray,
    seg_a: np.ndarray,
    seg_b: np.ndarray,
    follower: np.ndarray,
    iterations: int = 8,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    """x centre of each item and each group's left and right border.

    Items are pulled to the weighted mean of their neighbours along edges (edges
    through dummies count more, so long edges straighten) and projected back onto the
    constraints; `follower` items (parameter stubs) follow their neighbour and pull
    nobody. Last, each long edge's straight runs are set to one x where there is room.
    """
    n = len(lay)
    if n == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0), {}
    slots = make_slots(groups, lay, pos, width, is_dummy)
    links = straight_links(seg_a, seg_b, follower, n)
    run = straight_runs(slots, links)
    n_runs = int(run.max()) + 1 if len(run) and run.max() >= 0 else 0
    # small layouts: a run is one shared value of the projection, straight by force;
    # large ones: straightened afterwards where there is room (sharing costs passes)
    hard = n <= HARD_RUNS_MAX
    proj = _Projector(slots, len(groups.scope), run if hard else None)

    wgt = np.where(is_dummy[seg_a] | is_dummy[seg_b], 4.0, 1.0)
    wgt = np.where((is_dummy[seg_a] & is_dummy[seg_b]) | (links[seg_a] == seg_b), 16.0, wgt)
    inner = (run[seg_a] >= 0) & (run[seg_a] == run[seg_b])
    if hard:
        wgt = np.where(inner, 0.0, wgt)  # a run's own links pull nothing
    w_up = wgt * 8.0  # toward what an item feeds: a box sits above its consumer
    w_down = np.where(follower[seg_a], 0.0, wgt)
    members = np.nonzero(run >= 0)[0]

    def run_want(num: np.ndarray, den: np.ndarray, x: np.ndarray) -> np.ndarray:
        rn = np.bincount(run[members], weights=num[members], minlength=n_runs)
        rd = np.bincount(run[members], weights=den[members], minlength=n_runs)
        mean = np.bincount(run[members], weights=x[members], minlength=n_runs)
        mean /= np.maximum(np.bincount(run[members], minlength=n_runs), 1)
        return np.where(rd > 0, rn / np.maximum(rd, 1e-12), mean)

    x_slot = proj.project(np.zeros(n), np.zeros(n_runs))
    x = x_slot[slots.item_slot]
    for it in range(iterations):
        num = np.zeros(n)
        den = np.zeros(n)
        if it % 3 != 1:
            num += np.bincount(seg_b, weights=x[seg_a] * w_down, minlength=n)
            den += np.bincount(seg_b, weights=w_down, minlength=n)
        if it % 3 != 0:
            num += np.bincount(seg_a, weights=x[seg_b] * w_up, minlength=n)
            den += np.bincount(seg_a, weights=w_up, minlength=n)
        want = np.where(den > 0, num / np.maximum(den, 1e-12), x)
        x_slot = proj.project(want, run_want(num, den, x) if hard and n_runs else None)
        x = x_slot[slots.item_slot]
    left, right, full = proj.borders(x_slot, groups)

    if n_runs and not hard:
        run_slot = np.where(slots.item >= 0, run[np.maximum(slots.item, 0)], -1)
        wa = np.where(inner, 0.0, w_down + w_up)
        for _ in range(3):
            x = full[slots.item_slot]
            num = np.bincount(seg_b, weights=x[seg_a] * wa, minlength=n)
            num += np.bincount(seg_a, weights=x[seg_b] * wa, minlength=n)
            den = np.bincount(seg_b, weights=wa, minlength=n)
            den += np.bincount(seg_a, weights=wa, minlength=n)
            _straighten(full, slots, run_slot, run_want(num, den, x))
        left, right, full = proj.borders(full, groups)
    x = full[slots.item_slot]
    return x, left, right, {"runs": n_runs}


def assign_y(groups: Groups, lay: np.ndarray, height: np.ndarray):
    """Layer tops and heights, and each group's top and bottom.

    The gap above a layer holds the titles (and padding) of the groups that start
    there, nested ones stacked, and the bottom padding of those that end just above.
    """
    n_layers = int(lay.max()) + 1 if len(lay) else 0
    if n_layers == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0)
    layer_h = np.zeros(n_layers)
    np.maximum.at(layer_h, lay, height)
    layer_h = np.maximum(layer_h, 8.0)
    n_g = len(groups.scope)
    ext_top = np.zeros(n_g)
    ext_bot = np.zeros(n_g)
    child_top = np.zeros(n_g)
    child_bot = np.zeros(n_g)
    for d in range(int(groups.depth.max()) if n_g else 0, 0, -1):
        at = np.nonzero(groups.depth == d)[0]
        ext_top[at] = TITLE_H + GROUP_PAD + child_top[at]
        ext_bot[at] = GROUP_PAD + child_bot[at]
        par = groups.parent[at]
        has = par >= 0
        same_first = has & (groups.first[at] == groups.first[np.maximum(par, 0)])
        np.maximum.at(child_top, par[same_first], ext_top[at][same_first])
        same_last = has & (groups.last[at] == groups.last[np.maximum(par, 0)])
        np.maximum.at(child_bot, par[same_last], ext_bot[at][same_last])
    top_need = np.zeros(n_layers)
    bot_need = np.zeros(n_layers)
    if n_g:
        np.maximum.at(top_need, groups.first, ext_top)
        np.maximum.at(bot_need, groups.last, ext_bot)
    gaps = LAYER_GAP + top_need
    gaps[1:] += bot_need[:-1]
    tops = np.cumsum(gaps + np.concatenate([[0.0], layer_h[:-1]]))
    g_top = tops[groups.first] - ext_top if n_g else np.zeros(0)
    g_bot = tops[groups.last] + layer_h[groups.last] + ext_bot if n_g else np.zeros(0)
    return tops, layer_h, g_top, g_bot


def routes(
    chain: np.ndarray,
    chain_off: np.ndarray,
    xs: np.ndarray,
    lay: np.ndarray,
    box_top: np.ndarray,
    box_bottom: np.ndarray,
    layer_top: np.ndarray,
    layer_h: np.ndarray,
    reversed_e: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Edge points: from the source's bottom straight down out of its layer, through each
    dummy's layer vertically, straight down into the target's top. Between layers a
    route may shift sideways; that is where `gui.graph.layout.edge_curves` bends it."""
    n_e = len(chain_off) - 1
    if n_e == 0:
        return np.zeros(1, np.int64), np.zeros((0, 2))
    src = chain[chain_off[:-1]]
    dst = chain[chain_off[1:] - 1]
    nxt = chain[chain_off[:-1] + 1]  # the next point of each edge: a dummy or the target
    prv = chain[chain_off[1:] - 2]
    out_off = _port_offsets(src, xs[nxt])
    in_off = _port_offsets(dst, xs[prv])
    band_bottom = layer_top + layer_h
    sx = xs[src] + out_off
    dx = xs[dst] + in_off
    s_bot = box_bottom[src]
    d_top = box_top[dst]
    s_drop = s_bot < band_bottom[lay[src]] - 0.5
    d_drop = d_top > layer_top[lay[dst]] + 0.5
    interior = chain_off[1:] - chain_off[:-1] - 2
    n_pts = 2 + 2 * interior + s_drop + d_drop
    off = np.zeros(n_e + 1, np.int64)
    np.cumsum(n_pts, out=off[1:])
    pts = np.empty((int(off[-1]), 2))
    e = np.arange(n_e)
    pts[off[:-1], 0] = sx
    pts[off[:-1], 1] = s_bot
    k = off[:-1] + 1
    pts[k[s_drop], 0] = sx[s_drop]
    pts[k[s_drop], 1] = band_bottom[lay[src[s_drop]]]
    base = off[:-1] + 1 + s_drop
    has = interior > 0
    if has.any():
        ee = np.repeat(e[has], interior[has])
        j = np.arange(len(ee)) - np.repeat(np.cumsum(interior[has]) - interior[has], interior[has])
        node = chain[chain_off[ee] + 1 + j]
        at = base[ee] + 2 * j
        pts[at, 0] = xs[node]
        pts[at, 1] = layer_top[lay[node]]
        pts[at + 1, 0] = xs[node]
        pts[at + 1, 1] = band_bottom[lay[node]]
    end = off[1:] - 1
    pts[end[d_drop] - 1, 0] = dx[d_drop]
    pts[end[d_drop] - 1, 1] = layer_top[lay[dst[d_drop]]]
    pts[end, 0] = dx
    pts[end, 1] = d_top
    # reversed edges: flip so the arrow tip (last point) is the real target
    for i in np.nonzero(reversed_e)[0].tolist():
        pts[off[i] : off[i + 1]] = pts[off[i] : off[i + 1]][::-1].copy()
    return off, pts


def _port_offsets(owner: np.ndarray, other_x: np.ndarray) -> np.ndarray:
    """Offsets spreading the edges of one box by the x of their other end."""
    if not len(owner):
        return np.zeros(0)
    lo, hi = float(other_x.min()), float(other_x.max())
    o = np.argsort(owner * (hi - lo + 1.0) + (other_x - lo))  # by owner, then other end
    own = owner[o]
    cnt = np.bincount(owner)
    first = np.concatenate([[0], np.cumsum(cnt)[:-1]])
    rank = np.arange(len(o)) - first[own]
    k = cnt[own]
    off = np.empty(len(o))
    off[o] = (rank - (k - 1) / 2) * np.minimum(10.0, 40.0 / np.maximum(k, 1))
    return off
