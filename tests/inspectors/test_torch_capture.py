"""PyTorch capture of the sample models: fx, export, eager and auto, against the schema."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from inspectors.capture import capture  # noqa: E402
from inspectors.graph import EDGE_KEYS, NODE_KEYS, Graph  # noqa: E402
from inspectors.target import ModelTarget, TargetError, load_target  # noqa: E402
from inspectors.torch_inspector.eager import EagerRecorder  # noqa: E402

pytestmark = pytest.mark.torch

STATIC_SAMPLES = ("feedforward_torch", "cnn_torch")


@pytest.fixture(scope="module")
def targets() -> dict[str, ModelTarget]:
    return {name: load_target(name) for name in (*STATIC_SAMPLES, "dynamic_torch")}


def assert_well_formed(graph: Graph, *, all_tensors: bool = True) -> None:
    """Schema, edges between known nodes, a topological order, outputs on every node.

    `all_tensors`: every op produces tensors, so every op must have a shape.
    """
    assert graph.validate() == []
    assert graph.framework == "torch"
    assert set(graph.order) == set(graph.nodes)
    position = {n: i for i, n in enumerate(graph.order)}
    for node_id in graph.nodes:
        assert all(key in graph.node(node_id) for key in NODE_KEYS)
    for src, dst, data in graph.edges():
        assert src in graph and dst in graph
        assert all(key in data for key in EDGE_KEYS)
        assert position[src] < position[dst]
    kinds = graph.op_counts()
    assert kinds.get("input", 0) >= 1 and kinds.get("output", 0) == 1
    for node_id in graph.nodes:
        data = graph.node(node_id)
        if data["kind"] in ("op", "module", "input", "param"):
            assert data["outputs"], f"{node_id} ({data['op']}) has no outputs"
            if all_tensors:
                assert data["outputs"][0][0] is not None, f"{node_id} ({data['op']}) has no shape"


@pytest.mark.parametrize("sample", STATIC_SAMPLES)
@pytest.mark.parametrize("strategy", ["auto", "fx", "export", "eager"])
def test_static_samples_capture_with_every_strategy(targets, sample, strategy):
    captured = capture(targets[sample], strategy)
    graph = captured.graph
    assert_well_formed(graph)
    expected = "fx" if strategy == "auto" else strategy
    assert captured.strategy == expected
    assert graph.meta["capture"] == expected
    assert graph.meta["framework"] == "torch"
    assert graph.meta["node_count"] == len(graph)
    assert graph.meta["failures"] == []


def test_fx_feedforward_is_layer_level_with_scopes_and_params(targets):
    captured = capture(targets["feedforward_torch"], "fx")
    graph = captured.graph
    fc1 = graph.node("fc1")
    assert (fc1["kind"], fc1["op"], fc1["scope"], fc1["label"]) == (
        "module",
        "Linear",
        ("fc1",),
        "fc1",
    )
    assert fc1["outputs"] == (((4, 20), "float32"),)
    assert ("weight", (20, 10), "float32", 200) in fc1["params"]
    assert fc1["source"].endswith("feedforward_torch.py:23")
    assert [graph.node(n)["kind"] for n in graph.order] == [
        "input",
        "module",
        "module",
        "module",
        "output",
    ]
    assert graph.inputs_of("fc2") == ["relu"]
    # Graph ids are fx node names: the stepper finds each fx node by id.
    fx_nodes = captured.extra["fx_nodes"]
    assert set(fx_nodes) == set(graph.nodes)
    assert all(fx_nodes[n].name == n for n in graph.nodes)
    assert isinstance(captured.native, torch.fx.GraphModule)


def test_export_feedforward_names_parameters_and_keeps_module_scope(targets):
    captured = capture(targets["feedforward_torch"], "export")
    graph = captured.graph
    params = {
        graph.node(n)["label"]: graph.node(n)
        for n in graph.nodes
        if graph.node(n)["kind"] == "param"
    }
    assert set(params) == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}
    assert params["fc1.weight"]["scope"] == ("fc1",)
    ops = [graph.node(n) for n in graph.order if graph.node(n)["kind"] == "op"]
    assert all(op["op"].startswith("aten.") for op in ops)
    assert {op["scope"] for op in ops} >= {("fc1",), ("fc2",)}
    assert all(op["source"] and "feedforward_torch.py" in op["source"] for op in ops)
    assert isinstance(captured.native, torch.export.ExportedProgram)
    assert set(captured.extra["fx_nodes"]) == set(graph.nodes)


def test_eager_feedforward_records_ops_params_and_scopes(targets):
    graph = capture(targets["feedforward_torch"], "eager").graph
    ops = [n for n in graph.order if graph.node(n)["kind"] == "op"]
    assert ops == ["op_0000", "op_0001", "op_0002"]
    assert [graph.node(n)["op"] for n in ops] == ["linear", "relu", "linear"]
    assert graph.node("op_0000")["scope"] == ("fc1",)
    assert graph.inputs_of("op_0000") == ["x", "fc1.weight", "fc1.bias"]
    assert graph.node("fc1.weight")["kind"] == "param"


def test_cnn_shapes_follow_the_pooling(targets):
    graph = capture(targets["cnn_torch"], "fx").graph
    assert graph.node("pool1")["outputs"][0][0] == (2, 8, 14, 14)
    assert graph.node("flatten")["outputs"][0][0] == (2, 784)
    edge_shapes = {(s, d): data["shape"] for s, d, data in graph.edges()}
    assert edge_shapes[("pool2", "flatten")] == (2, 16, 7, 7)


def test_dynamic_fx_fails_with_a_control_flow_reason(targets):
    with pytest.raises(TargetError) as info:
        capture(targets["dynamic_torch"], "fx")
    message = str(info.value)
    assert "control flow" in message and "dynamic_torch.py:" in message
    assert "Proxy" in message  # torch's own message is kept too


def test_dynamic_export_fails_on_the_data_dependent_branch(targets):
    with pytest.raises(TargetError) as info:
        capture(targets["dynamic_torch"], "export")
    assert "if sequence.mean() > 0" in str(info.value)


def test_a_failed_export_keeps_its_partial_graph_off_stderr(targets, capfd):
    from inspectors.torch_inspector.export_capture import export

    target = targets["dynamic_torch"]
    with pytest.raises(Exception) as info:
        export(target.model, tuple(target.example_inputs))
    _out, err = capfd.readouterr()
    assert "def forward" not in err and "Unable to find user code" not in err
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "torch.export printed:" in notes and "def forward" in notes


def test_dynamic_auto_falls_back_to_eager_and_keeps_the_failures(targets):
    captured = capture(targets["dynamic_torch"], "auto")
    graph = captured.graph
    assert captured.strategy == "eager"
    assert_well_formed(graph)
    failures = graph.meta["failures"]
    assert [f["strategy"] for f in failures] == ["fx", "export"]
    for fail in failures:
        assert set(fail) == {"strategy", "reason", "error"}
        assert "\n" not in fail["reason"]
        assert "control flow" in fail["reason"]
    assert "TypeError" in failures[0]["error"]
    assert "fx failed" in graph.summary()


def test_dynamic_eager_graphs_differ_for_two_inputs(targets):
    import sample_models.dynamic_torch as sample

    target = targets["dynamic_torch"]
    recorder = EagerRecorder(target.model)
    first = recorder.record(*sample.example_inputs()).graph
    second = recorder.record(*sample.other_inputs()).graph
    for graph in (first, second):
        assert graph.validate() == []
    ops = [[g.node(n)["op"] for n in g.order if g.node(n)["kind"] == "op"] for g in (first, second)]
    assert ops[0].count("rnn_tanh_cell") == 3 and ops[1].count("rnn_tanh_cell") == 5
    scopes = [{g.node(n)["scope"] for n in g.nodes} for g in (first, second)]
    assert ("positive_head",) in scopes[0] and ("positive_head",) not in scopes[1]
    assert ("negative_head", "1") in scopes[1]


def test_eager_callbacks_see_every_node_and_can_override_outputs(targets):
    target = targets["feedforward_torch"]
    added: list[str] = []
    seen: list[tuple[str, tuple]] = []

    def on_node(node_id, outputs):
        seen.append((node_id, tuple(o.shape for o in outputs)))
        if recorder.graph.node(node_id)["op"] == "relu":
            return torch.zeros_like(outputs[0])
        return None

    recorder = EagerRecorder(target.model, on_node=on_node, on_node_added=added.append)
    recording = recorder.record(*target.example_inputs)
    assert [n for n, _ in seen] == ["op_0000", "op_0001", "op_0002"]
    assert added == recording.graph.order
    # relu forced to zero: the output is fc2's bias on every row.
    expected = target.model.fc2.bias.detach().expand(4, 5)
    torch.testing.assert_close(recording.output.detach(), expected)


def test_json_round_trip_of_a_captured_graph(targets):
    graph = capture(targets["cnn_torch"], "export").graph
    back = Graph.from_json(graph.to_json())
    assert back.order == graph.order
    assert back.meta["capture"] == "export"
    for node_id in graph.nodes:
        for key in NODE_KEYS:
            assert back.node(node_id)[key] == graph.node(node_id)[key], (node_id, key)
    assert back.number_of_edges() == graph.number_of_edges()
    assert back.validate() == []


def test_capture_from_a_pt2_file(tmp_path, targets):
    target = targets["feedforward_torch"]
    program = torch.export.export(target.model, target.example_inputs, strict=False)
    path = tmp_path / "ff.pt2"
    torch.export.save(program, str(path))
    loaded = load_target(str(path))
    exported = capture(loaded, "export")
    assert_well_formed(exported.graph)
    assert {exported.graph.node(n)["label"] for n in exported.graph.nodes} >= {"fc1.weight"}
    eager = capture(loaded, "eager")
    assert_well_formed(eager.graph)
    auto = capture(loaded, "auto")  # fx retraces program.module(), size guards and all
    assert_well_formed(auto.graph, all_tensors=False)


def test_unknown_strategy_is_refused(targets):
    with pytest.raises(TargetError, match="does not apply"):
        capture(targets["feedforward_torch"], "function")


class _Reuse(torch.nn.Module):
    """One tensor feeding an op twice, a parameter, a list argument and two outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.full((3,), 2.0))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        square = x * x
        both = torch.cat([square, square * self.scale], dim=0)
        values, indices = both.max(dim=0)
        return values, indices


def test_eager_graph_is_what_the_graph_api_builds():
    """The recorder writes nodes and edges in bulk; the result must be the graph that
    `Graph.add_node` and `Graph.add_edge` give for the same nodes and edges."""
    graph = EagerRecorder(_Reuse()).record(torch.arange(3.0)).graph
    rebuilt = Graph(graph.name, graph.framework)
    for node_id in graph.order:
        data = graph.node(node_id)
        rebuilt.add_node(
            node_id,
            kind=data["kind"],
            op=data["op"],
            label=data["label"],
            scope=data["scope"],
            outputs=data["outputs"],
            source=data["source"],
        )
        for src, _, edge in sorted(graph.nx.in_edges(node_id, data=True), key=_slot):
            rebuilt.add_edge(src, node_id, src_index=edge["src_index"], dst_index=edge["dst_index"])
    assert graph.to_json() == rebuilt.to_json()
    for node_id in graph.order:
        assert list(graph.nx.in_edges(node_id, keys=True, data=True)) == list(
            rebuilt.nx.in_edges(node_id, keys=True, data=True)
        )
        assert list(graph.nx.out_edges(node_id, keys=True, data=True)) == list(
            rebuilt.nx.out_edges(node_id, keys=True, data=True)
        )
    square = graph.order[graph.order.index("x") + 1]
    assert graph.nx.number_of_edges("x", square) == 2
    assert graph.validate() == []


def _slot(edge: tuple[str, str, dict]) -> int:
    return edge[2]["dst_index"]
