"""`graphstep.watch` for Keras `fit`: a callback that catches the first non-finite step.

    model.fit(x, y, epochs=100, callbacks=[graphstep.watch(model)])

Keras compiles its training step, so the check lives inside it. While `fit` runs, the
callback wraps three things of the model's own (put back when `fit` ends):

- `train_step`: notes the step's batch and the model's random seed states as it starts;
- `compute_loss`: notes the step's loss;
- the optimizer's `apply`: checks that the loss and every gradient are finite (and that
  `condition(loss)`, given the loss tensor, is false) and applies the gradients only
  then. The first step that fails the check applies nothing, keeps its batch, seed
  states and loss in variables on their device, and marks itself caught: the weights
  stay those it ran with. A healthy step copies nothing.

The callback reads one boolean from the device every `READ_EVERY_S` seconds (and at
each epoch's end); steps after a caught one apply nothing and keep nothing, so the
state stays that of the caught step until the read. It then re-runs that step's
forward (in training mode, with its seed states) and backward under the stepper, as
`inspectors.watch` does for PyTorch, writes a recording, and raises `NonFinite`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from inspectors.watch import Caught, NonFinite, replay

#: How often, at most, the callback reads the caught flag from the device (seconds): a
#: read waits for the step to finish, so reading after every step would cost that wait.
#: A caught step freezes the training state, so the steps run before the next read
#: change nothing; they only spend time.
READ_EVERY_S = 0.05


class KerasWatch(keras.callbacks.Callback):
    """Catches the first non-finite training step of `fit`; see the module's docstring."""

    def __init__(
        self,
        model: Any = None,
        loss: Callable[..., Any] | None = None,
        *,
        record: str | Path | None = "graphstep-watch.gsrec",
        condition: Callable[[Any], Any] | None = None,
        capture: str = "auto",
    ) -> None:
        super().__init__()
        self.watched = model
        self.loss = loss  # loss(output, y): by default the model's compiled loss
        self.record = Path(record) if record is not None else None
        self.condition = condition
        self.capture = capture
        self.caught: Caught | None = None
        self._caught = tf.Variable(False, trainable=False, name="graphstep_caught")
        self._steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="graphstep_steps")
        self._loss = tf.Variable(0.0, trainable=False, name="graphstep_loss")
        self._batch: list[tf.Variable | None] = []  # the batch's leaves, made on first trace
        self._batch_structure: Any = None
        self._seeds: list[tuple[Any, tf.Variable]] = []
        self._wrapped: tuple[Any, Any] | None = None  # (model, optimizer) while wrapped
        self._read_at = 0.0

    @property
    def iterations(self) -> int:
        """The training steps run under this callback, the caught one included."""
        return int(self._steps.numpy())

    # ------------------------------------------------------------ fit's hooks

    def set_model(self, model: Any) -> None:
        super().set_model(model)
        if self.watched is not None and model is not self.watched:
            raise ValueError("this graphstep.watch callback watches another model")
        self._unwrap()
        self._caught.assign(False)
        self._steps.assign(0)
        self.caught = None
        self._read_at = time.monotonic()
        self._wrap(model)

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        now = time.monotonic()
        if now - self._read_at >= READ_EVERY_S:
            self._read_at = now
            self._look()

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self._look()

    def on_train_end(self, logs: Any = None) -> None:
        try:
            self._look()
        finally:
            self._unwrap()

    def _look(self) -> None:
        """Read the caught flag from the device; at the first caught step, re-run it."""
        if self.caught is not None or not bool(self._caught.numpy()):
            return
        if self.model is not None:
            self.model.stop_training = True
        self._unwrap()
        self.caught = self._replay()
        raise NonFinite(self.caught)

    # ------------------------------------------------------------ the wrapping

    def _wrap(self, model: Any) -> None:
        optimizer = model.optimizer
        if optimizer is None:
            raise ValueError("graphstep.watch needs a compiled model (model.compile first)")
        self._seeds = [
            (v, tf.Variable(v.value, trainable=False, name="graphstep_seed"))
            for v in model.non_trainable_variables
            if "seed_generator_state" in str(getattr(v, "path", v.name))
        ]
        step, compute_loss, apply = model.train_step, model.compute_loss, optimizer.apply
        caught = self._caught
        # what the step being traced saw, handed from one wrapper to the next as it traces
        traced: dict[str, Any] = {}

        def train_step(data: Any) -> Any:
            traced.clear()
            traced["data"] = data
            traced["seeds"] = [tf.identity(source.value) for source, _kept in self._seeds]
            return step(data)

        def watched_compute_loss(*args: Any, **kwargs: Any) -> Any:
            loss = compute_loss(*args, **kwargs)
            traced["loss"] = loss
            return loss

        def watched_apply(grads: Any, trainable_variables: Any = None) -> Any:
            grads = list(grads)
            loss = traced.get("loss")
            loss = tf.zeros([]) if loss is None else tf.cast(tf.reduce_sum(loss), tf.float32)
            healthy = [tf.reduce_all(tf.math.is_finite(loss))]
            for grad in grads:
                if grad is not None:
                    values = grad.values if isinstance(grad, tf.IndexedSlices) else grad
                    healthy.append(tf.reduce_all(tf.math.is_finite(values)))
            bad = tf.logical_not(tf.reduce_all(tf.stack(healthy)))
            if self.condition is not None:
                bad = tf.logical_or(bad, tf.cast(self.condition(loss), tf.bool))

            def go() -> Any:
                apply(grads, trainable_variables)
                self._steps.assign_add(1)
                return tf.constant(True)

            def stop() -> Any:  # the first bad step keeps what it ran with
                return tf.cond(caught, lambda: tf.constant(False), lambda: self._keep(traced, loss))

            tf.cond(tf.logical_or(caught, bad), stop, go)

        model.train_step = train_step
        model.compute_loss = watched_compute_loss
        optimizer.apply = watched_apply
        model.train_function = None  # traced again, through the wrappers
        self._wrapped = (model, optimizer)

    def _unwrap(self) -> None:
        if self._wrapped is None:
            return
        model, optimizer = self._wrapped
        for obj, name in ((model, "train_step"), (model, "compute_loss"), (optimizer, "apply")):
            obj.__dict__.pop(name, None)
        model.train_function = None
        self._wrapped = None

    def _keep(self, traced: dict[str, Any], loss: Any) -> Any:
        """Keep the caught step's batch, seed states and loss (inside the compiled step)."""
        data = traced.get("data")
        leaves = tf.nest.flatten(data)
        if not self._batch:
            with tf.init_scope():  # variables live outside the traced step
                self._batch = [
                    None
                    if leaf is None
                    else tf.Variable(
                        tf.zeros([0], leaf.dtype),
                        shape=tf.TensorShape(None),
                        trainable=False,
                        name="graphstep_batch",
                    )
                    for leaf in leaves
                ]
            self._batch_structure = data
        for variable, leaf in zip(self._batch, leaves, strict=True):
            if variable is not None:
                variable.assign(leaf)
        for (_source, kept), value in zip(self._seeds, traced.get("seeds", ()), strict=True):
            kept.assign(value)
        self._loss.assign(loss)
        self._caught.assign(True)
        self._steps.assign_add(1)
        return tf.constant(True)

    # ------------------------------------------------------------ the re-run

    def _replay(self) -> Caught:
        from keras.src.trainers.data_adapters import data_adapter_utils

        from inspectors.target import ModelTarget

        model = self.model
        leaves = [None if v is None else tf.convert_to_tensor(v.value()) for v in self._batch]
        data = tf.nest.pack_sequence_as(self._batch_structure, leaves)
        x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(data)
        inputs = tuple(x) if isinstance(x, tuple | list) else (x,)
        loss_fn = self.loss

        def loss(output: Any, *_inputs: Any) -> Any:
            if loss_fn is not None:
                return loss_fn(output, y)
            return model._compute_loss(
                x=x, y=y, y_pred=output, sample_weight=sample_weight, training=True
            )

        def seeds() -> None:  # the step's own random state
            for source, kept in self._seeds:
                source.assign(kept.value())

        name = model.name
        number = self.iterations
        target = ModelTarget(
            spec=f"<{name}>",
            name=name,
            framework="tensorflow",
            model=model,
            example_inputs=inputs,
            loss=loss,
            description=f"step {number} of a watched Keras fit",
            extra={"training": True},
        )
        value = float(self._loss.numpy())
        return replay(target, number, value, self.record, self.capture, seeds)


def is_keras_model(model: Any) -> bool:
    return isinstance(model, keras.Model)


__all__ = ["KerasWatch", "is_keras_model"]
