"""Turn a loaded TensorFlow target into one ConcreteFunction for its example inputs.

Whatever the model is (Keras model, tf.Module, tf.function, plain function of TF ops,
SavedModel signature), capture works on the same thing: the concrete graph TensorFlow
traces for input specs shaped like the example inputs.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from inspectors.target import ModelTarget, TargetError

ConcreteFunction = tf.types.experimental.ConcreteFunction
PolymorphicFunction = tf.types.experimental.PolymorphicFunction


def input_specs(inputs: tuple[Any, ...]) -> tuple[Any, ...]:
    """TensorSpecs shaped like the example inputs; non-tensor values pass through as is."""

    def spec(value: Any) -> Any:
        if isinstance(value, tf.Tensor | tf.Variable):
            return tf.TensorSpec(value.shape, value.dtype)
        if hasattr(value, "shape") and hasattr(value, "dtype"):  # numpy arrays
            return tf.TensorSpec(value.shape, tf.as_dtype(value.dtype))
        return value

    return tuple(tf.nest.map_structure(spec, x) for x in inputs)


def traceable(model: Any, training: bool = False) -> Any:
    """The tf.function (or ConcreteFunction) that runs `model` in inference mode (a Keras
    model in training mode when `training`: a watched training step's re-run)."""
    keras = _keras()
    if isinstance(model, ConcreteFunction | PolymorphicFunction):
        return model
    if keras is not None and isinstance(model, keras.layers.Layer):
        # Keras 3 models trace through their own call; training=False fixes dropout/BN.
        def keras_call(*args: Any) -> Any:
            return model(*args, training=training)

        return tf.function(keras_call)
    if isinstance(model, tf.Module):
        if not callable(model):
            raise TargetError(f"The tf.Module {model.name!r} has no __call__ to trace.")
        call = model.__call__
        if isinstance(call, PolymorphicFunction | ConcreteFunction):
            return call
        return tf.function(call)
    if callable(model):
        return tf.function(model)
    raise TargetError(f"A {type(model).__name__} is not something TensorFlow can trace.")


def concrete_function(target: ModelTarget) -> Any:
    """The ConcreteFunction of `target` for its example inputs, or a TargetError in words."""
    if isinstance(target.native, ConcreteFunction):
        return target.native  # a SavedModel signature is already concrete
    fn = traceable(target.model, training=bool(target.extra.get("training")))
    if isinstance(fn, ConcreteFunction):
        return fn
    specs = input_specs(target.example_inputs)
    keras = _keras()
    if keras is not None and isinstance(target.model, keras.layers.Layer):
        specs = _named_after_inputs(target.model, specs)
    try:
        return fn.get_concrete_function(*specs)
    except Exception as exc:
        raise TargetError(
            f"TensorFlow could not trace {target.name} into a graph for inputs "
            f"{_describe_specs(specs)}. {type(exc).__name__}: {_first_lines(exc)}"
        ) from exc


def _named_after_inputs(model: Any, specs: tuple[Any, ...]) -> tuple[Any, ...]:
    """Specs named after a Keras model's inputs, so input nodes read `image`, not `args_0`."""
    names = [getattr(t, "name", "") for t in getattr(model, "inputs", None) or ()]
    flat = tf.nest.flatten(specs)
    if not names or len(names) != len(flat) or not all(isinstance(s, tf.TensorSpec) for s in flat):
        return specs
    if any(not n or n.startswith("keras_tensor") for n in names):
        names = ["input"] if len(flat) == 1 else [f"input_{i}" for i in range(len(flat))]
    named = [tf.TensorSpec(s.shape, s.dtype, name=n) for s, n in zip(flat, names, strict=True)]
    return tuple(tf.nest.pack_sequence_as(specs, named))


def _keras() -> Any:
    try:
        import keras
    except ImportError:
        return None
    return keras


def _describe_specs(specs: tuple[Any, ...]) -> str:
    def one(spec: Any) -> str:
        if isinstance(spec, tf.TensorSpec):
            dims = ", ".join("?" if d is None else str(d) for d in spec.shape)
            return f"[{dims}] {spec.dtype.name}"
        return repr(spec)

    return "(" + ", ".join(str(tf.nest.map_structure(one, s)) for s in specs) + ")"


def _first_lines(exc: BaseException, limit: int = 6) -> str:
    """The framework's message, without the long traceback TF sometimes embeds in it."""
    lines = [line.rstrip() for line in str(exc).strip().splitlines() if line.strip()]
    text = "\n".join(lines[:limit])
    return text + ("\n..." if len(lines) > limit else "")
