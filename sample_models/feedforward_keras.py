"""A two-layer Keras MLP: 10 inputs, 20 hidden ReLU units, 5 outputs.

Keras traces the model into a TensorFlow graph. Each Dense layer becomes a name scope
(`fc1`, `fc2`) holding a MatMul, a BiasAdd and, for fc1, a Relu. The weights are not
constants in the graph: each is a variable (`fc1/kernel`, `fc1/bias`) read by a
ReadVariableOp, so training can change them without retracing.
"""

import keras
import tensorflow as tf


def build():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((10,)),
            keras.layers.Dense(20, activation="relu", name="fc1"),
            keras.layers.Dense(5, name="fc2"),
        ],
        name="feedforward",
    )


def example_inputs():
    return (tf.random.stateless_normal((4, 10), seed=(0, 1)),)


def loss(output, *inputs):
    return tf.reduce_mean(tf.square(output))
