"""Calls of XLA-compiled functions (`tf.function(jit_compile=True)`) in the TF stepper.

Keras 3 runs grouped convolutions through such a function because TensorFlow has no CPU
kernel for their gradient (with oneDNN off, as the CLI and conftest run TensorFlow):
stepped op by op, backward failed with "Gradients for grouped convolutions are not
supported on CPU". The stepper runs the call as one op and takes its gradient from the
function as a whole, as a GradientTape over the model does.
"""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from inspectors import events as ev  # noqa: E402
from inspectors.capture import capture  # noqa: E402
from inspectors.session import Session  # noqa: E402
from inspectors.target import ModelTarget  # noqa: E402

pytestmark = pytest.mark.tf


def target_of(model, *inputs, name="model", loss=None) -> ModelTarget:
    return ModelTarget(
        spec=name, name=name, framework="tensorflow", model=model, example_inputs=inputs, loss=loss
    )


@pytest.fixture
def start():
    sessions: list[Session] = []

    def make(target: ModelTarget) -> Session:
        session = Session(capture(target))
        sessions.append(session)
        session.start()
        assert session.wait().reason == ev.READY
        return session

    yield make
    for s in sessions:
        s.stop()
        s.join()


def finish(session: Session) -> tuple[np.ndarray, ...]:
    session.continue_()
    pause = session.wait()
    assert pause.reason == ev.FINISHED, pause
    return tuple(session.run.outputs)


def step_to_the_end(session: Session) -> list[str]:
    seen = []
    while True:
        session.step()
        pause = session.wait()
        if pause.reason == ev.FINISHED:
            return seen
        seen.append(pause.node_id)


def backward(session: Session):
    session.backward()
    session.wait()
    result = session.gradients
    assert result is not None
    return result


def close(got, want, rtol=1e-4) -> None:
    want = np.asarray(want)
    scale = float(np.nanmax(np.abs(want))) if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * max(scale, 1e-6))


class GroupedConv(tf.Module):
    """A grouped convolution and a shift, each in a `tf.function(jit_compile=True)`:
    the kernel is passed as an argument, the bias captured (as Keras does)."""

    def __init__(self) -> None:
        super().__init__(name="grouped")
        self.w = tf.Variable(tf.random.stateless_normal((3, 3, 2, 4), seed=(1, 2)), name="w")
        self.b = tf.Variable(tf.random.stateless_normal((4,), seed=(3, 4)), name="b")

        @tf.function(jit_compile=True)
        def conv(x, w):
            return tf.nn.conv2d(x, w, 1, "SAME")  # 4 channels, kernel for 2: two groups

        @tf.function(jit_compile=True)
        def shift(y):
            return tf.tanh(y + self.b)

        self.conv, self.shift = conv, shift

    def __call__(self, x):
        return tf.reduce_mean(self.shift(self.conv(x, self.w)) ** 2, axis=[1, 2])


def grouped_target() -> ModelTarget:
    x = tf.random.stateless_uniform((2, 6, 6, 4), seed=(5, 6))
    return target_of(GroupedConv(), x, name="grouped")


def tape_gradients(target: ModelTarget):
    """Loss and d loss / d (input, every variable) from a GradientTape over the model."""
    x = tf.identity(target.example_inputs[0])
    model = target.model
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(model(x))
    variables = model.trainable_variables
    dx, *grads = tape.gradient(loss, [x, *variables])
    by_name = {v.name.split(":")[0]: g for v, g in zip(variables, grads, strict=True)}
    return loss.numpy(), dx.numpy(), by_name


def compiled_calls(session: Session) -> list[str]:
    graph = session.graph
    return [n for n in graph.order if graph.node(n).get("jit_compile")]


def test_a_compiled_call_is_one_node_with_the_tapes_gradients(start):
    target = grouped_target()
    session = start(target)
    calls = compiled_calls(session)
    assert len(calls) == 2
    (got,) = finish(session)
    close(got, target.model(target.example_inputs[0]).numpy())
    executed = session.run.executed
    assert all(c in executed for c in calls)
    assert not any("/call/" in n for n in executed), "stepped over: no inner nodes"

    result = backward(session)
    loss, dx, dparams = tape_gradients(target)
    close(result.loss, loss)
    close(session.gradient("x"), dx)
    assert set(result.params) == {"w", "b"}
    for name, grad in dparams.items():
        close(result.params[name], grad.numpy())
    for call in calls:
        assert session.gradient(call) is not None


def test_stepping_into_a_compiled_call_reports_its_body_and_keeps_the_gradients(start):
    target = grouped_target()
    session = start(target)
    conv_call, shift_call = compiled_calls(session)
    seen = step_to_the_end(session)
    inner = [n for n in seen if n.startswith(f"{conv_call}/call/")]
    (conv,) = [n for n in inner if n.endswith("Conv2D")]
    assert seen.index(conv) < seen.index(conv_call)
    close(session.value(conv), session.value(conv_call))
    tanh = next(n for n in seen if n.startswith(f"{shift_call}/call/") and n.endswith("Tanh"))
    close(session.value(tanh), session.value(shift_call))
    close(session.run.outputs[0], target.model(target.example_inputs[0]).numpy())

    result = backward(session)  # the body's grouped conv has no CPU gradient kernel
    loss, dx, dparams = tape_gradients(target)
    close(result.loss, loss)
    close(session.gradient("x"), dx)
    for name, grad in dparams.items():
        close(result.params[name], grad.numpy())
    assert "compiled with XLA" in result.absent[conv]
    for node_id in session.run.executed:
        assert node_id in result.nodes or node_id in result.absent or node_id in result.params


def test_a_value_set_inside_a_compiled_call_flows_on(start):
    target = grouped_target()
    session = start(target)
    _, shift_call = compiled_calls(session)
    graph = session.graph.subgraphs[session.graph.node(shift_call)["subgraph"]]
    (tanh,) = [n for n in graph.order if graph.node(n)["op"] == "Tanh"]
    inner = f"{shift_call}/call/{tanh}"
    session.breakpoints.add(node=inner)
    session.continue_()
    assert session.wait().node_id == inner
    shape = session.value(inner).shape
    session.set_value(inner, np.full(shape, 0.5, np.float32))
    session.wait()
    (got,) = finish(session)
    close(got, np.full((2, 4), 0.25, np.float32))
    result = backward(session)
    close(session.gradient(shift_call), np.full(shape, 2 * 0.5 / 36, np.float32))
    assert "w" in result.absent  # upstream of the override, as for any other override


def test_a_keras_grouped_conv_is_compiled_and_differentiable(start):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 4))
    y = keras.layers.Conv2D(4, 3, padding="same", groups=2, name="gconv")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(y))
    x = tf.random.stateless_uniform((1, 6, 6, 4), seed=(7, 8))
    session = start(target_of(model, x))
    assert len(compiled_calls(session)) == 1
    (got,) = finish(session)
    close(got, model(x, training=False).numpy())
    result = backward(session)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x, training=False))
    grads = tape.gradient(loss, model.trainable_variables)
    native = session.captured.native.main
    by_var = {id(v): node for node, v in native.variables.items()}
    for var, grad in zip(model.trainable_variables, grads, strict=True):
        close(result.params[by_var[id(var.value)]], grad.numpy())


@pytest.mark.slow
def test_convnext_tiny_steps_and_differentiates_like_a_gradient_tape(start):
    keras.utils.set_random_seed(0)
    model = keras.applications.ConvNeXtTiny(  # 32x32: the smallest input it takes
        weights=None, input_shape=(32, 32, 3), classes=10, classifier_activation=None
    )  # no softmax: the sum of its outputs would be 1, and every gradient 0
    x = tf.random.stateless_uniform((1, 32, 32, 3), seed=(1, 2))
    session = start(target_of(model, x, name="convnext"))
    assert len(compiled_calls(session)) >= 18  # one per depthwise conv
    (got,) = finish(session)
    want = model(x, training=False).numpy()
    close(got, want)

    result = backward(session)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x, training=False))
    grads = tape.gradient(loss, model.trainable_variables)
    close(result.loss, loss.numpy())
    native = session.captured.native.main
    by_var = {id(v): node for node, v in native.variables.items()}
    for var, grad in zip(model.trainable_variables, grads, strict=True):
        assert np.abs(grad.numpy()).max() > 0, var.path
        close(result.params[by_var[id(var.value)]], grad.numpy())
