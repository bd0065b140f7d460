"""A digit classifier (Keras CNN) on drawn 28x28 handwritten-style digits, trainable.

What to look at: the input is 8 digits drawn by `_digits.py` (`labels()` says which).
The `conv1` scope holds a Conv2D op, a BiasAdd (the bias is read and reshaped first)
and a Relu. Open the Relu's output in the Tensor panel: its shape is (8, 28, 28, 8),
8 images of 28x28 pixels with 8 channels each (NHWC: Keras keeps the channels last,
PyTorch puts them second), and the channel grid shows one small image per channel,
the same digit through each 5x5 filter with every negative value already cut to
zero. MaxPool halves each image to 14x14; after `conv2` the 16 channels are features
of features and no longer look like digits. The kernels are variables read through
ReadVariableOp, so training changes them without retracing the graph.

What to try: untrained, the logits are near zero and the loss is about ln 10 = 2.3.
Train it in the training-loop panel (`train_step` runs one SGD step on a new batch
from `data()`, under a GradientTape): within a hundred steps the loss falls below 1.
Put it side by side with `digits_cnn_torch`: the same layers and the same digits,
but NHWC here and NCHW there, and TensorFlow ops where PyTorch has modules.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Iterator
from pathlib import Path

import keras
import tensorflow as tf

try:
    from sample_models import _digits
except ImportError:  # opened as a file outside the project: the generator sits beside it
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _digits

BATCH = 8
LEARNING_RATE = 0.05

#: Each model's optimizer (its momentum), made on the first `train_step`.
_optimizers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def build():
    keras.utils.set_random_seed(0)
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(8, 5, padding="same", activation="relu", name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2"),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dense(32, activation="relu", name="fc1"),
            layers.Dense(10, name="fc2"),
        ],
        name="digits_cnn",
    )


def _tensors(images, labels) -> tuple[tf.Tensor, tf.Tensor]:
    """numpy (N, 28, 28) and (N,) -> NHWC float32 images and int64 labels."""
    return tf.constant(images[..., None]), tf.constant(labels)


_EXAMPLE_IMAGES, _EXAMPLE_LABELS = _digits.batch(BATCH, seed=0)


def example_inputs():
    """A batch of 8 drawn digits, NHWC: (8, 28, 28, 1)."""
    return (tf.constant(_EXAMPLE_IMAGES[..., None]),)


def labels():
    """The digits drawn in `example_inputs()`."""
    return tf.constant(_EXAMPLE_LABELS)


def loss(output, *inputs):
    """Cross-entropy of the logits against the labels of the digits drawn in `images`."""
    return tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=_labels_for(inputs[0]), logits=output)
    )


def _labels_for(images) -> tf.Tensor:
    """The labels of a batch from `example_inputs()` or `data()`; edited example images
    keep the example labels."""
    known = _digits.labels_of(images.numpy())
    if known is not None:
        return tf.constant(known)
    if images.shape[0] == BATCH:
        return tf.constant(_EXAMPLE_LABELS)
    raise ValueError(
        f"these {images.shape[0]} images were not drawn by example_inputs() or data(), "
        f"so their labels are unknown"
    )


def data(steps: int = 500, batch_size: int = 32, seed: int = 1) -> Iterator[tuple]:
    """`steps` training batches of freshly drawn digits: (images NHWC, labels)."""
    for images, digit_labels in _digits.batches(steps, batch_size, seed=seed):
        yield _tensors(images, digit_labels)


def train_step(model, batch) -> dict[str, float]:
    """One SGD step (momentum 0.9) on `batch`; the loss and accuracy before the update."""
    images, targets = batch
    if model not in _optimizers:
        _optimizers[model] = keras.optimizers.SGD(LEARNING_RATE, momentum=0.9)
    optimizer = _optimizers[model]
    with tf.GradientTape() as tape:
        logits = model(images, training=True)
        batch_loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)
        )
    grads = tape.gradient(batch_loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
    hits = tf.equal(tf.argmax(logits, axis=1), tf.cast(targets, tf.int64))
    accuracy = tf.reduce_mean(tf.cast(hits, tf.float32))
    return {"loss": float(batch_loss), "accuracy": float(accuracy)}
