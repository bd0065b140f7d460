"""The layered layout: pure numpy, no Qt."""

import itertools

import numpy as np

from bench.synthetic import layered_graph, subgraph_graph, transformer_graph
from gui.graph.layout import NODE, SCOPE, STUB, count_crossings, layout_graph, scopes_deeper_than
from inspectors.graph import Graph


def _chain_graph() -> Graph:
    g = Graph("small", "torch")
    g.add_node("x", kind="input", op="placeholder")
    for name, scope in (("a", ("enc",)), ("b", ("enc",)), ("c", ("dec",)), ("d", ("dec",))):
        g.add_node(name, kind="op", op="relu", scope=scope)
    g.add_node("y", kind="output", op="output")
    for s, d in (("x", "a"), ("a", "b"), ("b", "c"), ("c", "d"), ("d", "y"), ("a", "d")):
        g.add_edge(s, d)
    return g


def _no_overlap_within_layers(layout) -> None:
    r = layout.rects
    for y in np.unique(r[:, 1] + r[:, 3] / 2):
        row = r[np.isclose(r[:, 1] + r[:, 3] / 2, y)]
        row = row[np.argsort(row[:, 0])]
        assert np.all(row[1:, 0] >= row[:-1, 0] + row[:-1, 2] - 1e-6)


def test_small_graph_edges_point_down_and_boxes_do_not_overlap():
    layout = layout_graph(_chain_graph())
    assert layout.visible_count == 6
    _no_overlap_within_layers(layout)
    for e in range(len(layout.edge_src)):
        pts = layout.edge_pts[layout.edge_off[e] : layout.edge_off[e + 1]]
        assert np.all(np.diff(pts[:, 1]) >= -1e-6), "edges run top to bottom"
        src = layout.rects[layout.edge_src[e]]
        dst = layout.rects[layout.edge_dst[e]]
        assert src[1] + src[3] <= dst[1]
    assert layout.crossings == 0
    assert set(layout.group_scopes) == {("enc",), ("dec",)}


def test_collapsed_scope_becomes_one_box():
    g = _chain_graph()
    layout = layout_graph(g, {("enc",)})
    assert layout.visible_count == 5
    box = layout.scope_box[("enc",)]
    assert layout.kinds[box] == SCOPE and layout.members[box] == 2
    assert layout.boxes_of("a") == layout.boxes_of("b") == [box]
    assert ("enc",) not in layout.group_scopes


def test_crossings_of_a_known_graph():
    # two layers, edges (0->1) and (1->0) cross once in that order
    lay = np.array([0, 0, 1, 1])
    pos = np.array([0, 1, 0, 1])
    assert count_crossings(lay, pos, np.array([0, 1]), np.array([3, 2])) == 1
    assert count_crossings(lay, pos, np.array([0, 1]), np.array([2, 3])) == 0
    # a K(2,2) has exactly one crossing however it is ordered
    a, b = np.array([0, 0, 1, 1]), np.array([2, 3, 2, 3])
    assert count_crossings(lay, pos, a, b) == 1


def test_barycenter_sweeps_untangle_a_twisted_graph():
    g = Graph("twist", "torch")
    g.add_node("x", kind="input", op="placeholder")
    for name in ("a1", "a2", "a3", "b3", "b2", "b1"):
        g.add_node(name, kind="op", op="relu")
    for i in (1, 2, 3):
        g.add_edge("x", f"a{i}")
        g.add_edge(f"a{i}", f"b{i}")
    assert layout_graph(g).crossings == 0


def test_shared_inputs_are_stubs_above_each_consumer():
    g = transformer_graph(layers=4)
    layout = layout_graph(g)
    stubs = np.nonzero(layout.kinds == STUB)[0]
    mask_stubs = [b for b in stubs if layout.ids[b] == "attention_mask"]
    assert len(mask_stubs) == 4
    for b in mask_stubs:
        e = np.nonzero(layout.edge_src == b)[0]
        assert len(e) == 1
        dst = layout.rects[layout.edge_dst[e[0]]]
        # right above: the next layer, no long edge
        assert 0 < dst[1] - (layout.rects[b][1] + layout.rects[b][3]) < 120


def test_hidden_plumbing_is_bridged():
    g = subgraph_graph()
    layout = layout_graph(g)
    assert "x_id" not in layout.ids
    x, mul = layout.boxes_of("x")[0], layout.boxes_of("mul")[0]
    pairs = set(zip(layout.edge_src.tolist(), layout.edge_dst.tolist(), strict=True))
    assert (x, mul) in pairs


def test_large_graph_collapses_and_expands():
    g = layered_graph(3000, width=20, seed=1)
    full = layout_graph(g)
    assert (
        full.visible_count
        == len([n for n, d in g.nx.nodes(data=True) if d["kind"] not in ("param",)]) - 2
    )  # x and mask: stubs
    _no_overlap_within_layers(full)
    shut = layout_graph(g, scopes_deeper_than(g, 0))
    assert shut.visible_count < 20
    assert all(layout_kind in (NODE, SCOPE, STUB) for layout_kind in shut.kinds.tolist())


def _two_layer_tf_like_graph() -> Graph:
    """x -> l1/MatMul -> l1/BiasAdd -> l1/Relu -> l2/MatMul -> y, each MatMul reading its weight
    through a ReadVariableOp (and l2's through a Cast), plus a dead constant in l2."""
    g = Graph("tf_like", "tensorflow")
    g.add_node("x", kind="input", op="Placeholder")
    for layer in ("l1", "l2"):
        g.add_node(f"{layer}/kernel", kind="param", op="Placeholder", scope=(layer,))
        g.add_node(f"{layer}/read", kind="op", op="ReadVariableOp", scope=(layer,))
        g.add_edge(f"{layer}/kernel", f"{layer}/read")
    g.add_node("l1/MatMul", kind="op", op="MatMul", scope=("l1",))
    g.add_node("l1/BiasAdd", kind="op", op="BiasAdd", scope=("l1",))
    g.add_node("l1/Relu", kind="op", op="Relu", scope=("l1",))
    g.add_node("l2/dead", kind="const", op="Const", scope=("l2",))
    g.add_node("l2/Cast", kind="op", op="Cast", scope=("l2",))
    g.add_node("l2/MatMul", kind="op", op="MatMul", scope=("l2",))
    g.add_node("y", kind="output", op="output")
    for s, d in (
        ("x", "l1/MatMul"),
        ("l1/read", "l1/MatMul"),
        ("l1/MatMul", "l1/BiasAdd"),
        ("l1/BiasAdd", "l1/Relu"),
        ("l1/Relu", "l2/MatMul"),
        ("l2/read", "l2/Cast"),
        ("l2/Cast", "l2/MatMul"),
        ("l2/MatMul", "y"),
    ):
        g.add_edge(s, d)
    g.order = [
        "x", "l1/kernel", "l1/read", "l1/MatMul", "l1/BiasAdd", "l1/Relu",
        "l2/kernel", "l2/read", "l2/dead", "l2/Cast", "l2/MatMul", "y",
    ]  # fmt: skip
    return g


def test_what_depends_on_no_input_sits_just_above_its_user():
    layout = layout_graph(_two_layer_tf_like_graph())
    _no_overlap_within_layers(layout)

    def top(node: str) -> float:
        return float(layout.rects[layout.boxes_of(node)[0], 1])

    # l2's weight read and its cast are laid right above l2's MatMul, below all of l1
    # (not at the top beside l1's first ops); the dead constant sits beside what runs
    # after it; the two layers' boxes do not overlap
    assert top("l1/Relu") < top("l2/read") < top("l2/Cast") < top("l2/MatMul")
    assert top("l2/dead") == top("l2/Cast")
    assert top("l1/read") < top("l1/MatMul")
    l1, l2 = (layout.group_rects[layout.group_scopes.index((s,))] for s in ("l1", "l2"))
    assert l1[1] + l1[3] <= l2[1]


def test_sibling_scope_boxes_of_a_keras_like_graph_do_not_overlap():
    g = Graph("deep", "tensorflow")
    g.add_node("x", kind="input", op="Placeholder")
    previous = "x"
    for i in range(6):
        scope = ("model", f"dense_{i}")
        g.add_node(f"w{i}", kind="param", op="Placeholder", scope=scope)
        for op in ("read", "MatMul", "bread", "BiasAdd", "Relu"):
            g.add_node(f"{op}{i}", kind="op", op=op, scope=scope)
        g.add_node(f"b{i}", kind="param", op="Placeholder", scope=scope)
        for s, d in (
            (f"w{i}", f"read{i}"),
            (previous, f"MatMul{i}"),
            (f"read{i}", f"MatMul{i}"),
            (f"b{i}", f"bread{i}"),
            (f"MatMul{i}", f"BiasAdd{i}"),
            (f"bread{i}", f"BiasAdd{i}"),
            (f"BiasAdd{i}", f"Relu{i}"),
        ):
            g.add_edge(s, d)
        previous = f"Relu{i}"
    g.add_node("y", kind="output", op="output")
    g.add_edge(previous, "y")
    # TensorFlow runs every weight read first
    reads = [n for i in range(6) for n in (f"w{i}", f"read{i}", f"b{i}", f"bread{i}")]
    rest = [n for i in range(6) for n in (f"MatMul{i}", f"BiasAdd{i}", f"Relu{i}")]
    g.order = ["x", *reads, *rest, "y"]
    layout = layout_graph(g)
    _no_overlap_within_layers(layout)
    rects = [
        layout.group_rects[layout.group_scopes.index(("model", f"dense_{i}"))] for i in range(6)
    ]
    for upper, lower in itertools.pairwise(rects):
        assert upper[1] + upper[3] <= lower[1]
