"""A recurrent update in a tf.while_loop: x = tanh(W x + b), repeated `steps` times.

The number of steps is an input tensor, so TensorFlow cannot unroll the loop while
tracing: AutoGraph turns the Python `for` over `tf.range` into one `While` op whose
`cond` and `body` are functions of their own. Open the While node to step into the
body: the same MatMul, add and Tanh run once per iteration.
"""

import tensorflow as tf


class Recurrence(tf.Module):
    """A tiny recurrent cell whose weights live in tf.Variables."""

    def __init__(self, size: int = 4) -> None:
        super().__init__(name="recurrence")
        with self.name_scope:
            init = tf.random.stateless_normal((size, size), seed=(0, 3)) * 0.5
            self.w = tf.Variable(init, name="w")
            self.b = tf.Variable(tf.fill((size,), 0.1), name="b")

    @tf.function
    def __call__(self, x: tf.Tensor, steps: tf.Tensor) -> tf.Tensor:
        for _ in tf.range(steps):
            with tf.name_scope("cell"):
                x = tf.tanh(tf.linalg.matvec(self.w, x) + self.b)
        return x


def build():
    return Recurrence()


def example_inputs():
    return (tf.constant([1.0, -1.0, 0.5, 0.0]), tf.constant(3))


def loss(output, *inputs):
    return tf.reduce_sum(output)
