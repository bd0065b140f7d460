"""The TensorFlow stepper driven by a Session: exact outputs, gradients and overrides
against TensorFlow itself, breakpoints, exceptions, and stepping into / over loops."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from inspectors import events as ev  # noqa: E402
from inspectors.capture import capture  # noqa: E402
from inspectors.session import Session  # noqa: E402
from inspectors.target import ModelTarget, load_target  # noqa: E402
from tests.inspectors.test_step_semantics import breakpoint_hits  # noqa: E402

pytestmark = pytest.mark.tf

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ("feedforward_keras", "cnn_keras", "while_tf", "nan_tf")


def target_of(model, *inputs, name="model", loss=None) -> ModelTarget:
    return ModelTarget(
        spec=name, name=name, framework="tensorflow", model=model, example_inputs=inputs, loss=loss
    )


def started(target: ModelTarget) -> Session:
    session = Session(capture(target))
    session.start()
    assert session.wait().reason == ev.READY
    return session


@pytest.fixture
def open_sessions():
    sessions: list[Session] = []
    yield sessions
    for s in sessions:
        s.stop()
        s.join()


@pytest.fixture
def start(open_sessions):
    def make(target: ModelTarget) -> Session:
        session = started(target)
        open_sessions.append(session)
        return session

    return make


def finish(session: Session) -> tuple[np.ndarray, ...]:
    session.continue_()
    pause = session.wait()
    assert pause.reason == ev.FINISHED, pause
    return tuple(session.run.outputs)


def flat_numpy(value) -> list[np.ndarray]:
    return [np.asarray(t) for t in tf.nest.flatten(value)]


def close(got, want, rtol=1e-4) -> None:
    """allclose with a tolerance scaled to the values (eager ops vs an optimised graph)."""
    want = np.asarray(want)
    scale = float(np.nanmax(np.abs(want))) if want.size and np.isfinite(want).any() else 1.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * max(scale, 1e-6), equal_nan=True)


def ops_of(session: Session, op: str) -> list[str]:
    graph = session.graph
    return [n for n in graph.order if graph.node(n)["op"] == op]


# ----------------------------------------------------------------- exactness


@pytest.mark.parametrize("name", SAMPLES)
def test_stepping_to_the_end_gives_the_models_own_outputs(start, name):
    target = load_target(name)
    session = start(target)
    outputs = finish(session)
    expected = flat_numpy(target.call())
    assert len(outputs) == len(expected)
    for got, want in zip(outputs, expected, strict=True):
        close(got, want)
    output_node = session.captured.native.main.outputs[0]
    close(session.value(output_node), expected[0])


@pytest.mark.parametrize("name", SAMPLES)
def test_gradients_equal_a_gradient_tape_over_the_models_forward(start, name):
    target = load_target(name)
    session = start(target)
    finish(session)
    session.backward()
    session.wait()
    result = session.gradients
    assert result is not None and result.loss_source == "loss() of the model file"

    native = session.captured.native.main
    inputs = [tf.identity(x) for x in target.example_inputs]
    with tf.GradientTape(persistent=True) as tape:
        for x in inputs:
            if x.dtype.is_floating:
                tape.watch(x)
        loss = target.loss(target.call(*inputs), *inputs)
    close(result.loss, loss.numpy())
    for node_id, var in native.variables.items():
        close(result.params[node_id], tape.gradient(loss, var).numpy())
    for node_id, x in zip(native.inputs, inputs, strict=True):
        if x.dtype.is_floating:
            close(session.gradient(node_id), tape.gradient(loss, x).numpy())
        else:
            assert "integer output" in result.absent[node_id]
    # every float output the run reported has a gradient or a reason
    for node_id in session.run.executed:
        assert node_id in result.nodes or node_id in result.absent or node_id in result.params


def test_gradient_of_an_intermediate_matches_the_chain_rule(start):
    target = load_target("feedforward_keras")
    session = start(target)
    finish(session)
    session.backward()
    session.wait()
    (relu,) = ops_of(session, "Relu")
    out = session.captured.native.main.outputs[0]
    kernel2 = target.model.get_layer("fc2").kernel.numpy()
    # loss = mean(out^2): d/d out = 2 out / n; d/d relu = that @ W2^T
    d_out = 2 * session.value(out) / session.value(out).size
    close(session.gradient(out), d_out)
    close(session.gradient(relu), d_out @ kernel2.T)


def test_without_a_loss_the_sum_of_the_first_output_is_differentiated(start):
    target = load_target("nan_tf")
    target.loss = None
    x = tf.abs(target.example_inputs[0])  # keep the log finite
    session = start(target)
    session.restart((x.numpy(),))
    session.wait()
    finish(session)
    session.backward()
    session.wait()
    assert session.gradients.loss_source == "sum of the first output"
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(target.call(x))
    close(session.gradient("x"), tape.gradient(loss, x).numpy())


# ----------------------------------------------------------------- set_value


def test_set_value_on_an_intermediate_changes_the_result_downstream(start):
    target = load_target("feedforward_keras")
    session = start(target)
    (relu,) = ops_of(session, "Relu")
    session.run_to(relu)
    assert session.wait().node_id == relu
    replaced = np.linspace(-1.0, 1.0, session.value(relu).size, dtype=np.float32)
    replaced = replaced.reshape(session.value(relu).shape)
    session.set_value(relu, replaced)
    session.wait()
    (got,) = finish(session)
    fc2 = target.model.get_layer("fc2")
    close(got, replaced @ fc2.kernel.numpy() + fc2.bias.numpy())


def test_kept_values_do_not_change_when_variables_are_updated_or_overrides_edited(start):
    # values are kept as views of the eager tensors, without a copy: they must still
    # be the values of that run after training updates the variables
    target = load_target("feedforward_keras")
    session = start(target)
    graph = session.graph
    param = next(n for n in graph.order if graph.node(n)["kind"] == "param")
    (relu,) = ops_of(session, "Relu")
    finish(session)
    kept = {n: session.value(n).copy() for n in graph.order if session.value(n) is not None}
    assert param in kept and relu in kept
    for variable in target.model.trainable_variables:
        variable.assign(variable * 2.0 + 1.0)
    for node, array in kept.items():
        np.testing.assert_array_equal(session.value(node), array, err_msg=node)
    # an override is the caller's array: editing it afterwards changes nothing kept
    session.restart()
    session.wait()
    session.run_to(relu)
    session.wait()
    replaced = np.ones_like(kept[relu])
    session.set_value(relu, replaced)
    session.wait()
    replaced[:] = 7.0
    np.testing.assert_array_equal(session.value(relu), np.ones_like(kept[relu]))


def test_set_value_before_a_node_runs_is_used_in_the_next_run(start):
    target = load_target("nan_tf")
    session = start(target)
    session.set_value("fc1/Tanh", np.full((3, 16), 0.25, np.float32))
    session.wait()
    (got,) = finish(session)
    close(got, np.log(np.full((3, 16), 0.75, np.float32)) @ target.model.w2.numpy())


def test_set_value_inside_a_loop_body_changes_the_following_iterations(start):
    target = load_target("while_tf")
    session = start(target)
    session.breakpoints.add(node="while/body[1]/while/cell/Tanh")
    session.continue_()
    assert session.wait().node_id == "while/body[1]/while/cell/Tanh"
    session.set_value("while/body[1]/while/cell/Tanh", np.zeros(4, np.float32))
    session.wait()
    (got,) = finish(session)
    w, b = target.model.w.numpy(), target.model.b.numpy()
    close(got, np.tanh(w @ np.zeros(4, np.float32) + b))  # iteration 2 from the zeros


# ----------------------------------------------------------------- breakpoints


def test_stop_at_the_first_nan_stops_on_the_log_op(start):
    session = start(load_target("nan_tf"))
    session.breakpoints.add(condition="nan")
    session.continue_()
    pause = session.wait()
    assert pause.reason == ev.BREAKPOINT
    assert session.graph.node(pause.node_id)["op"] == "Log"
    assert np.isnan(session.value(pause.node_id)).any()
    assert not np.isnan(session.value("add")).any()


def test_breakpoint_on_an_op_type_stops_at_each_node_of_that_type(start):
    session = start(load_target("feedforward_keras"))
    session.breakpoints.add(op="MatMul")
    stops = []
    for _ in range(3):
        session.continue_()
        pause = session.wait()
        stops.append(pause.node_id if pause.reason == ev.BREAKPOINT else pause.reason)
    assert stops == [*ops_of(session, "MatMul"), ev.FINISHED]


def test_an_op_that_raises_pauses_on_it_and_restart_works():
    @tf.function
    def checked(x):
        doubled = x * 2.0
        logged = tf.debugging.check_numerics(tf.math.log(doubled), "log of a negative")
        return logged + 1.0

    target = target_of(checked, tf.constant([1.0, -1.0]), name="checked")
    session = started(target)
    try:
        session.continue_()
        pause = session.wait()
        assert pause.reason == ev.EXCEPTION
        assert session.graph.node(pause.node_id)["op"] == "CheckNumerics"
        assert "log of a negative" in pause.message
        session.restart((np.array([1.0, 2.0], np.float32),))
        assert session.wait().reason == ev.READY
        (got,) = finish(session)
        close(got, np.log([2.0, 4.0]) + 1.0)
    finally:
        session.stop()
        session.join()


def test_an_invalid_reshape_with_a_dynamic_shape_pauses_with_the_error(start):
    @tf.function
    def reshape(x, n):
        return tf.reshape(x, tf.stack([n, -1])) * 2.0

    session = start(target_of(reshape, tf.ones((6,)), tf.constant(4), name="reshape"))
    session.continue_()
    pause = session.wait()
    assert pause.reason == ev.EXCEPTION
    assert session.graph.node(pause.node_id)["op"] == "Reshape"
    session.restart((np.ones(6, np.float32), np.array(3, np.int32)))
    session.wait()
    (got,) = finish(session)
    close(got, np.full((3, 2), 2.0))


# ----------------------------------------------------------------- subgraphs


def test_stepping_into_a_while_loop_runs_its_body_iteration_by_iteration(start):
    session = start(load_target("while_tf"))
    session.run_to("recurrence/b")  # the last node before the While
    session.wait()
    seen = []
    while True:
        session.step()
        pause = session.wait()
        seen.append(pause.node_id)
        if pause.node_id == "while":
            break
        assert len(seen) < 200
    tanhs = [n for n in seen if n.endswith("/while/cell/Tanh")]
    assert tanhs == [f"while/body[{i}]/while/cell/Tanh" for i in range(3)]
    # one step per real op: the loop test, counters, constants, variable reads and
    # Identity plumbing are passed over
    body = ["cell/MatVec/ExpandDims", "cell/MatVec/MatMul", "cell/MatVec/Squeeze"]
    body += ["cell/add", "cell/Tanh"]
    assert seen == [f"while/body[{i}]/while/{op}" for i in range(3) for op in body] + ["while"]
    assert session.run.scopes[tanhs[1]][:2] == ("while", "body[1]")
    # the body's last value is what the loop returns
    close(session.value("while", 3), session.value(tanhs[-1]))
    (got,) = finish(session)
    close(got, load_target("while_tf").call().numpy())


def test_stepping_plumbing_on_request_pauses_on_the_loop_test_too(start):
    session = start(load_target("while_tf"))
    session.set_step_plumbing(True)
    session.run_to("recurrence/b")
    session.wait()
    seen = []
    for _ in range(4):
        session.step()
        seen.append(session.wait().node_id)
    assert seen == [
        "while/cond[0]/while/Less",
        "while/cond[0]/while/Identity",
        "while/body[0]/while/cell/MatVec/ExpandDims/dim",
        "while/body[0]/while/cell/MatVec/ExpandDims",
    ]


def test_stepping_over_inside_a_loop_body_goes_on_to_the_next_iteration(start):
    session = start(load_target("while_tf"))
    session.run_to("recurrence/b")
    session.wait()
    session.step()  # into the body
    assert session.wait().node_id == "while/body[0]/while/cell/MatVec/ExpandDims"
    seen = []
    for _ in range(6):
        session.step_over()
        seen.append(session.wait().node_id)
    ops = ["MatVec/MatMul", "MatVec/Squeeze", "add", "Tanh"]
    assert seen == [f"while/body[0]/while/cell/{op}" for op in ops] + [
        "while/body[1]/while/cell/MatVec/ExpandDims",
        "while/body[1]/while/cell/MatVec/MatMul",
    ]
    session.step_out()  # finishes the loop: paused on the While
    assert session.wait().node_id == "while"


def test_stepping_over_a_while_loop_is_one_pause(start):
    session = start(load_target("while_tf"))
    session.run_to("recurrence/b")
    session.wait()
    session.step_over()
    pause = session.wait()
    assert pause.node_id == "while"
    assert not any("body[" in n for n in session.run.executed)
    session.step_out()
    assert session.wait().reason == ev.FINISHED


def test_a_nan_breakpoint_looks_inside_loop_bodies(start):
    @tf.function
    def shrink(x, steps):
        for _ in tf.range(steps):
            x = tf.math.log(x)
        return x

    session = start(target_of(shrink, tf.constant([3.0, 20.0]), tf.constant(4), name="shrink"))
    session.breakpoints.add(condition="nan")
    session.continue_()
    pause = session.wait()
    assert pause.reason == ev.BREAKPOINT
    # log(log(log(3))) < 0, so the NaN appears in the fourth iteration
    assert pause.node_id.startswith("while/body[3]/") and pause.node_id.endswith("Log")


def test_stepping_into_a_cond_runs_only_the_branch_taken(start):
    @tf.function
    def branch(x):
        return tf.cond(tf.reduce_sum(x) > 0, lambda: x * 3.0, lambda: x - 1.0)

    session = start(target_of(branch, tf.constant([1.0, 2.0]), name="branch"))
    seen = []
    for _ in range(100):
        session.step()
        pause = session.wait()
        if pause.reason == ev.FINISHED:
            break
        seen.append(pause.node_id)
    (if_node,) = [n for n in session.graph.order if session.graph.node(n)["op"].endswith("If")]
    assert any(n.startswith(f"{if_node}/then/") for n in seen)
    assert not any(n.startswith(f"{if_node}/else/") for n in seen)
    close(session.run.outputs[0], [3.0, 6.0])
    session.restart((np.array([-1.0, -2.0], np.float32),))
    session.wait()
    (got,) = finish(session)
    close(got, [-2.0, -3.0])


def nested_call_target() -> ModelTarget:
    w = tf.Variable([[1.0, 0.5, -1.0], [0.25, -0.5, 2.0]], name="w")

    @tf.function
    def inner(x):
        return tf.tanh(x @ w)

    @tf.function
    def outer(x):
        return inner(x) * 2.0

    return target_of(
        outer, tf.constant([[1.0, -0.5]]), name="outer", loss=lambda out, x: tf.reduce_sum(out)
    )


def test_a_nested_function_call_is_stepped_into_with_exact_gradients(start):
    target = nested_call_target()
    session = start(target)
    (call,) = ops_of(session, "StatefulPartitionedCall")
    seen = []
    while True:
        session.step()
        pause = session.wait()
        if pause.reason == ev.FINISHED:
            break
        seen.append(pause.node_id)
    inner = [n for n in seen if n.startswith(f"{call}/call/")]
    assert any(n.endswith("Tanh") for n in inner)
    assert seen.index(inner[-1]) < seen.index(call)
    close(session.run.outputs[0], target.call().numpy())
    session.backward()
    session.wait()
    x = target.example_inputs[0]
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(target.call(x))
    close(session.gradient("x"), tape.gradient(loss, x).numpy())
    tanh = next(n for n in inner if n.endswith("Tanh"))
    close(session.gradient(tanh), np.full((1, 3), 2.0))


def test_a_call_whose_function_was_not_captured_runs_as_one_op(open_sessions):
    target = nested_call_target()
    captured = capture(target)
    captured.native.functions.clear()  # as if the callee could not be read
    session = Session(captured)
    open_sessions.append(session)
    session.start()
    session.wait()
    (got,) = finish(session)
    close(got, target.call().numpy())
    assert not any("/call/" in n for n in session.run.executed)
    session.backward()
    session.wait()
    (call,) = ops_of(session, "StatefulPartitionedCall")
    close(session.gradient(call), np.full((1, 3), 2.0))  # downstream of the call: exact
    assert "ran as one op" in session.gradients.absent["x"]


# ----------------------------------------------------------------- third party


@pytest.mark.slow
def test_a_keras_application_stepped_to_the_end_equals_its_forward(start):
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), alpha=0.35)
    image = tf.random.stateless_uniform((2, 32, 32, 3), seed=(1, 2))
    session = start(target_of(model, image, name="mobilenet"))
    (got,) = finish(session)
    close(got, model(image, training=False).numpy())
    session.backward()
    session.wait()
    result = session.gradients
    assert result is not None
    for node_id in session.captured.native.main.variables:
        assert node_id in result.params or node_id in result.absent


# ----------------------------------------------------------------- CLI


def test_cli_run_breaks_on_the_first_nan_and_reports_the_log_node():
    code = (
        "import sys; from inspectors.cli import main; "
        "sys.exit(main(['run', 'nan_tf', '--break-on', 'nan', '--json']))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 3, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    paused = [e for e in events if e["event"] == "paused"]
    assert paused[-1]["reason"] == ev.BREAKPOINT
    assert paused[-1]["node"] == "Log"
    stepped = [e["node"] for e in events if e["event"] == "stepped"]
    assert stepped[-1] == "Log" and "fc2/MatMul" not in stepped


def test_a_breakpoint_or_run_to_on_a_node_of_the_opened_body_stops_in_each_iteration(start):
    """The body's own id (as the opened body names it) matches every iteration's node."""
    session = start(load_target("while_tf"))
    session.breakpoints.add(node="while/cell/MatVec/MatMul")
    hits = breakpoint_hits(session)
    assert hits == [f"while/body[{i}]/while/cell/MatVec/MatMul" for i in range(3)]
    for bp in list(session.breakpoints):
        session.breakpoints.remove(bp.id)
    session.restart()
    session.wait()
    session.run_to("while/cell/Tanh")
    assert session.wait().node_id == "while/body[0]/while/cell/Tanh"


def test_stepping_back_through_gradients_passes_over_plumbing_as_forward_stepping_does(start):
    session = start(load_target("feedforward_keras"))
    session.continue_()
    session.wait()
    session.backward()
    session.wait()
    seen = []
    while True:
        session.grad_step()
        pause = session.wait()
        if pause.node_id is None:
            break
        seen.append(pause.node_id)
    ops = [session.graph.node(n)["op"] for n in seen]
    assert "Identity" not in ops and "NoOp" not in ops and "ReadVariableOp" not in ops
    assert seen[0] == "output" and "feedforward_1/fc1_1/MatMul" in seen
