"""Graph diff: node and edge matching, where two executions part, layers across frameworks."""

import math

import numpy as np
import pytest

from inspectors.capture import capture
from inspectors.diff import GraphDiff, align, diff_graphs, match_layers, numeric_diff
from inspectors.graph import Graph
from inspectors.target import TargetError, load_target


@pytest.fixture(scope="module")
def dynamic_pair() -> tuple[Graph, Graph]:
    a = capture(load_target("dynamic_torch"), "eager").graph
    b = capture(load_target("dynamic_torch@other_inputs"), "eager").graph
    return a, b


def distinct_edges(graph: Graph) -> set[tuple[str, str]]:
    return set(graph.nx.edges())


def check_consistent(d: GraphDiff, a: Graph, b: Graph) -> None:
    """Every node and distinct edge of each graph is in exactly one list."""
    assert len(d.only_a) + len(d.common) == a.nx.number_of_nodes()
    assert len(d.only_b) + len(d.common) == b.nx.number_of_nodes()
    common_a = [x for x, _ in d.common]
    common_b = [y for _, y in d.common]
    assert len(set(common_a)) == len(common_a) and len(set(common_b)) == len(common_b)
    assert set(common_a) | set(d.only_a) == set(a.nx.nodes)
    assert set(common_b) | set(d.only_b) == set(b.nx.nodes)
    for x, y in d.common:
        assert a.node(x)["op"] == b.node(y)["op"] and a.node(x)["kind"] == b.node(y)["kind"]
    assert len(d.edges_only_a) + len(d.edges_common) == len(distinct_edges(a))
    assert len(d.edges_only_b) + len(d.edges_common) == len(distinct_edges(b))
    assert {e for e, _ in d.edges_common} | set(d.edges_only_a) == distinct_edges(a)
    assert {e for _, e in d.edges_common} | set(d.edges_only_b) == distinct_edges(b)
    pairs = dict(d.common)
    for (sa, da), (sb, db) in d.edges_common:
        assert pairs[sa] == sb and pairs[da] == db


def test_a_graph_diffed_with_itself_is_all_common(dynamic_pair):
    a, _ = dynamic_pair
    d = diff_graphs(a, a)
    assert d.only_a == [] and d.only_b == [] and d.edges_only_a == [] and d.edges_only_b == []
    assert d.common == [(n, n) for n in a.order]
    assert len(d.edges_common) == len(distinct_edges(a))
    assert d.first_divergence() == (None, None)
    check_consistent(d, a, a)


def test_a_tensorflow_graph_diffed_with_a_fresh_capture_is_all_common():
    a = capture(load_target("feedforward_keras")).graph
    b = capture(load_target("feedforward_keras")).graph
    d = diff_graphs(a, b)
    assert d.only_a == [] and d.only_b == []
    check_consistent(d, a, b)


def test_two_inputs_of_a_dynamic_model_part_where_the_loop_runs_longer(dynamic_pair):
    a, b = dynamic_pair
    d = diff_graphs(a, b)
    check_consistent(d, a, b)
    assert d.only_a and d.only_b

    first_a, first_b = d.first_divergence()
    assert first_a is not None and first_b is not None
    # Before the parting point every executed node is matched, in the same order.
    prefix_a = a.order[: a.order.index(first_a)]
    prefix_b = b.order[: b.order.index(first_b)]
    assert set(prefix_a) <= {x for x, _ in d.common}
    assert set(prefix_b) <= {y for _, y in d.common}

    def cells(graph: Graph, nodes: list[str]) -> int:
        return sum(graph.node(n)["op"] == "rnn_tanh_cell" for n in nodes)

    # A ran 3 time steps and B 5: B parts right after its third step, to run a fourth.
    assert cells(a, a.order) == 3 and cells(b, b.order) == 5
    assert cells(b, prefix_b) == 3
    assert b.node(first_b)["op"] == "getitem"
    # A has no more steps: it parts where it takes the positive head.
    assert cells(a, prefix_a) == 3
    assert a.node(first_a)["scope"] == ("positive_head",)

    only_b_scopes = {b.node(n)["scope"][:1] for n in d.only_b}
    assert ("negative_head",) in only_b_scopes
    assert not any(a.node(n)["scope"][:1] == ("negative_head",) for n in d.only_a)
    # Ids shifted (B's mean is op_0011, A's op_0007) yet the means are matched.
    means = [(x, y) for x, y in d.common if a.node(x)["op"] == "mean"]
    assert means == [("op_0007", "op_0011")]
    assert ("output", "output") in d.common


def test_to_dict_is_json_with_pairs_and_counts(dynamic_pair):
    import json

    a, b = dynamic_pair
    data = json.loads(json.dumps(diff_graphs(a, b).to_dict()))
    for key in ("only_a", "only_b", "common", "edges_only_a", "edges_only_b", "edges_common"):
        assert key in data
    assert all(len(p) == 2 for p in data["common"])
    assert all(len(p) == 2 and len(p[0]) == 2 for p in data["edges_common"])
    s = data["summary"]
    assert s["nodes_a"] == len(a) and s["nodes_b"] == len(b)
    assert s["edges_a"] == len(distinct_edges(a)) and s["edges_b"] == len(distinct_edges(b))
    assert s["common"] == len(data["common"])


def chain(ops: list[str], *, prefix: str = "n", twice: str | None = None) -> Graph:
    """input -> ops... -> output; `twice` feeds its node from the previous one twice (x * x)."""
    g = Graph("chain", "torch")
    g.add_node("x", kind="input", op="input")
    g.add_node("w", kind="param", op="param", label="layer.weight", scope=("layer",))
    prev = "x"
    for i, op in enumerate(ops):
        node = f"{prefix}{i}"
        g.add_node(node, kind="op", op=op, scope=("layer",) if op == "linear" else ())
        g.add_edge(prev, node)
        if op == twice:
            g.add_edge(prev, node, dst_index=1)
        if op == "linear":
            g.add_edge("w", node, dst_index=1)
        prev = node
    g.add_node("output", kind="output", op="output")
    g.add_edge(prev, "output")
    return g


def test_an_inserted_node_is_the_only_difference():
    a = chain(["linear", "relu", "linear", "mul", "sum"], twice="mul")
    b = chain(["linear", "relu", "dropout", "linear", "mul", "sum"], prefix="m", twice="mul")
    d = diff_graphs(a, b)
    check_consistent(d, a, b)
    assert d.only_a == []
    assert d.only_b == ["m2"]
    assert ("n2", "m3") in d.common and ("w", "w") in d.common
    assert d.first_divergence() == (None, "m2")
    # relu -> linear is replaced by relu -> dropout -> linear.
    assert d.edges_only_a == [("n1", "n2")]
    assert sorted(d.edges_only_b) == [("m1", "m2"), ("m2", "m3")]


def test_a_renamed_parameter_is_not_matched():
    a = chain(["linear"])
    b = chain(["linear"])
    b.node("w")["label"] = "layer.other"
    d = diff_graphs(a, b)
    assert d.only_a == ["w"] and d.only_b == ["w"]
    assert ("n0", "n0") in d.common
    check_consistent(d, a, b)


def test_nodes_outside_the_order_match_by_key():
    a = chain(["relu"])
    b = chain(["relu"])
    for g in (a, b):
        g.add_node("unused", kind="param", op="param", label="spare", in_order=False)
    b.add_node("dead", kind="const", op="Const", label="dead", in_order=False)
    d = diff_graphs(a, b)
    assert ("unused", "unused") in d.common
    assert d.only_b == ["dead"]
    assert d.first_divergence() == (None, None)  # "dead" never ran
    check_consistent(d, a, b)


def test_diff_is_deterministic(dynamic_pair):
    a, b = dynamic_pair
    assert diff_graphs(a, b) == diff_graphs(a, b)


def test_align_keeps_order_and_matches_equal_keys():
    a = list("abcabba") * 300
    b = list("cbabac") * 400
    pairs = align(a, b)
    assert all(a[i] == b[j] for i, j in pairs)
    assert all(p[0] < q[0] and p[1] < q[1] for p, q in zip(pairs, pairs[1:], strict=False))
    assert align(list("xyz"), list("xyz")) == [(0, 0), (1, 1), (2, 2)]
    assert align([], list("x")) == []


def test_large_graphs_with_scattered_insertions_match_everything_else():
    def big(n: int, extra: set[int]) -> Graph:
        g = Graph("big", "torch")
        g.add_node("x", kind="input", op="input")
        prev = "x"
        for i in range(n):
            if i in extra:
                g.add_node(f"extra{i}", kind="op", op="dropout")
                g.add_edge(prev, f"extra{i}")
                prev = f"extra{i}"
            node = f"op_{i:05d}"
            g.add_node(node, kind="op", op=("linear", "relu", "add")[i % 3], scope=(str(i // 30),))
            g.add_edge(prev, node)
            prev = node
        return g

    extra = set(range(5, 5000, 499))
    a, b = big(5000, set()), big(5000, extra)
    d = diff_graphs(a, b)
    assert sorted(d.only_b) == sorted(f"extra{i}" for i in extra)
    assert d.only_a == []
    check_consistent(d, a, b)


def test_match_layers_pairs_torch_layers_with_keras_layers_in_order():
    torch_graph = capture(load_target("feedforward_torch"), "fx").graph
    keras_graph = capture(load_target("feedforward_keras")).graph
    pairs = match_layers(torch_graph, keras_graph)
    by_torch = dict(pairs)
    assert set(by_torch) == {"fc1", "relu", "fc2"}
    fc1, fc2 = keras_graph.node(by_torch["fc1"]), keras_graph.node(by_torch["fc2"])
    assert fc1["op"] == "MatMul" and fc1["scope"][-1] == "fc1"  # the first Dense
    assert fc2["op"] == "MatMul" and fc2["scope"][-1] == "fc2"  # the second Dense
    assert keras_graph.node(by_torch["relu"])["op"] == "Relu"
    # Either way round.
    assert match_layers(keras_graph, torch_graph) == [(y, x) for x, y in pairs]


def test_match_layers_pairs_the_cnn_layer_by_layer():
    torch_graph = capture(load_target("cnn_torch"), "fx").graph
    keras_graph = capture(load_target("cnn_keras")).graph
    pairs = match_layers(torch_graph, keras_graph)
    expected = {
        "conv1": ("Conv2D", "conv1"),
        "relu1": ("Relu", "conv1"),
        "pool1": ("MaxPool", "pool1"),
        "conv2": ("Conv2D", "conv2"),
        "relu2": ("Relu", "conv2"),
        "pool2": ("MaxPool", "pool2"),
        "flatten": ("Reshape", "flatten"),
        "classifier": ("MatMul", "classifier"),
    }
    assert [x for x, _ in pairs] == list(expected)
    for x, y in pairs:
        node = keras_graph.node(y)
        assert (node["op"], node["scope"][-1]) == expected[x]


def test_numeric_diff_reports_abs_and_relative_error():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 5)).astype(np.float32) + 3.0
    y = x.copy()
    y[1, 2] += 0.5
    values_a = {"p": x, "q": x, "r": np.ones(3), "s": np.array([np.nan, 1.0])}
    values_b = {"P": y, "Q": x.copy(), "R": np.ones(4), "S": np.array([np.nan, 1.0])}
    pairs = [("p", "P"), ("q", "Q"), ("r", "R"), ("s", "S"), ("missing", "P")]
    out = numeric_diff(values_a, values_b, pairs)
    assert set(out) == {"p", "q", "r", "s"}
    abs_p, rel_p = out["p"]
    assert abs_p == pytest.approx(0.5, rel=1e-5)
    assert rel_p == pytest.approx(0.5 / max(abs(x[1, 2]), abs(y[1, 2])), rel=1e-5)
    assert out["q"] == (0.0, 0.0)
    assert out["r"] == (math.inf, math.inf)
    assert out["s"] == (0.0, 0.0)
    nan_vs_number = numeric_diff({"a": np.array([np.nan])}, {"b": np.array([1.0])}, [("a", "b")])
    assert nan_vs_number["a"] == (math.inf, math.inf)


def test_spec_with_an_inputs_function():
    target = load_target("dynamic_torch@other_inputs")
    assert tuple(target.example_inputs[0].shape) == (2, 5, 4)
    assert target.spec == "dynamic_torch@other_inputs"
    assert tuple(load_target("dynamic_torch").example_inputs[0].shape) == (2, 3, 4)


def test_spec_with_a_missing_inputs_function():
    with pytest.raises(TargetError, match="has no inputs function 'nowhere'"):
        load_target("dynamic_torch@nowhere")
