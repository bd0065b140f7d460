"""Fit an unknown exponent in TensorFlow: recover phi in f(x) = x ** phi by gradient descent.

The TensorFlow twin of `fit_exponent_torch`: the same 64 points x in [0.5, 2], the
same targets f(x) = x ** 2.5 (`HIDDEN_PHI`), the same start phi = 1.0, the same
learning rate 0.05 and the same two update rules. `ExponentModel` is a `tf.Module`
holding one `tf.Variable` named `phi`; its `__call__` is a `tf.function`.

What to look at:

- In the graph: TensorFlow traced `__call__` into a graph before running it. `phi`
  is a `param` node read by a `ReadVariableOp` (a variable is state, not a
  constant, so training can change it without retracing), then one `Pow`.
- In the Training panel: `train_step` records the forward on a `tf.GradientTape`,
  asks the tape for d loss / d phi and applies the update with
  `phi.assign_sub(lr * grad)`: a variable changes in place through `assign`, never
  by rebinding it. Each iteration reports the loss and `grad_phi` at the phi it
  started from, and `phi` after its update.
- Switch the update rule to "SGD with momentum": `keras.optimizers.SGD(momentum=0.9)`
  keeps a velocity and applies it with `apply_gradients`.

What really happens, with the learning rate 0.05 used here:

- gradient descent: phi = 1.93 after 10 iterations, 2.42 after 20, 2.50 after 40.
- SGD with momentum: phi = 2.73 after 10 iterations, 2.71 after 20, 2.38 after 40:
  it overshoots 2.5 and rings around it.

Compare with `fit_exponent_torch` (Teaching > Training side by side): with the same
learning rate both frameworks need the same number of iterations, and their phi
curves lie on top of each other. Keras writes momentum as v = 0.9 v - lr g,
phi += v, and PyTorch as v = 0.9 v + g, phi -= lr v: for a fixed learning rate the
two are the same update. What differs is the way the step is written (a tape and
`assign_sub` here, `backward()` and `no_grad` there), not the arithmetic.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator

import keras
import tensorflow as tf

HIDDEN_PHI = 2.5  # the exponent training must recover
START_PHI = 1.0
LEARNING_RATE = 0.05
MOMENTUM = 0.9
N_POINTS = 64
BATCH_SIZE = 64  # one batch per pass over the data: plain (full-batch) gradient descent


class ExponentModel(tf.Module):
    """f(x) = x ** phi with one trainable number, phi."""

    def __init__(self, phi: float = START_PHI) -> None:
        super().__init__(name="exponent")
        self.phi = tf.Variable(phi, dtype=tf.float32, name="phi")

    @tf.function
    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.pow(x, self.phi)


def build() -> tf.Module:
    return ExponentModel()


def example_inputs() -> tuple[tf.Tensor]:
    return (tf.linspace(0.5, 2.0, N_POINTS),)


def loss(output: tf.Tensor, x: tf.Tensor) -> tf.Tensor:
    """Mean squared error to the hidden function x ** HIDDEN_PHI."""
    return tf.reduce_mean(tf.square(output - x**HIDDEN_PHI))


def data() -> Iterator[tuple[tf.Tensor, tf.Tensor]]:
    """One pass over the data: batches of (x, y) with y = x ** HIDDEN_PHI."""
    (x,) = example_inputs()
    for start in range(0, N_POINTS, BATCH_SIZE):
        xb = x[start : start + BATCH_SIZE]
        yield xb, xb**HIDDEN_PHI


def _loss_and_grad(model: ExponentModel, x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    with tf.GradientTape() as tape:
        error = tf.reduce_mean(tf.square(model(x) - y))
    return error, tape.gradient(error, model.phi)


def train_step(model: ExponentModel, batch: tuple[tf.Tensor, tf.Tensor]) -> dict:
    """One iteration of gradient descent, written out by hand."""
    x, y = batch
    error, grad = _loss_and_grad(model, x, y)
    model.phi.assign_sub(LEARNING_RATE * grad)
    return {"loss": float(error), "phi": float(model.phi), "grad_phi": float(grad)}


# One optimizer per model, created on its first step (its velocity must persist).
_optimizers: weakref.WeakKeyDictionary[tf.Module, keras.optimizers.Optimizer] = (
    weakref.WeakKeyDictionary()
)


def train_step_momentum(model: ExponentModel, batch: tuple[tf.Tensor, tf.Tensor]) -> dict:
    """One iteration of SGD with momentum 0.9 through a Keras optimizer."""
    optimizer = _optimizers.get(model)
    if optimizer is None:
        optimizer = keras.optimizers.SGD(learning_rate=LEARNING_RATE, momentum=MOMENTUM)
        _optimizers[model] = optimizer
    x, y = batch
    error, grad = _loss_and_grad(model, x, y)
    optimizer.apply_gradients([(grad, model.phi)])
    return {"loss": float(error), "phi": float(model.phi), "grad_phi": float(grad)}


TRAIN_STEPS = {"gradient descent": train_step, "SGD with momentum": train_step_momentum}
