"""A small Keras CNN for 28x28 grayscale images: two conv blocks and a classifier.

Convolutions, pooling and a dense head, traced to TensorFlow ops: Conv2D with a
BiasAdd, Relu, MaxPool, then Reshape and MatMul. Watch the shapes shrink
28 -> 14 -> 7 while the channels grow 1 -> 8 -> 16, and the batch dimension stay put.
"""

import keras
import tensorflow as tf


def build():
    keras.utils.set_random_seed(0)
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2"),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dense(10, name="classifier"),
        ],
        name="cnn",
    )


def example_inputs():
    return (tf.random.stateless_uniform((2, 28, 28, 1), seed=(0, 2)),)


def loss(output, *inputs):
    labels = tf.constant([3, 7])
    return tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=output)
    )
