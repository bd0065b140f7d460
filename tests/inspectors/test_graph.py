"""The neutral Graph: schema, scope tree, order, exports."""

import json
import xml.etree.ElementTree as ET

import pytest

from inspectors.graph import NODE_KEYS, Graph


def small_graph() -> Graph:
    g = Graph("mlp", "torch", capture="fx")
    g.add_node("x", kind="input", op="placeholder", outputs=[((1, 10), "float32")])
    g.add_node(
        "fc1.weight", kind="param", op="parameter", scope=("fc1",), outputs=[((20, 10), "float32")]
    )
    g.add_node(
        "fc1",
        kind="module",
        op="Linear",
        scope=("fc1",),
        outputs=[((1, 20), "float32")],
        source="m.py:3",
    )
    g.add_node("mul", kind="op", op="mul", outputs=[((1, 20), "float32")])
    g.add_node("out", kind="output", op="output")
    g.add_edge("x", "fc1", dst_index=0)
    g.add_edge("fc1.weight", "fc1", dst_index=1)
    g.add_edge("fc1", "mul", dst_index=0)
    g.add_edge("fc1", "mul", dst_index=1)  # x * x: one producer, two slots
    g.add_edge("mul", "out")
    return g


def test_schema_holds_and_edges_take_producer_shapes():
    g = small_graph()
    assert g.validate() == []
    for n in g.nodes:
        assert set(NODE_KEYS) <= set(g.node(n))
    edges = [(s, d, a["shape"]) for s, d, a in g.edges()]
    assert ("fc1", "mul", (1, 20)) in edges
    assert g.number_of_edges() == 5
    assert g.inputs_of("fc1") == ["x", "fc1.weight"]


def test_validate_finds_order_and_kind_problems():
    g = small_graph()
    g.order = ["mul", "x", "fc1.weight", "fc1", "out"]
    assert any("before its input" in p for p in g.validate())
    with pytest.raises(ValueError, match="kind"):
        g.add_node("bad", kind="banana", op="x")
    with pytest.raises(KeyError):
        g.add_edge("x", "nowhere")


def test_scope_tree_nests_nodes_under_their_scopes():
    g = small_graph()
    tree = g.scope_tree()
    assert sorted(tree.children) == ["fc1"]
    assert tree.children["fc1"].nodes == ["fc1.weight", "fc1"]
    assert set(tree.all_nodes()) == set(g.nodes)


def test_json_round_trips_with_subgraphs():
    g = small_graph()
    body = Graph("body", "torch")
    body.add_node("i", kind="input", op="placeholder", outputs=[((), "int32")])
    g.subgraphs["body"] = body
    g.add_node("loop", kind="op", op="While", subgraph="body")
    back = Graph.from_json(g.to_json())
    assert back.to_dict() == g.to_dict()
    assert back.node("fc1")["scope"] == ("fc1",)
    assert back.node("fc1")["outputs"] == (((1, 20), "float32"),)
    assert back.subgraphs["body"].order == ["i"]
    assert back.meta["capture"] == "fx"
    assert json.loads(g.to_json())["graph"]["order"][0] == "x"


def test_graphml_and_dot_are_well_formed():
    g = small_graph()
    root = ET.fromstring(g.to_graphml())
    assert root.tag.endswith("graphml")
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    assert len(root.findall(".//g:node", ns)) == len(g)
    assert len(root.findall(".//g:edge", ns)) == g.number_of_edges()
    dot = g.to_dot()
    assert dot.startswith('digraph "mlp" {')
    assert 'subgraph "cluster_fc1"' in dot
    assert dot.count("->") == g.number_of_edges()
