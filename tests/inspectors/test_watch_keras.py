"""`graphstep.watch` as a Keras `fit` callback: it stops at the first non-finite step
with the weights that step ran with, and its re-run under the stepper is checked
against TensorFlow itself (the plain `fit`, the layers' own maths, GradientTape)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import graphstep
from inspectors import events as ev
from inspectors.recording import read

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

pytestmark = pytest.mark.tf


def data(batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 4)).astype("float32")
    return x, (x**2).sum(1, keepdims=True)


def mlp(*middle, lr: float = 0.5):
    """A small MLP fitted with SGD at a learning rate that makes it diverge."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(16, activation="relu", name="fc1"), *middle]
        + [keras.layers.Dense(1, name="fc2")],
        name="mlp",
    )
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
    return model


class Snapshots(keras.callbacks.Callback):
    """The weights before each step, and each step's loss (one batch per epoch)."""

    def __init__(self) -> None:
        super().__init__()
        self.weights: list[list[np.ndarray]] = []
        self.losses: list[float] = []

    def on_train_batch_begin(self, batch, logs=None):
        self.weights.append([w.copy() for w in self.model.get_weights()])

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(logs["loss"]))


def stepped(recording) -> list[ev.NodeStepped]:
    return [e for e in recording.events if isinstance(e, ev.NodeStepped)]


def nonfinite(summaries) -> bool:
    return any(s.nan or s.pos_inf or s.neg_inf for s in summaries)


def test_fit_stops_at_the_first_non_finite_step_with_its_weights(tmp_path):
    x, y = data()
    reference = mlp()
    snapshots = Snapshots()
    reference.fit(x, y, epochs=30, batch_size=64, shuffle=False, verbose=0, callbacks=[snapshots])
    first_bad = next(i for i, v in enumerate(snapshots.losses) if not math.isfinite(v)) + 1

    model = mlp()
    watch = graphstep.watch(model, record=tmp_path / "caught.gsrec")
    assert isinstance(watch, keras.callbacks.Callback)
    with pytest.raises(graphstep.NonFinite) as stopped:
        model.fit(x, y, epochs=30, batch_size=64, shuffle=False, verbose=0, callbacks=[watch])
    caught = stopped.value.caught
    assert caught.iteration == first_bad and not math.isfinite(caught.loss)
    # the optimizer applied nothing: the weights are those the step ran with, bit for bit
    for now, then in zip(model.get_weights(), snapshots.weights[first_bad - 1], strict=True):
        np.testing.assert_array_equal(now, then)
    assert "train_step" not in model.__dict__  # fit's own step is back

    # the first non-finite node is fc2's MatMul; its recorded value is the layers' maths
    recording = read(caught.recording)
    assert caught.where == "forward" and caught.op == "MatMul"
    assert recording.loaded.graph.node(caught.node)["scope"][-1] == "fc2"
    order = [e.node_id for e in stepped(recording)]
    before = stepped(recording)[: order.index(caught.node)]
    assert before and not any(nonfinite(e.summaries) for e in before)
    w1, b1, w2, _b2 = model.get_weights()
    hidden = tf.nn.relu(x @ w1 + b1)
    expected = (hidden @ w2).numpy()
    assert not np.isfinite(expected).all()
    np.testing.assert_allclose(recording.values[caught.node][0], expected, rtol=1e-5)


def test_a_gradient_that_is_not_finite_is_found_in_the_backward(tmp_path):
    """sqrt is finite at 0, its gradient is not: the forward is finite, the backward not."""
    x, y = data()
    root = keras.layers.Lambda(lambda t: tf.sqrt(t), name="root")
    model = mlp(root, lr=0.01)
    watch = graphstep.watch(model, record=tmp_path / "root.gsrec")
    with pytest.raises(graphstep.NonFinite) as stopped:
        model.fit(x, y, epochs=3, batch_size=64, shuffle=False, verbose=0, callbacks=[watch])
    caught = stopped.value.caught
    assert caught.iteration == 1 and math.isfinite(caught.loss)
    assert caught.where == "backward" and caught.op == "Sqrt"

    # GradientTape agrees: the gradient of sqrt's output is finite, of its input is not
    w1, b1, w2, b2 = (tf.constant(w) for w in model.get_weights())
    with tf.GradientTape(persistent=True) as tape:
        hidden = tf.nn.relu(tf.constant(x) @ w1 + b1)
        tape.watch(hidden)
        rooted = tf.sqrt(hidden)
        tape.watch(rooted)
        loss = tf.reduce_mean(tf.square(rooted @ w2 + b2 - y))
    assert np.isfinite(tape.gradient(loss, rooted).numpy()).all()
    assert not np.isfinite(tape.gradient(loss, hidden).numpy()).all()
    recording = read(caught.recording)
    assert recording.gradients is not None
    assert recording.gradients.loss == pytest.approx(float(loss), rel=1e-5)
    assert not nonfinite(recording.gradients.nodes[caught.node])
    (source,) = recording.loaded.graph.inputs_of(caught.node)
    assert nonfinite(recording.gradients.nodes[source])


def test_a_condition_replays_the_step_exactly_dropout_included(tmp_path):
    """The re-run uses the step's batch, weights and seed states: its loss is the loss
    `fit` computed for that step, with the same dropout mask."""
    x, y = data(96)
    model = mlp(keras.layers.Dropout(0.5, name="drop"))
    watch = graphstep.watch(
        model, record=tmp_path / "big.gsrec", condition=lambda loss: loss > 1000.0
    )
    with pytest.raises(graphstep.NonFinite) as stopped:
        model.fit(x, y, epochs=30, batch_size=32, verbose=0, callbacks=[watch])
    caught = stopped.value.caught
    assert caught.iteration > 1 and 1000.0 < caught.loss < math.inf
    recording = read(caught.recording)
    assert recording.gradients.loss == pytest.approx(caught.loss, rel=1e-6)


def test_a_finite_fit_runs_to_its_end_untouched(tmp_path):
    x, y = data()
    plain, watched = mlp(lr=0.01), mlp(lr=0.01)
    plain.fit(x, y, epochs=5, batch_size=16, shuffle=False, verbose=0)
    watch = graphstep.watch(watched, record=tmp_path / "never.gsrec")
    watched.fit(x, y, epochs=5, batch_size=16, shuffle=False, verbose=0, callbacks=[watch])
    assert watch.caught is None and watch.iterations == 20
    assert not (tmp_path / "never.gsrec").exists()
    for a, b in zip(plain.get_weights(), watched.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert "train_step" not in watched.__dict__ and watched.train_function is None
