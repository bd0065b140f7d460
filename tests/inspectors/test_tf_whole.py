"""A TensorFlow run as one call (`whole.py`) against the same run op by op: the hook hears
of the same nodes, in the same order, with the same values; values the hook changes
and bodies it steps into send the run on op by op from that node; gradients equal."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from inspectors.capture import capture  # noqa: E402
from inspectors.stepping import NodeError  # noqa: E402
from inspectors.target import load_target  # noqa: E402
from inspectors.tf_inspector.stepper import TFStepper  # noqa: E402
from tests.inspectors.test_tf_stepper import close, nested_call_target, target_of  # noqa: E402

pytestmark = pytest.mark.tf


class Recorder:
    """A hook that keeps what it hears, replaces some values and steps into some bodies."""

    def __init__(self, replace: dict[str, dict[int, Any]] | None = None, enter=()) -> None:
        self.seen: list[tuple[str, tuple[str, ...], list[Any]]] = []
        self.replace = replace or {}
        self.enter = set(enter)
        self.asked: list[str] = []

    def node_added(self, node_id: str) -> None:
        pass

    def node_done(self, node_id, scope, values):
        kept = [np.array(v) if isinstance(v, np.ndarray) else v for v in values]
        self.seen.append((node_id, tuple(scope), kept))
        return self.replace.get(node_id)

    def enter_subgraph(self, node_id: str) -> bool:
        self.asked.append(node_id)
        return node_id in self.enter

    def scope_left(self, scope) -> None:
        pass


def both(target, **hook_args) -> tuple[tuple[TFStepper, Recorder], tuple[TFStepper, Recorder]]:
    """The same run made as one call where it can, and op by op."""
    runs = []
    for whole in (True, False):
        stepper = TFStepper(capture(target), whole=whole)
        hook = Recorder(**hook_args)
        stepper.run(hook)
        runs.append((stepper, hook))
    return runs[0], runs[1]


def assert_same_reports(a: Recorder, b: Recorder) -> None:
    assert [(n, s) for n, s, _ in a.seen] == [(n, s) for n, s, _ in b.seen]
    for (node_id, _, got), (_, _, want) in zip(a.seen, b.seen, strict=True):
        assert len(got) == len(want), node_id
        for x, y in zip(got, want, strict=True):
            if isinstance(y, np.ndarray):
                assert isinstance(x, np.ndarray) and x.dtype == y.dtype, node_id
                close(x, y, rtol=1e-5)
            else:
                assert x == y, node_id


def assert_same_gradients(a: TFStepper, b: TFStepper) -> None:
    got, want = a.backward(), b.backward()
    assert got.loss == pytest.approx(want.loss, rel=1e-5)
    assert got.nodes.keys() == want.nodes.keys()
    assert got.absent == want.absent
    for node_id, grads in want.nodes.items():
        for x, y in zip(got.nodes[node_id], grads, strict=True):
            assert (x is None) == (y is None), node_id
            if y is not None:
                close(x, y, rtol=1e-5)
    for name, grad in want.params.items():
        close(got.params[name], grad, rtol=1e-5)


def middle_node(hook: Recorder, op_type: str, graph) -> str:
    found = [n for n, _, _ in hook.seen if n in graph and graph.node(n).get("op") == op_type]
    return found[len(found) // 2]


@pytest.mark.parametrize("name", ["feedforward_keras", "cnn_keras", "while_tf"])
def test_a_run_as_one_call_reports_and_differentiates_what_op_by_op_does(name):
    target = load_target(name)
    (whole, a), (op_by_op, b) = both(target)
    assert whole.last_run_whole and not op_by_op.last_run_whole
    assert_same_reports(a, b)
    assert a.asked == b.asked  # the same bodies offered to step into
    assert_same_gradients(whole, op_by_op)


def test_captured_constants_made_nodes_are_passed_to_the_call():
    """Keras's Normalization captures its mean and variance as tensors, which the
    capture makes `Const` nodes: the call still takes them as arguments."""
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    hidden = keras.layers.Normalization(mean=[0.5, 0.0, -1.0], variance=[4.0, 1.0, 0.25])(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(hidden))
    target = target_of(model, tf.constant([[1.0, 2.0, 3.0]]), name="normalized")
    (whole, a), (op_by_op, b) = both(target)
    assert whole.last_run_whole
    assert_same_reports(a, b)
    close(a.seen[-1][2][0], model(target.example_inputs[0]).numpy())
    assert_same_gradients(whole, op_by_op)


def test_a_nested_call_run_as_one_call_differentiates_like_the_tape():
    target = nested_call_target()
    (whole, a), (op_by_op, b) = both(target)
    assert whole.last_run_whole
    assert_same_reports(a, b)
    assert_same_gradients(whole, op_by_op)
    x = target.example_inputs[0]
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(target.call(x))
    close(whole.backward().nodes["x"][0], tape.gradient(loss, x).numpy())


def test_a_value_the_hook_changes_sends_the_run_on_op_by_op_from_that_node():
    target = load_target("feedforward_keras")
    (probe, seen) = both(target)[1]
    node = middle_node(seen, "MatMul", probe.graph)
    shape = next(v for n, _, v in seen.seen if n == node)[0].shape
    replace = {node: {0: np.full(shape, 0.5, np.float32)}}
    (whole, a), (op_by_op, b) = both(target, replace=replace)
    assert not whole.last_run_whole  # it went on op by op
    assert_same_reports(a, b)
    # the change reached what follows: the outputs differ from an unchanged run's
    assert not np.allclose(a.seen[-1][2][0], seen.seen[-1][2][0])
    assert [n for n, _, _ in a.seen].count(node) == 1  # reported once, not again
    assert_same_gradients(whole, op_by_op)


def test_stepping_into_a_body_mid_run_goes_on_op_by_op_from_it():
    target = load_target("while_tf")
    (whole, a), (op_by_op, b) = both(target, enter={"while"})
    assert not whole.last_run_whole
    assert any(n.startswith("while/body[2]/") for n, _, _ in a.seen)
    assert_same_reports(a, b)
    assert a.asked == b.asked == ["while"]  # asked once, not again when going op by op
    assert_same_gradients(whole, op_by_op)


def test_a_replaced_output_is_differentiated_as_replaced_after_a_run_as_one_call():
    target = load_target("feedforward_keras")
    captured = capture(target)
    (output,) = captured.native.main.outputs
    shape = TFStepper(captured).run(Recorder())[0].shape
    replace = {
        output: {0: np.linspace(-1, 1, int(np.prod(shape)), dtype=np.float32).reshape(shape)}
    }
    (whole, a), (op_by_op, b) = both(target, replace=replace)
    assert whole.last_run_whole  # the outputs come after every node: no need to go op by op
    assert_same_reports(a, b)
    assert_same_gradients(whole, op_by_op)


def test_a_function_that_changes_state_always_runs_op_by_op():
    counter = tf.Variable(0.0)

    @tf.function
    def counting(x):
        counter.assign_add(1.0)
        return x * counter

    stepper = TFStepper(capture(target_of(counting, tf.constant([1.0, 2.0]), name="counting")))
    before = float(counter.numpy())
    (out,) = stepper.run(Recorder())
    assert not stepper.last_run_whole
    assert float(counter.numpy()) == before + 1.0  # ran once, not twice
    close(out, np.array([1.0, 2.0]) * (before + 1.0))


def test_an_op_that_raises_in_a_run_as_one_call_is_named_and_nodes_are_heard_once():
    @tf.function
    def gather(x, i):
        return tf.gather(x * 2.0, i) + 1.0

    target = target_of(gather, tf.constant([1.0, 2.0, 3.0]), tf.constant([0, 5]), name="gather")
    heard = []
    for whole in (True, False):
        stepper = TFStepper(capture(target), whole=whole)
        hook = Recorder()
        with pytest.raises(NodeError) as raised:
            stepper.run(hook)
        assert stepper.graph.node(raised.value.node_id)["op"] == "GatherV2"
        assert "not in [0, 3)" in str(raised.value)
        heard.append([n for n, _, _ in hook.seen])
    assert heard[0] == heard[1]
    assert len(set(heard[0])) == len(heard[0])
    # the same stepper runs as one call again once the input is fine
    (out,) = stepper_whole_after_error(target)
    close(out, np.array([3.0, 5.0]))


def stepper_whole_after_error(target) -> tuple[Any, ...]:
    stepper = TFStepper(capture(target))
    with pytest.raises(NodeError):
        stepper.run(Recorder())
    out = stepper.run(Recorder(), (np.array([1.0, 2.0, 3.0], np.float32), np.array([0, 1])))
    assert stepper.last_run_whole
    return out


def test_a_stateful_op_that_only_checks_keeps_the_run_op_by_op():
    @tf.function
    def checked(x):
        return tf.debugging.check_numerics(tf.math.log(x), "log of a negative") + 1.0

    stepper = TFStepper(capture(target_of(checked, tf.constant([1.0, 2.0]), name="checked")))
    (out,) = stepper.run(Recorder())
    assert not stepper.last_run_whole  # CheckNumerics is stateful in TensorFlow's registry
    close(out, np.log([1.0, 2.0]) + 1.0)


def test_a_session_prepares_the_call_and_a_recompute_shares_it():
    from inspectors import events as ev
    from inspectors.session import Session

    target = load_target("feedforward_keras")
    captured = capture(target)
    events: list = []
    session = Session(captured, budget=64, listener=events.append)
    try:
        session.start()
        assert session.wait().reason == ev.READY
        session.continue_()
        assert session.wait().reason == ev.FINISHED
        assert session.stepper.last_run_whole
        whole = captured.native.shared["whole"]
        assert whole is not None
        # a value past the tiny budget is recomputed by a fresh stepper, which takes the
        # same call (made once per capture) and gives the value the run had
        node = middle_node_of(session)
        assert session.value(node) is None and session.store.is_dropped(node)
        session.fetch_value(node)
        session.wait()
        ready = [e for e in events if isinstance(e, ev.ValueReady)][-1]
        assert "recomputed" in ready.message
        want = TFStepper(capture(target), whole=False)
        hook = Recorder()
        want.run(hook)
        close(ready.array, next(v for n, _, v in hook.seen if n == node)[0], rtol=1e-5)
        assert captured.native.shared["whole"] is whole
    finally:
        session.stop()
        session.join()


def middle_node_of(session) -> str:
    matmuls = [n for n in session.run.executed if session.graph.node(n).get("op") == "MatMul"]
    return matmuls[len(matmuls) // 2]


def test_a_model_whose_call_is_slow_goes_back_to_op_by_op(monkeypatch):
    from inspectors.tf_inspector import whole

    monkeypatch.setattr(whole, "SLOW_S", 0.0)  # every call counts as slow
    target = load_target("feedforward_keras")
    stepper = TFStepper(capture(target))
    runs = []
    for _ in range(3):
        hook = Recorder()
        stepper.run(hook)
        runs.append((stepper.last_run_whole, hook))
    # the first call also optimises the graph; the second is the model's own time
    assert [ran for ran, _ in runs] == [True, True, False]
    assert_same_reports(runs[2][1], runs[0][1])
    op_by_op = TFStepper(capture(target), whole=False)
    op_by_op.run(Recorder())
    assert_same_gradients(stepper, op_by_op)
