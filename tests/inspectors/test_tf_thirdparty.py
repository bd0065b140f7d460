"""TensorFlow capture of models Graphstep did not write: Keras applications, functional
models, tf.Modules, plain functions, saved `.keras` files and SavedModel folders."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from inspectors.capture import capture  # noqa: E402
from inspectors.graph import Graph  # noqa: E402
from inspectors.target import ModelTarget, TargetError, load_target  # noqa: E402
from inspectors.tf_inspector.capture import capture_tf  # noqa: E402

pytestmark = pytest.mark.tf


def target_of(model, *inputs, name="model") -> ModelTarget:
    return ModelTarget(
        spec=name, name=name, framework="tensorflow", model=model, example_inputs=inputs
    )


def params_of(graph: Graph) -> list[str]:
    return [n for n in graph.order if graph.node(n)["kind"] == "param"]


def check(result, n_params: int | None = None) -> Graph:
    """A valid graph whose function computes what the model computes."""
    graph = result.graph
    assert graph.validate() == []
    assert graph.meta["capture"] == "function"
    for p in params_of(graph):
        assert not p.endswith("resource"), p
    if n_params is not None:
        assert len(params_of(graph)) == n_params
    return graph


@pytest.mark.slow
def test_mobilenet_v2_from_keras_applications():
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), alpha=0.35)
    image = tf.random.stateless_uniform((1, 32, 32, 3), seed=(1, 2))
    result = capture_tf(target_of(model, image, name="mobilenet"), "auto")
    graph = check(result, n_params=len(model.variables))
    assert graph.op_counts()["op"] > 500
    assert graph.node("output")["outputs"][0][0] == (1, 1000)
    convs = [n for n in graph.order if graph.node(n)["op"] == "DepthwiseConv2dNative"]
    assert convs and all(len(graph.node(c)["scope"]) >= 2 for c in convs)
    got = result.native.concrete_function(image)
    np.testing.assert_allclose(got.numpy(), model(image, training=False).numpy(), atol=1e-5)


@pytest.mark.slow
def test_resnet50_from_keras_applications():
    model = keras.applications.ResNet50(weights=None, input_shape=(32, 32, 3), classes=10)
    result = capture_tf(target_of(model, tf.zeros((1, 32, 32, 3)), name="resnet50"), "auto")
    graph = check(result, n_params=len(model.variables))
    assert len(graph) > 1500
    scopes = {graph.node(n)["scope"][:2] for n in graph.order}
    assert ("resnet50", "conv2_block1_add") in scopes


def test_small_resnet_with_skip_connections():
    keras.utils.set_random_seed(0)
    layers = keras.layers
    x = inputs = keras.Input((16, 16, 3), name="image")
    x = layers.Conv2D(8, 3, padding="same", name="stem")(x)
    for i in range(2):
        y = layers.Conv2D(8, 3, padding="same", activation="relu", name=f"block{i}_conv1")(x)
        y = layers.BatchNormalization(name=f"block{i}_bn")(y)
        y = layers.Conv2D(8, 3, padding="same", name=f"block{i}_conv2")(y)
        x = layers.Activation("relu", name=f"block{i}_out")(
            layers.Add(name=f"block{i}_add")([x, y])
        )
    outputs = layers.Dense(3, name="head")(layers.GlobalAveragePooling2D(name="pool")(x))
    model = keras.Model(inputs, outputs, name="resnet")
    image = tf.random.stateless_uniform((2, 16, 16, 3), seed=(3, 4))
    graph = check(capture_tf(target_of(model, image), "function"))
    assert "image" in graph.nodes and graph.node("image")["kind"] == "input"
    adds = [n for n in graph.order if graph.node(n)["scope"][-1:] == ("block0_add",)]
    assert adds, "layer names are scopes"
    assert "block0_bn/gamma" in params_of(graph)  # functional layers: Keras paths


def test_functional_model_with_two_inputs_and_two_outputs():
    keras.utils.set_random_seed(0)
    a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
    joined = keras.layers.Concatenate(name="join")([a, b])
    model = keras.Model(
        [a, b],
        [keras.layers.Dense(2, name="score")(joined), keras.layers.Dense(1, name="value")(joined)],
    )
    inputs = [tf.ones((2, 4)), tf.ones((2, 3))]
    result = capture_tf(target_of(model, inputs), "function")
    graph = check(result, n_params=4)
    assert result.native.inputs == ["a", "b"]
    outs = [n for n in graph.order if graph.node(n)["kind"] == "output"]
    assert [graph.node(o)["outputs"][0][0] for o in outs] == [(2, 2), (2, 1)]
    assert len(result.native.fetches) == 2


def test_tf_module_with_a_tf_function_call():
    class Affine(tf.Module):
        def __init__(self):
            super().__init__(name="affine")
            self.w = tf.Variable(tf.ones((3, 2)), name="w")
            self.b = tf.Variable(tf.zeros((2,)), name="b")

        @tf.function
        def __call__(self, x):
            with tf.name_scope("layer"):
                return tf.nn.relu(x @ self.w + self.b)

    result = capture_tf(target_of(Affine(), tf.ones((1, 3))), "function")
    graph = check(result, n_params=2)
    assert set(params_of(graph)) == {"w", "b"}
    assert {graph.node(n)["scope"] for n in graph.order if graph.node(n)["op"] == "Relu"} == {
        ("layer",)
    }
    relu = next(n for n in graph.order if graph.node(n)["op"] == "Relu")
    assert graph.node(relu)["source"].split(":")[0] == __file__


def test_plain_python_function_of_tf_ops():
    def gelu_ish(x):
        return 0.5 * x * (1.0 + tf.tanh(0.79788456 * (x + 0.044715 * x**3)))

    result = capture_tf(target_of(gelu_ish, tf.linspace(-2.0, 2.0, 5)), "auto")
    graph = check(result, n_params=0)
    assert {"Tanh", "Pow", "Mul"} <= {graph.node(n)["op"] for n in graph.order}
    assert result.native.inputs == ["x"]


def test_saved_keras_file_loads_and_captures(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(4, activation="tanh", name="hidden")], name="tiny"
    )
    path = tmp_path / "tiny.keras"
    model.save(path)
    result = capture(load_target(str(path)))
    graph = check(result, n_params=2)
    assert {p.rsplit("/", 1)[-1] for p in params_of(graph)} == {"kernel", "bias"}
    assert all("hidden/" in p for p in params_of(graph))


def test_savedmodel_folder_loads_and_captures(tmp_path):
    class Scale(tf.Module):
        def __init__(self):
            super().__init__(name="scale")
            self.v = tf.Variable([[2.0, 0.0], [0.0, 3.0]], name="v")

        @tf.function(input_signature=[tf.TensorSpec((None, 2), tf.float32, name="x")])
        def __call__(self, x):
            return {"y": tf.nn.relu(x @ self.v)}

    folder = tmp_path / "scale"
    tf.saved_model.save(Scale(), str(folder))
    target = load_target(str(folder))
    result = capture(target)
    graph = check(result)
    assert result.native.inputs == ["x"]
    # a loaded signature calls the restored function: its body is a subgraph
    (call,) = [n for n in graph.order if graph.node(n)["subgraph"]]
    body = graph.subgraphs[graph.node(call)["subgraph"]]
    assert body.validate() == []
    assert "MatMul" in {body.node(n)["op"] for n in body.order}
    assert any(body.node(n)["kind"] == "param" for n in body.nodes)
    (x,) = target.example_inputs
    got = result.native.concrete_function(x=x)["y"]
    np.testing.assert_allclose(got.numpy(), target.call()["y"].numpy())


def test_corrupt_keras_file_gives_a_clear_target_error(tmp_path):
    path = tmp_path / "broken.keras"
    path.write_bytes(b"this is not a zip archive")
    with pytest.raises(TargetError, match="broken.keras is not a Keras archive"):
        load_target(str(path))
