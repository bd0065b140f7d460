"""TensorFlow capture: every TF sample, the graph schema, variables, scopes, nested functions."""

from __future__ import annotations

import random
import re
from types import SimpleNamespace

import networkx as nx
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from inspectors.capture import capture  # noqa: E402
from inspectors.graph import NODE_KEYS, Graph  # noqa: E402
from inspectors.target import (  # noqa: E402
    SAMPLES_DIR,
    ModelTarget,
    TargetError,
    list_samples,
    load_target,
)
from inspectors.tf_inspector.capture import capture_tf  # noqa: E402
from inspectors.tf_inspector.function_graph import execution_order  # noqa: E402
from inspectors.tf_inspector.native import TFCapture  # noqa: E402

pytestmark = pytest.mark.tf

SAMPLES = tuple(s.name for s in list_samples() if s.framework == "tensorflow")


@pytest.fixture(scope="module")
def captured():
    """Each TF sample loaded by name and captured once for the whole module."""
    return {name: capture(load_target(name)) for name in SAMPLES}


def target_of(model, *inputs, name="model") -> ModelTarget:
    return ModelTarget(
        spec=name, name=name, framework="tensorflow", model=model, example_inputs=inputs
    )


def all_graphs(graph: Graph) -> list[Graph]:
    return [graph] + [sub for _, sub in graph.all_subgraphs()]


def nodes_of(graph: Graph, op: str) -> list[str]:
    return [n for n in graph.order if graph.node(n)["op"] == op]


def assert_well_formed(graph: Graph) -> None:
    assert graph.validate() == []
    for g in all_graphs(graph):
        assert sorted(g.order) == sorted(g.nodes), "order lists every node once"
        position = {n: i for i, n in enumerate(g.order)}
        for src, dst, data in g.edges():
            assert src in g and dst in g
            assert position[src] < position[dst]
            assert data["src_index"] < max(1, len(g.node(src)["outputs"]))
        for node_id in g.nodes:
            data = g.node(node_id)
            assert all(key in data for key in NODE_KEYS)
            assert data["framework"] == "tensorflow"


# ---------------------------------------------------------------------- samples


@pytest.mark.parametrize("name", SAMPLES)
def test_every_tf_sample_captures_a_well_formed_graph(captured, name):
    result = captured[name]
    assert result.strategy == "function"
    assert result.graph.meta["capture"] == "function"
    assert result.graph.meta["framework"] == "tensorflow"
    assert result.graph.meta["signature"]
    assert isinstance(result.native, TFCapture)
    assert_well_formed(result.graph)
    kinds = result.graph.op_counts()
    assert kinds["input"] >= 1 and kinds["output"] >= 1


def test_the_tf_samples_are_listed():
    assert {"feedforward_keras", "cnn_keras", "while_tf"} <= set(SAMPLES)


def test_variables_are_param_nodes_named_after_the_variable(captured):
    result = captured["feedforward_keras"]
    graph = result.graph
    params = [n for n in graph.order if graph.node(n)["kind"] == "param"]
    assert "feedforward/fc1/kernel" in params
    assert {graph.node(p)["label"] for p in params} == {"kernel", "bias"}
    for g in all_graphs(graph):
        for node_id in g.nodes:
            if g.node(node_id)["kind"] == "param":
                assert "ReadVariableOp" not in node_id and not node_id.endswith("resource")
    kernel = result.native.variables["feedforward/fc1/kernel"]
    assert isinstance(kernel, tf.Variable)
    assert tuple(kernel.shape) == (10, 20)
    # the kernel feeds the fc1 MatMul through its ReadVariableOp
    read = graph.consumers_of("feedforward/fc1/kernel")
    assert [graph.node(r)["op"] for r in read] == ["ReadVariableOp"]
    assert any(graph.node(c)["op"] == "MatMul" for c in graph.consumers_of(read[0]))


def test_name_scopes_become_scopes_with_the_layer_names(captured):
    graph = captured["feedforward_keras"].graph
    scopes = {graph.node(n)["scope"] for n in nodes_of(graph, "MatMul")}
    assert scopes == {("feedforward", "fc1"), ("feedforward", "fc2")}
    assert graph.node("feedforward/fc1/kernel")["scope"] == ("feedforward", "fc1")
    tree = graph.scope_tree()
    assert set(tree.children["feedforward"].children) >= {"fc1", "fc2"}


def test_plumbing_is_kept_but_marked_hidden(captured):
    graph = captured["feedforward_keras"].graph
    for op in ("Identity", "NoOp"):
        found = nodes_of(graph, op)
        assert found and all(graph.node(n).get("hidden") for n in found)
    assert not graph.node(nodes_of(graph, "MatMul")[0]).get("hidden")


def test_edges_carry_output_and_input_positions(captured):
    graph = captured["feedforward_keras"].graph
    matmul = nodes_of(graph, "MatMul")[0]
    ins = sorted(graph.nx.in_edges(matmul, data=True), key=lambda e: e[2]["dst_index"])
    assert [graph.node(src)["kind"] for src, _, _ in ins] == ["input", "op"]
    assert [d["dst_index"] for _, _, d in ins] == [0, 1]
    assert ins[0][2]["shape"] == (4, 10) and ins[0][2]["dtype"] == "float32"
    assert graph.node(matmul)["outputs"] == (((4, 20), "float32"),)


def test_cnn_shapes_follow_the_convolutions(captured):
    graph = captured["cnn_keras"].graph
    pools = [graph.node(n)["outputs"][0][0] for n in nodes_of(graph, "MaxPool")]
    assert pools == [(2, 14, 14, 8), (2, 7, 7, 16)]
    assert graph.node("output")["outputs"][0][0] == (2, 10)


def test_cnn_keras_scopes_read_as_the_layers_not_as_tensorflows_unique_names(captured):
    """Keras re-enters each layer's name scope, so TF names the ops `cnn_1/conv1_1/...`;
    scopes and labels read `cnn/conv1` while the ids stay TF's own op names."""
    result = captured["cnn_keras"]
    graph = result.graph
    layers = {layer.name for layer in result.target.model.layers}
    assert layers == {"conv1", "pool1", "conv2", "pool2", "flatten", "classifier"}
    scopes = {graph.node(n)["scope"] for n in graph.nodes}
    assert {s[:2] for s in scopes if s} == {("cnn", name) for name in layers}
    suffixed = re.compile(r"_\d+$")
    assert not [s for s in scopes if any(suffixed.search(part) for part in s)]
    assert not [n for n in graph.nodes if suffixed.search(str(graph.node(n)["label"]))]
    (conv,) = [n for n in nodes_of(graph, "Conv2D") if graph.node(n)["scope"] == ("cnn", "conv1")]
    assert conv.startswith("cnn_1/conv1_1/")  # the real TF op name


def test_while_sample_has_a_while_node_with_its_body(captured):
    result = captured["while_tf"]
    graph = result.graph
    (loop,) = [n for n in graph.order if graph.node(n)["op"] in ("While", "StatelessWhile")]
    roles = graph.node(loop)["subgraphs"]
    assert set(roles) == {"cond", "body"}
    assert graph.node(loop)["subgraph"] == roles["body"]
    body = graph.subgraphs[roles["body"]]
    assert nodes_of(body, "Tanh") and nodes_of(body, "MatMul")
    assert any(body.node(n)["kind"] == "input" for n in body.nodes)
    # the loop reads the module's variables: params by name in the body too
    assert {"recurrence/w", "recurrence/b"} <= set(body.nodes)
    assert body.node("recurrence/w")["kind"] == "param"
    assert any(s[-1:] == ("cell",) for s in (body.node(n)["scope"] for n in body.nodes))
    assert set(result.native.subgraphs) >= set(roles.values())
    tanh = nodes_of(body, "Tanh")[0]
    assert body.node(tanh)["source"].split(":")[0].endswith("while_tf.py")


def test_native_capture_holds_what_a_stepper_needs(captured):
    result = captured["while_tf"]
    native = result.native
    assert native.inputs == ["x", "steps"]
    assert set(native.variables) == {"recurrence/w", "recurrence/b"}
    assert set(native.ops) <= set(result.graph.nodes)
    assert all(native.ops[n].name for n in native.ops)
    assert native.main.outputs == ["output"]
    assert native.func_graph is native.concrete_function.graph
    body_name = result.graph.node("while")["subgraph"]
    body = native.functions[body_name]
    assert len(body.arguments) == len(body.func_graph.inputs)
    assert body.inputs == [a for a in body.arguments if a in body.inputs]
    assert {"recurrence/w", "recurrence/b"} <= set(body.arguments) - set(body.inputs)
    assert len(body.fetches) == len(body.outputs)
    # the captured function computes what the model computes
    x, steps = result.target.example_inputs
    expected = result.target.call()
    got = native.concrete_function(x, steps)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6)


# ---------------------------------------------------------------- nested functions


@tf.function
def _inner(x):
    return tf.nn.relu(x) * 2.0


@tf.function
def _middle(x):
    for i in tf.range(3):
        x = _inner(x) + tf.cast(i, tf.float32)
    return x


def test_a_tf_function_calling_a_tf_function_becomes_a_call_with_a_subgraph():
    @tf.function
    def outer(x):
        return _inner(x) + 1.0

    graph = capture_tf(target_of(outer, tf.ones((3,))), "function").graph
    assert_well_formed(graph)
    (call,) = [n for n in graph.order if graph.node(n)["op"].endswith("PartitionedCall")]
    sub = graph.subgraphs[graph.node(call)["subgraph"]]
    assert graph.node(call)["subgraphs"] == {"f": graph.node(call)["subgraph"]}
    assert nodes_of(sub, "Relu") and nodes_of(sub, "Mul")
    assert [sub.node(n)["kind"] for n in sub.order].count("input") == 1


def test_tf_cond_becomes_if_with_both_branches():
    def choose(x):
        return tf.cond(tf.reduce_sum(x) > 0, lambda: tf.exp(x), lambda: tf.sin(x))

    graph = capture_tf(target_of(choose, tf.ones((2,))), "auto").graph
    assert_well_formed(graph)
    (branch,) = [n for n in graph.order if graph.node(n)["op"] in ("If", "StatelessIf")]
    roles = graph.node(branch)["subgraphs"]
    assert set(roles) == {"then_branch", "else_branch"}
    assert graph.node(branch)["subgraph"] == roles["then_branch"]
    assert nodes_of(graph.subgraphs[roles["then_branch"]], "Exp")
    assert nodes_of(graph.subgraphs[roles["else_branch"]], "Sin")


def test_nesting_is_captured_as_deep_as_it_goes():
    @tf.function
    def outer(x):
        return _middle(x)

    result = capture_tf(target_of(outer, tf.ones((3,))), "function")
    graph = result.graph
    assert_well_formed(graph)
    (call,) = [n for n in graph.order if graph.node(n)["subgraph"]]
    middle = graph.subgraphs[graph.node(call)["subgraph"]]
    (loop,) = [n for n in middle.order if middle.node(n)["op"].endswith("While")]
    body = middle.subgraphs[middle.node(loop)["subgraph"]]
    (inner_call,) = [n for n in body.order if body.node(n)["op"].endswith("PartitionedCall")]
    inner = body.subgraphs[body.node(inner_call)["subgraph"]]
    assert nodes_of(inner, "Relu")
    assert len(result.native.functions) >= 4  # middle, cond, body, inner


def test_json_round_trip_keeps_subgraphs(captured):
    graph = captured["while_tf"].graph
    again = Graph.from_json(graph.to_json())
    assert again.validate() == []
    assert again.order == graph.order
    assert set(again.subgraphs) == set(graph.subgraphs)
    for key, sub in graph.subgraphs.items():
        assert again.subgraphs[key].order == sub.order
        assert again.subgraphs[key].number_of_edges() == sub.number_of_edges()
    loop = again.node("while")
    assert loop["subgraphs"]["body"] in again.subgraphs
    assert again.node("recurrence/w")["kind"] == "param"
    assert again.node("x")["outputs"] == graph.node("x")["outputs"]


# ------------------------------------------------------------- sources and order

#: Samples whose ops are made by code in the sample file (Keras ones run Keras's code).
WITH_SOURCES = ("while_tf", "branch_tf", "rnn_varlen_tf", "nan_tf")


def sample_source(op) -> str | None:
    """`file:line` of the innermost frame of `op`'s traceback in a sample file."""
    stack = op.traceback
    for frame in reversed(list(stack.get_user_frames()) if stack else []):
        if frame.filename.startswith(str(SAMPLES_DIR)):
            return f"{frame.filename}:{frame.lineno}"
    return None


def sources_of(result) -> list[tuple[object, str | None]]:
    """(tf.Operation, its node's `source`) for every op node, nested functions included."""
    graphs = {result.native.main.name: result.graph, **dict(result.graph.all_subgraphs())}
    functions = [result.native.main, *result.native.functions.values()]
    return [
        (op, graphs[fn.name].node(node_id)["source"])
        for fn in functions
        for node_id, op in fn.ops.items()
    ]


@pytest.mark.parametrize("name", SAMPLES)
def test_source_is_the_innermost_line_of_the_sample_file(captured, name):
    pairs = sources_of(captured[name])
    assert pairs
    for op, source in pairs:
        assert source == sample_source(op), op.name
    if name in WITH_SOURCES:
        assert any(source for _, source in pairs)


def test_sources_are_the_same_when_read_frame_by_frame(captured, monkeypatch):
    """Should TensorFlow's trace text change form, sources are read from the frames."""
    from inspectors.tf_inspector import source

    monkeypatch.setattr(source, "_FRAME_LINE", re.compile("(?!)"))  # matches nothing
    monkeypatch.setattr(source, "_VERDICTS", {})
    monkeypatch.setattr(source, "_ANSWERS", {})
    again = sources_of(capture(load_target("while_tf")))
    expected = sources_of(captured["while_tf"])
    assert [s for _, s in again] == [s for _, s in expected]


def fake_ops(deps: dict[int, list[int]], created: list[int]) -> list[SimpleNamespace]:
    """Ops named by number, made in `created` order, each reading the ops in `deps`."""
    ops = {i: SimpleNamespace(name=str(i), inputs=[], control_inputs=[]) for i in created}
    for i, before in deps.items():
        ops[i].inputs = [SimpleNamespace(op=ops[j]) for j in before[::2]]
        ops[i].control_inputs = [ops[j] for j in before[1::2]]
    return [ops[i] for i in created]


def test_execution_order_keeps_creation_order_where_inputs_allow():
    rng = random.Random(0)
    deps = {i: rng.sample(range(i), min(i, rng.randint(0, 3))) for i in range(80)}
    in_order = fake_ops(deps, list(range(80)))
    assert execution_order(in_order) == in_order
    created = list(range(80))
    rng.shuffle(created)
    ops = fake_ops(deps, created)
    position = {op.name: i for i, op in enumerate(ops)}
    dag = nx.DiGraph()
    dag.add_nodes_from(position)
    dag.add_edges_from((str(j), str(i)) for i, before in deps.items() for j in before)
    expected = list(nx.lexicographical_topological_sort(dag, key=position.get))
    assert [op.name for op in execution_order(ops)] == expected
    with pytest.raises(nx.NetworkXUnfeasible):
        execution_order(fake_ops({0: [1], 1: [0]}, [0, 1]))


# ----------------------------------------------------------------------- errors


def test_a_model_that_fails_to_trace_gives_a_target_error_in_words():
    def broken(x):
        return tf.matmul(x, tf.ones((5, 2)))  # inner dimensions 3 and 5 differ

    with pytest.raises(TargetError, match="could not trace") as info:
        capture_tf(target_of(broken, tf.ones((2, 3)), name="broken"), "function")
    assert "broken" in str(info.value)
    assert "[2, 3] float32" in str(info.value)


def test_an_unknown_strategy_is_refused():
    with pytest.raises(TargetError, match="function"):
        capture_tf(target_of(tf.nn.relu, tf.ones((2,))), "fx")


def test_end_to_end_by_sample_name():
    target = load_target("feedforward_keras")
    result = capture(target)
    assert result.graph.meta["model"] == "feedforward_keras"
    assert result.native.inputs == ["input"]
    got = result.native.concrete_function(*target.example_inputs)
    np.testing.assert_allclose(got.numpy(), target.call().numpy(), rtol=1e-5, atol=1e-6)


def test_auto_named_keras_layers_keep_their_own_names_as_scopes():
    import keras

    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2), keras.layers.Dense(2)], name="auto"
    )
    graph = capture_tf(target_of(model, tf.ones((1, 3))), "function").graph
    scopes = [graph.node(n)["scope"] for n in nodes_of(graph, "MatMul")]
    assert scopes == [("auto", layer.name) for layer in model.layers]


def test_a_keras_layer_called_twice_is_two_calls():
    import keras

    shared = keras.layers.Dense(3, name="shared")
    inputs = keras.Input((3,))
    model = keras.Model(inputs, shared(shared(inputs)), name="m")
    graph = capture_tf(target_of(model, tf.ones((1, 3))), "function").graph
    scopes = [graph.node(n)["scope"] for n in nodes_of(graph, "MatMul")]
    assert scopes == [("m", "shared"), ("m", "shared (2)")]
