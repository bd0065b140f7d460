"""The drawn layout's defects, measured by gui.graph.layout_metrics (the functions
bench/layout_quality.py prints), are zero: no consumer above its producer, no two boxes
overlapping, every box inside exactly its own scope groups, no edge through a box."""

import numpy as np
import pytest

from bench.synthetic import transformer_graph
from gui.graph.layout import layout_graph, prepare, scopes_deeper_than
from gui.graph.layout_metrics import (
    Quality,
    backward_edges,
    bends,
    box_overlaps,
    edge_crossings,
    edges_through_nodes,
    measure,
    node_overlaps,
    outside_box,
)
from inspectors.graph import Graph

# -- the metrics on geometry whose answer is known ------------------------------------


def _rects(*rows):
    return np.array(rows, float).reshape(-1, 4)


def _edges(*polylines):
    off = np.cumsum([0] + [len(p) for p in polylines])
    return off, np.concatenate([np.array(p, float) for p in polylines])


def test_backward_edges_count_consumers_drawn_above_their_producer():
    rects = _rects((0, 0, 50, 30), (0, 100, 50, 30), (0, 10, 50, 30))
    assert backward_edges(rects, np.array([0]), np.array([1])) == 0
    assert backward_edges(rects, np.array([1]), np.array([0])) == 1
    assert backward_edges(rects, np.array([0]), np.array([2])) == 1  # not below its bottom


def test_node_overlaps_count_pairs_overlapping_more_than_touching():
    assert node_overlaps(_rects((0, 0, 10, 10), (10, 0, 10, 10), (0, 10, 10, 10))) == 0
    assert node_overlaps(_rects((0, 0, 10, 10), (5, 5, 10, 10), (300, 300, 5, 5))) == 1


def test_box_overlaps_allow_nesting_only():
    groups = _rects((0, 0, 100, 100), (10, 10, 30, 30), (50, 10, 30, 30))
    parents = np.array([-1, 0, 0])
    assert box_overlaps(groups, parents) == 0
    crossing = _rects((0, 0, 100, 100), (10, 10, 50, 30), (50, 10, 30, 30))
    assert box_overlaps(crossing, parents) == 1  # siblings overlap
    sticking_out = _rects((0, 0, 100, 100), (90, 10, 30, 30), (50, 200, 30, 30))
    assert box_overlaps(sticking_out, parents) == 2  # children outside their parent


def test_outside_box_counts_boxes_outside_theirs_or_inside_another():
    groups = _rects((0, 0, 100, 100), (200, 0, 100, 100))
    parents = np.array([-1, -1])
    rects = _rects((10, 10, 20, 20), (210, 10, 20, 20), (400, 0, 10, 10))
    assert outside_box(rects, np.array([0, 1, -1]), groups, parents) == 0
    # box 0 drawn in group 1's place; box 2, in no group, drawn inside group 0
    rects = _rects((210, 50, 20, 20), (210, 10, 20, 20), (50, 50, 10, 10))
    assert outside_box(rects, np.array([0, 1, -1]), groups, parents) == 2


def test_edges_through_nodes_skip_the_edges_own_ends():
    rects = _rects((0, 0, 20, 20), (0, 100, 20, 20), (0, 50, 20, 20), (100, 50, 20, 20))
    off, pts = _edges([(10, 20), (10, 100)], [(10, 20), (60, 60), (110, 50)])
    # the first edge runs through box 2; the second ends at box 3 and passes nothing
    assert edges_through_nodes(rects, np.array([0, 0]), np.array([1, 3]), off, pts) == 1


def test_crossings_count_order_changes_between_rows():
    rects = _rects((0, 0, 10, 10), (100, 0, 10, 10), (0, 100, 10, 10), (100, 100, 10, 10))
    straight = _edges([(5, 10), (5, 100)], [(105, 10), (105, 100)])
    swapped = _edges([(5, 10), (105, 100)], [(105, 10), (5, 100)])
    src = np.array([0, 1])
    assert edge_crossings(rects, src, np.array([2, 3]), *straight) == 0
    assert edge_crossings(rects, src, np.array([3, 2]), *swapped) == 1
    # edges sharing a source do not cross
    assert edge_crossings(rects, np.array([0, 0]), np.array([3, 2]), *swapped) == 0


def test_bends_count_turns_at_vertical_runs():
    straight = _edges([(0, 0), (0, 50), (0, 100), (0, 150)])
    assert bends(*straight) == 0
    channel = _edges([(0, 0), (40, 50), (40, 100), (0, 150)])  # down a side channel
    assert bends(*channel) == 1
    zigzag = _edges([(0, 0), (40, 50), (40, 100), (0, 150), (0, 200), (40, 250), (40, 300)])
    assert bends(*zigzag) == 2


# -- the layout holds them ----------------------------------------------------------------


def _assert_clean(layout) -> Quality:
    q = measure(layout)
    defects = (
        q.backward_edges,
        q.node_overlaps,
        q.box_overlaps,
        q.outside_box,
        q.edges_through_nodes,
    )
    assert defects == (0, 0, 0, 0, 0), q
    return q


def _depths(graph: Graph) -> list[int | None]:
    return [*range(1, int(prepare(graph).scope_depth.max())), None]


def _layout_at(graph: Graph, depth: int | None):
    return layout_graph(graph, scopes_deeper_than(graph, depth) if depth is not None else set())


@pytest.mark.parametrize("depth", [1, 2, 3, None])
def test_a_transformer_is_clean_at_every_depth(depth):
    q = _assert_clean(_layout_at(transformer_graph(layers=3), depth))
    assert q.crossings == 0


def test_collapsed_scopes_of_a_keras_like_graph_are_clean():
    """Keras-like scopes collapsed one level down: each layer's weight reads become
    collapsed boxes that feed its ops (cnn_keras at depth 2, without TensorFlow)."""
    g = Graph("keras_like", "tensorflow")
    g.add_node("x", kind="input", op="Placeholder")
    previous = "x"
    for i in range(3):
        s = ("model", f"conv{i}")
        g.add_node(f"k{i}", kind="param", op="Placeholder", scope=s)
        g.add_node(f"read{i}", kind="op", op="ReadVariableOp", scope=(*s, "convolution"))
        g.add_node(f"conv{i}", kind="op", op="Conv2D", scope=s)
        g.add_node(f"relu{i}", kind="op", op="Relu", scope=s)
        for a, b in ((f"k{i}", f"read{i}"), (previous, f"conv{i}"), (f"read{i}", f"conv{i}")):
            g.add_edge(a, b)
        g.add_edge(f"conv{i}", f"relu{i}")
        previous = f"relu{i}"
    g.add_node("y", kind="output", op="output")
    g.add_edge(previous, "y")
    reads = [n for i in range(3) for n in (f"k{i}", f"read{i}")]  # TF reads weights first
    g.order = ["x", *reads, *[n for i in range(3) for n in (f"conv{i}", f"relu{i}")], "y"]
    layout = _layout_at(g, 2)
    _assert_clean(layout)
    rects = [layout.group_rects[layout.group_scopes.index(("model", f"conv{i}"))] for i in (0, 1)]
    assert rects[0][1] + rects[0][3] <= rects[1][1]  # stacked, not side by side


@pytest.fixture(scope="module")
def cnn_keras():
    pytest.importorskip("tensorflow")
    from inspectors.capture import capture
    from inspectors.target import load_target

    return capture(load_target("cnn_keras")).graph


@pytest.mark.tf
def test_cnn_keras_collapsed_to_depth_2_keeps_its_layers_apart(cnn_keras):
    """View > Collapse to depth 2: conv1, conv2, flatten and classifier are disjoint
    boxes stacked in order, each holding its own nodes (their weight reads included)."""
    layout = _layout_at(cnn_keras, 2)
    _assert_clean(layout)
    names = ("conv1", "conv2", "flatten", "classifier")
    rects = [layout.group_rects[layout.group_scopes.index(("cnn", n))] for n in names]
    for upper, lower in zip(rects, rects[1:], strict=False):
        assert upper[1] + upper[3] <= lower[1]


@pytest.mark.tf
def test_cnn_keras_main_path_runs_straight_down(cnn_keras):
    """The data's path (input, convolution, bias, relu, pool...) is one vertical line;
    weights branch off beside it."""
    layout = _layout_at(cnn_keras, None)
    _assert_clean(layout)
    path = ("input", "cnn_1/conv1_1/convolution", "cnn_1/conv1_1/BiasAdd", "cnn_1/conv1_1/Relu")
    centres = [layout.rects[layout.boxes_of(n)[0]] for n in path]
    xs = [r[0] + r[2] / 2 for r in centres]
    assert max(xs) - min(xs) < 1.0


@pytest.mark.parametrize("sample", ["feedforward_torch", "feedforward_keras"])
def test_feedforward_samples_are_clean_at_every_depth(sample):
    pytest.importorskip("torch" if sample.endswith("torch") else "tensorflow")
    from inspectors.capture import capture
    from inspectors.target import load_target

    graph = capture(load_target(sample)).graph
    for depth in _depths(graph):
        _assert_clean(_layout_at(graph, depth))


@pytest.fixture(scope="module")
def encoder():
    """A small nn.TransformerEncoder wrapped in a module, captured with torch.export."""
    torch = pytest.importorskip("torch")
    from inspectors.capture import capture
    from inspectors.target import ModelTarget

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layer = torch.nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
            self.encoder = torch.nn.TransformerEncoder(layer, 3, enable_nested_tensor=False)

        def forward(self, src):
            return self.encoder(src)

    torch.manual_seed(0)
    model = Wrapped().eval()
    target = ModelTarget("test:encoder", "encoder", "torch", model, (torch.randn(2, 5, 16),))
    return capture(target, "export").graph


@pytest.mark.torch
def test_encoder_at_depth_1_draws_its_input_above_the_layers(encoder):
    layout = _layout_at(encoder, 1)
    _assert_clean(layout)
    src = layout.rects[layout.boxes_of("src")[0]]
    layers = layout.rects[layout.scope_box[("encoder", "layers")]]
    assert src[1] + src[3] < layers[1]


@pytest.mark.torch
def test_encoder_expanded_runs_residuals_straight_down_a_side_channel(encoder):
    layout = _layout_at(encoder, None)
    q = _assert_clean(layout)
    assert q.crossings == 0
    # a long edge runs down one straight channel: one bend (in and out of it) at most
    long_edges = int(np.count_nonzero(np.diff(layout.edge_off) > 4))
    assert long_edges >= 6  # two residuals per layer
    assert q.bends <= long_edges
