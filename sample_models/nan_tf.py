"""Stop at the first NaN (TensorFlow): `Log` of an activation that goes negative.

What to try: add a breakpoint "stop at the first NaN" and continue. The run stops on
the `Log` op, the first op whose output holds NaN; the `MatMul` after it only spreads
the NaN. The variables appear as `param` nodes read through `ReadVariableOp`.
"""

import tensorflow as tf


class LogOfNegative(tf.Module):
    """Dense 8->16, tanh, shift by +0.5, log (NaN where negative), Dense 16->4."""

    def __init__(self) -> None:
        super().__init__(name="log_of_negative")
        with self.name_scope:
            self.w1 = tf.Variable(tf.random.stateless_normal((8, 16), seed=(1, 1)) * 0.5, name="w1")
            self.b1 = tf.Variable(tf.zeros((16,)), name="b1")
            self.w2 = tf.Variable(tf.random.stateless_normal((16, 4), seed=(1, 2)) * 0.5, name="w2")

    @tf.function
    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        with tf.name_scope("fc1"):
            hidden = tf.tanh(tf.matmul(x, self.w1) + self.b1)
        shifted = hidden + 0.5  # tanh is in (-1, 1): some entries stay negative
        logged = tf.math.log(shifted)
        with tf.name_scope("fc2"):
            return tf.matmul(logged, self.w2)


def build():
    return LogOfNegative()


def example_inputs():
    return (tf.random.stateless_normal((3, 8), seed=(2, 2)) * 3,)


def loss(output, *inputs):
    return tf.reduce_sum(output)
