"""Sequences of varying length in TensorFlow: padded to one length, a mask, one While loop.

What to look at: the batch holds four sequences of lengths 3, 3, 6 and 6, padded with
zeros to 6 time steps, plus a `lengths` input. AutoGraph turns the Python
`for t in tf.range(steps)` into a single `While` op whose `cond` and `body` are graphs
of their own: the graph is drawn whole before anything runs, and it is the same
graph whatever the lengths are (the Range, FloorDiv and Maximum before it are AutoGraph
counting the iterations). Open the While to step into its body: a StridedSlice for
`x[:, t]`, two MatMuls, Tanh, then `Less` and a `SelectV2` that keep the old state of
every sequence that has already ended, so the padding never changes a result.

What to try: `rnn_varlen_tf@other_inputs` has other lengths (1, 2, 4, 6) but the same
shapes: the same concrete function, no retrace, the same graph. Compare with
`rnn_varlen_torch`, where a length-3 and a length-6 batch give two different eager
graphs (3 and 6 cells). Both samples share their weights and their sequences: rows 0-1
of this output equal `rnn_varlen_torch`'s output, rows 2-3 that of its `other_inputs`.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

FEATURES, HIDDEN, PADDED = 2, 8, 6


def _weights() -> dict[str, np.ndarray]:
    """The weights of `rnn_varlen_torch`, drawn the same way with numpy."""
    rng = np.random.default_rng(6)
    shapes = {
        "input": (HIDDEN, FEATURES),
        "hidden": (HIDDEN, HIDDEN),
        "bias": (HIDDEN,),
        "head": (1, HIDDEN),
        "head_bias": (1,),
    }
    return {name: (rng.normal(size=s) * 0.5).astype(np.float32) for name, s in shapes.items()}


def _sequences() -> tuple[np.ndarray, np.ndarray]:
    """The sequences of `rnn_varlen_torch`: two of length 3 and two of length 6."""
    rng = np.random.default_rng(7)
    short = rng.normal(size=(2, 3, FEATURES)).astype(np.float32)
    long = rng.normal(size=(2, 6, FEATURES)).astype(np.float32)
    return short, long


class SequenceSum(tf.Module):
    """An RNN cell run over the padded time steps under a length mask, then a linear head."""

    def __init__(self) -> None:
        super().__init__(name="sequence_sum")
        w = _weights()
        with self.name_scope:
            self.w_input = tf.Variable(w["input"].T, name="w_input")
            self.w_hidden = tf.Variable(w["hidden"].T, name="w_hidden")
            self.bias = tf.Variable(w["bias"], name="bias")
            self.w_head = tf.Variable(w["head"].T, name="w_head")
            self.head_bias = tf.Variable(w["head_bias"], name="head_bias")

    @tf.function
    def __call__(self, x: tf.Tensor, lengths: tf.Tensor) -> tf.Tensor:
        state = tf.zeros((tf.shape(x)[0], HIDDEN))
        # AutoGraph turns this loop over a tensor range into one While op.
        for t in tf.range(tf.shape(x)[1]):
            with tf.name_scope("cell"):
                new = tf.tanh(x[:, t] @ self.w_input + state @ self.w_hidden + self.bias)
            running = (t < lengths)[:, None]  # sequences that have not ended yet
            state = tf.where(running, new, state)
        with tf.name_scope("head"):
            return state @ self.w_head + self.head_bias


def build():
    return SequenceSum()


def _padded(lengths: list[int]) -> tuple[tf.Tensor, tf.Tensor]:
    """The four sequences cut to `lengths`, zero-padded to 6 steps, and the lengths."""
    short, long = _sequences()
    x = np.zeros((4, PADDED, FEATURES), np.float32)
    x[:2, :3] = short
    x[2:] = long
    steps = np.arange(PADDED)[None, :, None]
    x = np.where(steps < np.asarray(lengths)[:, None, None], x, 0.0).astype(np.float32)
    return tf.constant(x), tf.constant(lengths, dtype=tf.int32)


def example_inputs():
    """Four sequences of lengths 3, 3, 6, 6 padded to (4, 6, 2), and the lengths."""
    return _padded([3, 3, 6, 6])


def other_inputs():
    """The same shapes with lengths 1, 2, 4, 6: same graph, other masks."""
    return _padded([1, 2, 4, 6])


def loss(output, x, lengths):
    """Squared error against the sum of each sequence's first feature (padding adds 0)."""
    target = tf.reduce_sum(x[..., 0], axis=1, keepdims=True)
    return tf.reduce_mean(tf.square(output - target))
