"""One box per module call, and the user's names on the nodes, in fx, export and eager.

A module called twice (`self.pool` after each conv, a `block` run twice) is two calls:
two scopes, `pool` and `pool (2)`, each holding only its own call's nodes, so the
drawing has two boxes and step over takes two steps. Export and eager nodes a module
runs itself are titled with its path (`conv1`), the op staying in `op`.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from inspectors import events as ev  # noqa: E402
from inspectors.capture import capture  # noqa: E402
from inspectors.graph import Graph, call_part, plain_part, plain_scope  # noqa: E402
from inspectors.session import Session  # noqa: E402
from inspectors.target import ModelTarget  # noqa: E402
from inspectors.torch_inspector.names import CallScopes, WorkLabels, call_label  # noqa: E402
from tests.inspectors.test_step_semantics import breakpoint_hits, walk  # noqa: E402

pytestmark = pytest.mark.torch

STRATEGIES = ("fx", "export", "eager")


class Block(nn.Module):
    """A container with a child of its own, a BatchNorm (two ops in training) and glue."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x))) + x


class PoolTwice(nn.Module):
    """conv1 -> relu -> pool -> conv2 -> relu -> pool -> block -> block."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.block = Block()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        return self.block(self.block(x))


class PoolPool(nn.Module):
    """The same module twice in a row: nothing between the two calls."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.pool(F.relu(self.conv(x))))


_graphs: dict[str, Graph] = {}


def pool_twice(strategy: str) -> Graph:
    if strategy not in _graphs:
        torch.manual_seed(0)
        target = ModelTarget(
            "pool_twice", "pool_twice", "torch", PoolTwice(), (torch.randn(2, 1, 16, 16),)
        )
        _graphs[strategy] = capture(target, strategy).graph
    return _graphs[strategy]


def computed(graph: Graph, scope: tuple[str, ...]) -> list[str]:
    """The ops (or fx module nodes) whose scope is exactly `scope`, in run order."""
    return [
        n
        for n in graph.order
        if graph.node(n)["kind"] in ("op", "module") and graph.node(n)["scope"] == scope
    ]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_each_call_of_a_module_is_a_scope_holding_only_its_own_nodes(strategy):
    graph = pool_twice(strategy)
    pool_op = {"fx": "MaxPool2d", "export": "aten.max_pool2d", "eager": "max_pool2d"}[strategy]
    first, second = computed(graph, ("pool",)), computed(graph, ("pool (2)",))
    assert [graph.node(n)["op"] for n in first] == [pool_op]
    assert [graph.node(n)["op"] for n in second] == [pool_op]
    order = graph.order.index
    (conv1,) = computed(graph, ("conv1",))
    (conv2,) = computed(graph, ("conv2",))
    assert order(conv1) < order(first[0]) < order(conv2) < order(second[0])
    # conv2 and its relu are no longer inside the first pool's box
    tree = graph.scope_tree()
    assert {"pool", "pool (2)", "conv1", "conv2", "block", "block (2)"} <= set(tree.children)
    assert all(graph.node(n)["op"] == pool_op for n in tree.children["pool"].all_nodes())
    assert tree.children["pool (2)"].all_nodes() == second
    assert pool_op not in {graph.node(n)["op"] for n in tree.nodes}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_modules_inside_a_repeated_call_carry_that_calls_prefix(strategy):
    graph = pool_twice(strategy)

    def call(name: str) -> tuple[set[tuple[str, ...]], list[str]]:
        """The scopes of the call `name` and the ops it ran, in order."""
        inside = [n for n in graph.order if graph.node(n)["scope"][:1] == (name,)]
        ran = [graph.node(n)["op"] for n in inside if graph.node(n)["kind"] in ("op", "module")]
        return {graph.node(n)["scope"] for n in inside}, ran

    first_scopes, first_ops = call("block")
    second_scopes, second_ops = call("block (2)")
    assert second_scopes == {("block (2)",), ("block (2)", "conv"), ("block (2)", "bn")}
    assert first_scopes == {("block",), ("block", "conv"), ("block", "bn")}
    assert first_ops == second_ops


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_parameters_keep_their_modules_plain_path(strategy):
    graph = pool_twice(strategy)
    params = [graph.node(n) for n in graph.nodes if graph.node(n)["kind"] == "param"]
    if strategy == "fx":  # leaf modules hold their parameters: `params` on the module node
        module_nodes = [n for n in graph.nodes if graph.node(n)["kind"] == "module"]
        assert {graph.node(n)["scope"] for n in module_nodes} >= {
            ("block", "conv"),
            ("block (2)", "conv"),
        }
        assert all(graph.node(n)["params"] for n in module_nodes if graph.node(n)["op"] == "Conv2d")
        return
    by_name = {p.get("target") or p["label"]: p["scope"] for p in params}
    assert by_name["block.conv.weight"] == ("block", "conv")
    assert by_name["block.bn.weight"] == ("block", "bn")
    assert by_name["conv1.weight"] == ("conv1",)
    assert not any(p["scope"] != plain_scope(p["scope"]) for p in params)
    assert len(params) == len(by_name)  # one node per parameter, whichever call uses it


@pytest.mark.parametrize("strategy", ["export", "eager"])
def test_a_modules_own_ops_are_titled_with_its_path(strategy):
    graph = pool_twice(strategy)
    prefix = "aten." if strategy == "export" else ""

    def titled(scope: tuple[str, ...]) -> list[tuple[str, str]]:
        return [(graph.node(n)["label"], graph.node(n)["op"]) for n in computed(graph, scope)]

    assert titled(("conv1",)) == [("conv1", f"{prefix}conv2d")]
    assert titled(("pool",)) == [("pool", f"{prefix}max_pool2d")]
    assert titled(("pool (2)",)) == [("pool (2)", f"{prefix}max_pool2d")]
    assert titled(("block (2)", "conv")) == [("block (2).conv", f"{prefix}conv2d")]
    # a BatchNorm in training counts its batches first: the normalisation has the name
    assert titled(("block", "bn")) == [
        ("block.bn · add_", f"{prefix}add_"),
        ("block.bn", f"{prefix}batch_norm"),
    ]
    # a container's own glue reads `path · op`: its box already carries the name
    assert [label for label, _ in titled(("block",))] == ["block · relu", "block · add"]
    # ops of the model's own forward keep their names
    top = [graph.node(n)["label"] for n in computed(graph, ())]
    assert top == (["relu", "relu_1"] if strategy == "export" else ["relu", "relu"])


def test_eager_ids_stay_op_numbers_and_text_names_both():
    graph = pool_twice("eager")
    ops = [n for n in graph.order if graph.node(n)["kind"] == "op"]
    assert ops == [f"op_{i:04d}" for i in range(len(ops))]
    assert graph.node("op_0000")["label"] == "conv1"
    assert graph.title("op_0000") == "conv1 (op_0000)"
    assert graph.title("x") == "x" and graph.title("nowhere") == "nowhere"


def test_fx_module_nodes_are_named_after_their_call():
    graph = pool_twice("fx")
    assert [graph.node(n)["label"] for n in computed(graph, ("pool (2)",))] == ["pool (2)"]
    assert graph.node("pool")["label"] == "pool"
    assert graph.node("block_conv_1")["scope"] == ("block (2)", "conv")


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("fx", ["x", "conv", "relu", "pool", "pool_1", "output"]),
        ("export", ["x", "conv2d", "relu", "max_pool2d", "max_pool2d_1", "output"]),
        ("eager", ["x", "op_0000", "op_0001", "op_0002", "op_0003", "output"]),
    ],
)
def test_step_over_takes_two_consecutive_calls_as_two_steps(strategy, expected):
    target = ModelTarget("pool_pool", "pool_pool", "torch", PoolPool(), (torch.randn(1, 1, 8, 8),))
    captured = capture(target, strategy)
    pools = [n for n in captured.graph.order if "pool" in captured.graph.node(n)["op"].lower()]
    assert [captured.graph.node(n)["scope"] for n in pools] == [("pool",), ("pool (2)",)]
    session = Session(captured)
    session.start()
    try:
        session.wait()
        over = walk(session, "step_over")
        assert over == [(n, ev.STEP) for n in expected] + [("output", ev.FINISHED)]
    finally:
        session.stop()
        session.join()


def test_call_scopes_number_calls_within_their_enclosing_call():
    calls = CallScopes()
    assert calls.enter(("pool",)) == ("pool",)
    assert calls.enter(("pool",)) == ("pool (2)",)
    assert calls.enter(("pool",)) == ("pool (3)",)
    block = calls.enter(("block",))
    assert calls.enter(("block", "conv"), ("block",), block) == ("block", "conv")
    block_2 = calls.enter(("block",))
    assert block_2 == ("block (2)",)
    assert calls.enter(("block", "conv"), ("block",), block_2) == ("block (2)", "conv")
    assert calls.enter(("block", "conv"), ("block",), block_2) == ("block (2)", "conv (2)")
    assert calls.enter(("layers", "0")) == ("layers", "0")
    assert calls.enter(("layers", "0")) == ("layers", "0 (2)")
    # a module that is not a child of its caller keeps its own path, counted there
    assert calls.enter(("shared",), ("block",), block) == ("shared",)
    assert calls.enter(("shared",)) == ("shared (2)",)
    assert calls.enter(()) == () and calls.enter(()) == ()  # the model itself


def test_call_scopes_read_export_and_fx_module_stacks():
    calls = CallScopes()
    root = ("", "M")
    first = {"L__self__": root, "L__self___block": ("block", "B")}
    second = {"L__self__": root, "L__self___block@1": ("block", "B")}
    inner = {**second, "L__self___block.conv@1": ("block.conv", "C")}
    assert calls.of_stack(first) == ("block",)
    assert calls.of_stack(second) == ("block (2)",)
    assert calls.of_stack(inner) == ("block (2)", "conv")
    assert calls.of_stack(second) == ("block (2)",)  # the same call again
    assert calls.of_stack({"pool@1": ("pool", "P")}) == ("pool",)  # first seen is first
    assert calls.of_stack(None) == ()


def test_work_labels_title_one_op_per_call():
    calls = CallScopes()
    labels = WorkLabels(calls)
    scope = calls.enter(("attn",))
    assert labels.label(scope, "getitem", True) == "attn · getitem"  # plumbing
    assert labels.label(scope, "aten.matmul", False) == "attn · matmul"  # not on the data
    assert labels.label(scope, "aten.matmul", True) == "attn"
    assert labels.label(scope, "aten.softmax", True) == "attn · softmax"
    assert labels.label((), "relu", True) is None
    outer = calls.enter(("enc",))
    calls.enter(("enc", "norm"), ("enc",), outer)
    assert labels.label(outer, "add", True) == "enc · add"  # after a call of its own


def test_call_parts_and_plain_scopes():
    assert call_part("pool", 1) == "pool" and call_part("pool", 2) == "pool (2)"
    assert plain_part("pool (12)") == "pool" and plain_part("layers") == "layers"
    assert plain_scope(("block (2)", "conv (3)")) == ("block", "conv")
    assert call_label(("layers", "0 (2)")) == "layers.0 (2)"
    assert call_label(("pool (2)",)) == "pool (2)" and call_label(()) == "model"


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_breakpoint_on_a_modules_path_stops_entering_each_call(strategy):
    """`entering pool` stops at both calls; `entering pool (2)` at the second only."""
    torch.manual_seed(0)
    target = ModelTarget(
        "pool_twice", "pool_twice", "torch", PoolTwice(), (torch.randn(2, 1, 16, 16),)
    )
    session = Session(capture(target, strategy))
    session.start()
    try:
        session.wait()
        cases = ((("pool",), [("pool",), ("pool (2)",)]), (("pool (2)",), [("pool (2)",)]))
        for scope, calls in cases:
            for bp in list(session.breakpoints):
                session.breakpoints.remove(bp.id)
            session.breakpoints.add(scope=scope)
            session.restart()
            session.wait()
            hits = [session.run.scopes[n] for n in breakpoint_hits(session)]
            assert hits == calls
    finally:
        session.stop()
        session.join()
