"""An `if` on a tensor's value in TensorFlow: AutoGraph makes it one `If` op with both branches.

What to look at: `__call__` is a tf.function with the same `if tf.reduce_mean(x) > 0:`
as `branch_torch`. While tracing there is no value to decide on, so AutoGraph turns
the `if` into `tf.cond`: the graph holds `Mean`, `Greater` and one `If` node, drawn
before anything runs, whose `then_branch` and `else_branch` are graphs of their own.
Open them: `then_branch` has the positive head's MatMul, AddV2 and Relu, `else_branch`
the negative head's two MatMuls and Tanh; the variables of both heads are inputs of
the If. Both branches are in the graph whichever runs; the value of `Greater` picks
one when the If executes, and stepping into the If goes through that one only.

What to try: run `branch_tf` and `branch_tf@other_inputs`: one graph, two different
subgraphs stepped. Compare with `branch_torch`, whose two eager graphs differ after
`gt`. The weights are the same in both samples, so the outputs match too.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

FEATURES, HIDDEN, OUT = 4, 8, 3


def _weights() -> dict[str, np.ndarray]:
    """The weights of `branch_torch`, drawn the same way with numpy."""
    rng = np.random.default_rng(11)
    shapes = {
        "encoder": (HIDDEN, FEATURES),
        "positive": (OUT, HIDDEN),
        "negative_1": (HIDDEN, HIDDEN),
        "negative_2": (OUT, HIDDEN),
    }
    out = {}
    for name, shape in shapes.items():
        out[name] = (rng.normal(size=shape) * 0.5).astype(np.float32)
        out[name + "_bias"] = (rng.normal(size=shape[0]) * 0.1).astype(np.float32)
    return out


def _inputs(sign: float) -> np.ndarray:
    """The inputs of `branch_torch`: three rows whose mean has the sign of `sign`."""
    rng = np.random.default_rng(12)
    return (rng.normal(size=(3, FEATURES)) + sign).astype(np.float32)


class SignGate(tf.Module):
    """An encoder, then one of two heads chosen by the sign of the input's mean."""

    def __init__(self) -> None:
        super().__init__(name="sign_gate")
        w = _weights()
        with self.name_scope:
            # Kernels as (in, out), as Keras keeps them; torch stores (out, in).
            self.kernels = {
                name: tf.Variable(w[name].T, name=name)
                for name in ("encoder", "positive", "negative_1", "negative_2")
            }
            self.biases = {
                name: tf.Variable(w[name + "_bias"], name=name + "_bias") for name in self.kernels
            }

    def dense(self, name: str, x: tf.Tensor) -> tf.Tensor:
        with tf.name_scope(name):
            return x @ self.kernels[name] + self.biases[name]

    @tf.function
    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        hidden = tf.nn.relu(self.dense("encoder", x))
        # A tensor condition: AutoGraph turns this `if` into tf.cond, an If op.
        if tf.reduce_mean(x) > 0:
            out = tf.nn.relu(self.dense("positive", hidden))
        else:
            out = self.dense("negative_2", tf.tanh(self.dense("negative_1", hidden)))
        return out


def build():
    return SignGate()


def example_inputs():
    """A (3, 4) input with a positive mean: the `then_branch` runs."""
    return (tf.constant(_inputs(+1.0)),)


def other_inputs():
    """A (3, 4) input with a negative mean: the `else_branch` runs."""
    return (tf.constant(_inputs(-1.0)),)


def loss(output, *inputs):
    return tf.reduce_mean(tf.square(output))
