"""The PyTorch steppers (fx, export, eager) driven by a real Session, checked against torch.

Every check compares with the framework itself: stepped outputs with the model's own
forward, gradients with autograd, overridden values with the model run by hand on
the replaced intermediate.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from inspectors import events as ev  # noqa: E402
from inspectors.capture import capture  # noqa: E402
from inspectors.session import Session  # noqa: E402
from inspectors.target import ModelTarget, load_target  # noqa: E402
from inspectors.torch_inspector.values import flatten  # noqa: E402
from tests.inspectors.test_torch_thirdparty import make_target as thirdparty_target  # noqa: E402

pytestmark = pytest.mark.torch

ROOT = Path(__file__).resolve().parents[2]
STRATEGIES = ("fx", "export", "eager")
SAMPLE_CASES = [
    *((name, s) for name in ("feedforward_torch", "cnn_torch", "nan_torch") for s in STRATEGIES),
    ("dynamic_torch", "eager"),
]

_targets: dict[str, ModelTarget] = {}
_captures: dict[tuple[str, str], object] = {}


def sample(name: str) -> ModelTarget:
    if name not in _targets:
        _targets[name] = load_target(name)
    return _targets[name]


def captured_sample(name: str, strategy: str):
    key = (name, strategy)
    if key not in _captures:
        _captures[key] = capture(sample(name), strategy)
    return _captures[key]


def open_session(captured) -> Session:
    events: list[ev.Event] = []
    session = Session(captured, listener=events.append)
    session.events = events  # type: ignore[attr-defined]
    session.start()
    assert session.wait().reason == ev.READY
    return session


def close(session: Session) -> None:
    session.stop()
    session.join()


def to_end(session: Session) -> ev.Paused:
    session.continue_()
    pause = session.wait()
    assert pause is not None
    return pause


def flat_numpy(output) -> list[np.ndarray]:
    return [v.detach().numpy() for v in flatten(output) if isinstance(v, torch.Tensor)]


def reference_param_grads(target: ModelTarget, *inputs) -> dict[str, np.ndarray]:
    """Autograd on the model's own forward: `loss(model(*inputs)).backward()`."""
    model = target.model
    model.zero_grad()
    inputs = inputs or target.example_inputs
    output = model(*inputs)
    loss = target.loss(output, *inputs) if target.loss else first_tensor(output).sum()
    loss.backward()
    grads = {n: p.grad.numpy().copy() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    return grads


def first_tensor(output):
    return next(v for v in flatten(output) if isinstance(v, torch.Tensor))


def node_where(graph, op: str, scope: tuple[str, ...] | None = None) -> str:
    """The first node (in order) whose op mentions `op` (and has `scope`, when given)."""
    for node_id in graph.order:
        attrs = graph.node(node_id)
        if (
            attrs["kind"] in ("op", "module")
            and op in attrs["op"].lower()
            and (scope is None or tuple(attrs["scope"]) == scope)
        ):
            return node_id
    raise AssertionError(f"no {op} node in {graph.order}")


# ------------------------------------------------------------------ exactness


@pytest.mark.parametrize(("name", "strategy"), SAMPLE_CASES)
def test_stepping_to_the_end_equals_the_forward(name, strategy):
    target = sample(name)
    session = open_session(captured_sample(name, strategy))
    try:
        pause = to_end(session)
        assert pause.reason == ev.FINISHED
        expected = flat_numpy(target.call())
        assert len(session.run.outputs) == len(expected)
        for got, want in zip(session.run.outputs, expected, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, equal_nan=True)
        assert session.run.executed == session.graph.order
    finally:
        close(session)


@pytest.mark.parametrize(("name", "strategy"), SAMPLE_CASES)
def test_parameter_gradients_equal_autograd(name, strategy):
    target = sample(name)
    session = open_session(captured_sample(name, strategy))
    try:
        to_end(session)
        session.backward()
        session.wait()
        result = session.gradients
        assert result is not None
        assert result.loss_source == "loss() of the model file"
        expected = reference_param_grads(target)
        assert expected
        for fqn, grad in expected.items():
            np.testing.assert_allclose(result.params[fqn], grad, rtol=1e-5, atol=1e-6)
        unused = {n for n, _ in target.model.named_parameters()} - set(expected)
        for fqn in unused:
            assert result.absent[fqn] == "does not affect the loss"
    finally:
        close(session)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_node_gradients_equal_autograd_on_a_manual_forward(strategy):
    target = sample("feedforward_torch")
    model = target.model
    session = open_session(captured_sample("feedforward_torch", strategy))
    try:
        to_end(session)
        session.backward()
        session.wait()
        graph = session.graph
        relu = node_where(graph, "relu")
        fc1 = node_where(graph, "linear", ("fc1",)) if strategy != "fx" else "fc1"
        x_node = next(n for n in graph.order if graph.node(n)["kind"] == "input")

        x = target.example_inputs[0].clone().requires_grad_(True)
        pre = model.fc1(x)
        hidden = torch.relu(pre)
        pre.retain_grad()
        hidden.retain_grad()
        target.loss(model.fc2(hidden), x).backward()
        model.zero_grad()

        np.testing.assert_allclose(session.gradient(relu), hidden.grad.numpy(), rtol=1e-5)
        np.testing.assert_allclose(session.gradient(fc1), pre.grad.numpy(), rtol=1e-5)
        np.testing.assert_allclose(session.gradient(x_node), x.grad.numpy(), rtol=1e-5)
    finally:
        close(session)


def test_sum_of_the_first_output_is_the_loss_without_a_loss_function():
    target = thirdparty_target("dict_output")
    session = open_session(capture(target, "fx"))
    try:
        to_end(session)
        session.backward()
        session.wait()
        assert session.gradients.loss_source == "sum of the first output"
        output = target.call()
        assert session.gradients.loss == pytest.approx(
            float(output["logits"].sum().detach()), rel=1e-5
        )
        expected = reference_param_grads(target)
        for fqn, grad in expected.items():
            np.testing.assert_allclose(session.gradients.params[fqn], grad, rtol=1e-5, atol=1e-7)
    finally:
        close(session)


def test_integer_and_unused_outputs_get_a_reason():
    session = open_session(captured_sample("dynamic_torch", "eager"))
    try:
        to_end(session)
        session.backward()
        session.wait()
        absent = session.gradients.absent
        graph = session.graph
        comparison = node_where(graph, "gt")  # `sequence.mean() > 0`: a bool
        assert absent[comparison] == "integer output: not differentiable"
        assert absent[node_where(graph, "mean")] == "does not affect the loss"
        assert absent["negative_head.0.weight"] == "does not affect the loss"
    finally:
        close(session)


def test_a_node_modified_in_place_later_gets_a_reason_not_a_wrong_gradient():
    class InPlace(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            y = self.fc(x)
            y.mul_(2.0)
            return y.relu()

    torch.manual_seed(0)
    target = ModelTarget("inplace", "inplace", "torch", InPlace(), (torch.randn(3, 4),))
    session = open_session(capture(target, "eager"))
    try:
        to_end(session)
        session.backward()
        session.wait()
        graph = session.graph
        linear = node_where(graph, "linear")
        assert "in place" in session.gradients.absent[linear]
        for fqn, grad in reference_param_grads(target).items():
            np.testing.assert_allclose(session.gradients.params[fqn], grad, rtol=1e-5)
    finally:
        close(session)


@pytest.mark.parametrize("strategy", ["fx", "eager"])
def test_a_continue_reports_what_stepping_node_by_node_reports(strategy):
    # a continue summarises small outputs in batches; an in-place op later in the
    # graph must not change what was reported (or kept) for the node before it
    class Chain(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList(nn.Linear(6, 6) for _ in range(40))

        def forward(self, x):
            for layer in self.layers:
                y = layer(x)
                x = torch.tanh(y)
                y.mul_(-3.0)  # in place, after tanh has read it
            return x

    torch.manual_seed(0)
    target = ModelTarget("chain", "chain", "torch", Chain(), (torch.randn(3, 6),))
    captured = capture(target, strategy)
    stepped, continued = open_session(captured), open_session(captured)
    try:
        to_end(continued)
        while stepped.run.finished is False:
            stepped.step()
            assert stepped.wait().reason in (ev.STEP, ev.FINISHED)
        assert continued.run.executed == stepped.run.executed
        assert len(continued.run.executed) > 80
        for node in stepped.run.executed:
            (want,), (got,) = stepped.summaries[node], continued.summaries[node]
            assert (got.min, got.max, got.negative, got.hist_counts) == (
                want.min,
                want.max,
                want.negative,
                want.hist_counts,
            ), node
            assert got.mean == pytest.approx(want.mean, rel=1e-5, abs=1e-6), node
            np.testing.assert_array_equal(continued.value(node), stepped.value(node))
        linear = node_where(stepped.graph, "linear")
        assert stepped.summaries[linear][0].min >= -1.5  # before the in-place * -3
    finally:
        close(stepped)
        close(continued)


# ------------------------------------------------------------------ set_value


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("when", ["paused_on_it", "after_the_run"])
def test_set_value_changes_downstream_like_the_model_run_on_it(strategy, when):
    target = sample("feedforward_torch")
    session = open_session(captured_sample("feedforward_torch", strategy))
    try:
        relu = node_where(captured_sample("feedforward_torch", strategy).graph, "relu")
        new = np.abs(np.random.default_rng(0).normal(size=(4, 20))).astype(np.float32) + 1.0
        if when == "paused_on_it":
            session.run_to(relu)
            assert session.wait().node_id == relu
            session.set_value(relu, new)
            session.wait()
            pause = to_end(session)
        else:
            to_end(session)
            session.set_value(relu, new)  # already ran: the session reruns with it
            session.wait()
            pause = to_end(session)
        assert pause.reason == ev.FINISHED
        expected = target.model.fc2(torch.from_numpy(new)).detach().numpy()
        np.testing.assert_allclose(session.run.outputs[0], expected, rtol=1e-6)
        np.testing.assert_array_equal(session.value(relu), new)
        # gradients stop at the replaced value: fc1 no longer affects the loss
        session.backward()
        session.wait()
        assert "fc1.weight" not in session.gradients.params
        assert "fc2.weight" in session.gradients.params
    finally:
        close(session)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_restart_with_new_inputs_uses_them(strategy):
    target = sample("feedforward_torch")
    session = open_session(captured_sample("feedforward_torch", strategy))
    try:
        new = np.linspace(-1, 1, 40, dtype=np.float32).reshape(4, 10)
        session.restart((new,))
        session.wait()
        restarted = [e for e in session.events if isinstance(e, ev.Restarted)][-1]
        assert restarted.new_inputs and restarted.input_summaries[0].max == pytest.approx(1.0)
        to_end(session)
        np.testing.assert_array_equal(session.stepper.inputs()[0], new)
        expected = target.call(torch.from_numpy(new)).detach().numpy()
        np.testing.assert_allclose(session.run.outputs[0], expected, rtol=1e-6)
        np.testing.assert_array_equal(target.example_inputs[0].numpy(), sample_inputs_copy())
    finally:
        close(session)


def sample_inputs_copy() -> np.ndarray:
    return load_target("feedforward_torch").example_inputs[0].numpy()


# ------------------------------------------------------------------ breakpoints


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_stop_at_first_nan_stops_on_log(strategy):
    session = open_session(captured_sample("nan_torch", strategy))
    try:
        session.breakpoints.add(condition="nan")
        pause = to_end(session)
        assert pause.reason == ev.BREAKPOINT
        assert session.graph.node(pause.node_id)["op"].endswith("log")
        assert np.isnan(session.value(pause.node_id)).any()
        before = session.run.executed[:-1]
        assert not any(
            np.isnan(session.value(n)).any() for n in before if session.value(n) is not None
        )
    finally:
        close(session)


class TableLookup(nn.Module):
    """A valid first layer, then an embedding that raises on an out-of-range index."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.table = nn.Embedding(5, 3)

    def forward(self, x, index):
        hidden = torch.relu(self.fc1(x))
        return hidden + self.table(index)


def table_target() -> ModelTarget:
    torch.manual_seed(0)
    inputs = (torch.randn(2, 4), torch.tensor([1, 4]))
    return ModelTarget("table", "table", "torch", TableLookup(), inputs)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_an_exception_pauses_on_the_failing_node_and_restart_works(strategy):
    target = table_target()
    captured = capture(target, strategy)
    session = open_session(captured)
    try:
        x = target.example_inputs[0].numpy()
        session.restart((x, np.array([1, 9])))  # 9 is past the end of the table
        session.wait()
        pause = to_end(session)
        assert pause.reason == ev.EXCEPTION
        node = pause.node_id
        assert node in session.graph
        assert "embedding" in session.graph.node(node)["op"].lower() or node == "table"
        assert "index" in pause.message.lower()
        failed = [e for e in session.events if isinstance(e, ev.Failed)]
        assert failed and failed[-1].node_id == node
        assert "fc1.weight" not in node
        session.restart((x, np.array([0, 2])))
        session.wait()
        assert to_end(session).reason == ev.FINISHED
        expected = target.call(torch.from_numpy(x), torch.tensor([0, 2])).detach().numpy()
        np.testing.assert_allclose(session.run.outputs[0], expected, rtol=1e-6)
    finally:
        close(session)


# ------------------------------------------------------------------ eager specifics


def test_eager_graphs_differ_for_the_two_inputs_of_a_data_dependent_model():
    module = sample("dynamic_torch").module
    session = open_session(captured_sample("dynamic_torch", "eager"))
    try:
        to_end(session)
        first_graph = session.graph
        first = [first_graph.node(n)["op"] for n in first_graph.order]
        other = tuple(t.numpy() for t in module.other_inputs())
        session.restart(other)
        session.wait()
        session.step()
        session.wait()
        assert session.graph.order == ["sequence"]  # a new run starts a new graph
        to_end(session)
        second = [session.graph.node(n)["op"] for n in session.graph.order]
        assert session.graph is not first_graph
        assert first != second
        assert "tanh" in second and "tanh" not in first
        assert second.count("rnn_tanh_cell") == 5 and first.count("rnn_tanh_cell") == 3
        expected = sample("dynamic_torch").call(*module.other_inputs()).detach().numpy()
        np.testing.assert_allclose(session.run.outputs[0], expected, rtol=1e-6)
    finally:
        close(session)


def test_eager_emits_node_added_before_each_node_is_stepped():
    session = open_session(captured_sample("cnn_torch", "eager"))
    try:
        session.step()
        assert session.wait().node_id == "images"
        assert session.graph.order == ["images"]  # the graph grows as the model runs
        to_end(session)
        added: set[str] = set()
        stepped: list[str] = []
        for event in session.events:
            if isinstance(event, ev.NodeAdded):
                added.add(event.node_id)
            elif isinstance(event, ev.NodeStepped):
                assert event.node_id in added, f"{event.node_id} stepped before it was added"
                stepped.append(event.node_id)
        assert stepped == session.graph.order
    finally:
        close(session)


# ------------------------------------------------------------------ stepping modes


class Nested(nn.Module):
    """block (Linear, ReLU, inner Sequential(Linear, Tanh)), a top-level mul, then head."""

    def __init__(self) -> None:
        super().__init__()
        inner = nn.Sequential(nn.Linear(8, 8), nn.Tanh())
        self.block = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), inner)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        hidden = self.block(x) * 2.0
        return self.head(hidden)


def last_in(graph, scope: tuple[str, ...]) -> str:
    """The last node (in order) that runs inside `scope` (fx: a module node's own scope)."""
    inside = [n for n in graph.order if tuple(graph.node(n)["scope"])[: len(scope)] == scope]
    return inside[-1]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_step_step_over_step_out_and_run_to_stop_where_expected(strategy):
    torch.manual_seed(0)
    target = ModelTarget("nested", "nested", "torch", Nested(), (torch.randn(2, 6),))
    captured = capture(target, strategy)
    plan = captured.graph  # eager: the recording of the same input has the same ids
    inner_linear = node_where(plan, "linear", ("block", "2", "0"))
    mul = node_where(plan, "mul", ())
    output = plan.order[-1]
    session = open_session(captured)
    try:
        session.step()  # parameters are plumbing: the first pause is on the input
        assert session.wait().node_id == "x"
        session.step()  # into block: its first Linear
        assert session.wait().node_id == last_in(plan, ("block", "0"))
        session.run_to(inner_linear)
        assert session.wait().node_id == inner_linear
        session.step_out()  # finishes block.2: paused on its last node, the Tanh
        assert session.wait().node_id == last_in(plan, ("block", "2"))
        session.step_over()  # back in forward: the mul
        assert session.wait().node_id == mul
        session.step_over()  # head runs whole: paused on its last node
        assert session.wait().node_id == last_in(plan, ("head",))
        session.step_over()  # the output node, then the end of the run
        assert (session.wait().node_id, session.last_pause.reason) == (output, ev.STEP)
        session.step_over()
        assert (session.wait().node_id, session.last_pause.reason) == (output, ev.FINISHED)
        np.testing.assert_allclose(
            session.run.outputs[0], target.call().detach().numpy(), rtol=1e-6
        )
    finally:
        close(session)


# ------------------------------------------------------------------ third-party models


THIRD_PARTY = ["transformer", "attention", "dict_output", "recurrent"]


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("name", THIRD_PARTY)
def test_third_party_models_step_to_their_forward(name, strategy):
    target = thirdparty_target(name)
    try:
        captured = capture(target, strategy)
    except Exception as exc:
        pytest.skip(f"{strategy} does not capture {name}: {exc}")
    session = open_session(captured)
    try:
        assert to_end(session).reason == ev.FINISHED
        with torch.no_grad():
            expected = flat_numpy(target.call())
        assert len(session.run.outputs) == len(expected)
        for got, want in zip(session.run.outputs, expected, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
        session.backward()
        session.wait()
        grads = reference_param_grads(target)
        for fqn, grad in grads.items():
            np.testing.assert_allclose(session.gradients.params[fqn], grad, rtol=1e-4, atol=1e-5)
    finally:
        close(session)


# ------------------------------------------------------------------ CLI


def graphstep(*args: str) -> subprocess.CompletedProcess:
    code = "import sys\nfrom inspectors.cli import main\nraise SystemExit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True
    )


def test_cli_run_stops_at_the_first_nan_on_log():
    out = graphstep("run", "nan_torch", "--break-on", "nan", "--json")
    assert out.returncode == 3, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    paused = [e for e in events if e["event"] == "paused"]
    assert paused and paused[-1]["node"] == "log"


def test_cli_run_with_gradients():
    out = graphstep("run", "feedforward_torch", "--grad")
    assert out.returncode == 0, out.stderr
    assert "gradients of loss" in out.stdout
    assert "fc1.weight" in out.stdout


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_restart_and_stop_mid_run_unwind_cleanly(strategy):
    target = sample("cnn_torch")
    session = open_session(captured_sample("cnn_torch", strategy))
    try:
        for _ in range(4):
            session.step()
        session.wait()
        session.restart()  # unwinds the paused run (in eager: out of the model's forward)
        assert session.wait().reason == ev.READY
        assert not any(m._forward_hooks or m._forward_pre_hooks for m in target.model.modules())
        assert to_end(session).reason == ev.FINISHED
        expected = target.call().detach().numpy()
        np.testing.assert_allclose(session.run.outputs[0], expected, rtol=1e-5, atol=1e-6)
        session.restart()
        session.wait()
        session.step()
        session.wait()
    finally:
        close(session)
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in target.model.modules())


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_dropped_value_is_recomputed_by_a_fresh_stepper(strategy):
    captured = captured_sample("feedforward_torch", strategy)
    events: list[ev.Event] = []
    session = Session(captured, budget=1, listener=events.append)  # keeps no full value
    session.start()
    session.wait()
    try:
        to_end(session)
        relu = node_where(session.graph, "relu")
        assert session.value(relu) is None
        session.fetch_value(relu)
        session.wait()
        ready = [e for e in events if isinstance(e, ev.ValueReady)][-1]
        model = sample("feedforward_torch").model
        x = sample("feedforward_torch").example_inputs[0]
        expected = torch.relu(model.fc1(x)).detach().numpy()
        np.testing.assert_allclose(ready.array, expected, rtol=1e-6)
    finally:
        close(session)


def test_eager_error_in_model_python_blames_no_op(tmp_path):
    """A `raise` in the forward's own code (not in a torch op) names the model code."""
    from inspectors import events as ev
    from inspectors.capture import capture
    from inspectors.session import Session
    from inspectors.target import load_target

    path = tmp_path / "raises.py"
    path.write_text(
        "import torch\nfrom torch import nn\n\n"
        "class Net(nn.Module):\n"
        "    fail = False\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(3, 3)\n"
        "    def forward(self, x):\n"
        "        y = self.fc(x)\n"
        "        if Net.fail:\n"
        "            raise ValueError('the model gave up')\n"
        "        return y\n\n"
        "def build():\n    return Net()\n\n"
        "def example_inputs():\n    return (torch.ones(2, 3),)\n"
    )
    target = load_target(str(path))
    events: list = []
    session = Session(capture(target, "eager"), listener=events.append)
    session.start()
    session.wait()
    type(target.model).fail = True
    session.continue_()
    pause = session.wait()
    session.stop()
    session.join()
    assert pause.reason == ev.EXCEPTION
    failed = [e for e in events if isinstance(e, ev.Failed)][0]
    assert failed.node_id.startswith("model code after")
    assert "the model gave up" in failed.message
    assert failed.node_id not in session.graph  # no op of the graph is blamed


def test_an_engine_with_only_an_eager_capture_summarises_torch_tensors():
    """The eager stepper hands the Session torch tensors, as the fx stepper does, so
    importing it alone registers torch's summaries: an engine that opens only an eager
    capture must summarise a tensor, not describe it by its repr."""
    code = (
        "import torch\n"
        "from inspectors.torch_inspector import eager_stepper\n"
        "from inspectors.tensors import summarize\n"
        "s = summarize(torch.arange(4.0))\n"
        "assert (s.kind, s.min, s.max, s.size) == ('tensor', 0.0, 3.0, 4), s\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_values_asked_while_paused_between_eager_ops_add_no_node():
    """Step over pauses where a module call returns, outside any torch op, with the
    recorder still watching; a value the window asks for there (a torch call on the
    kept tensor) must not become a node of the model's graph."""
    captured = captured_sample("attention_torch", "eager")
    plain = open_session(captured)
    session = open_session(captured)
    try:
        assert to_end(plain).reason == ev.FINISHED
        pauses = 0
        while not session.run.finished:
            session.step_over()
            pause = session.wait()
            assert pause is not None and pause.reason in (ev.STEP, ev.FINISHED)
            pauses += 1
            for node in session.run.executed[-2:]:
                session.fetch_value(node)
                session.wait()
        asked = [e for e in session.events if isinstance(e, ev.ValueReady)]
        assert pauses > 3 and len(asked) > 3
        assert sorted(session.graph.nodes) == sorted(plain.graph.nodes)
        assert session.run.executed == plain.run.executed
    finally:
        close(plain)
        close(session)
