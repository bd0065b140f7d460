"""What `graphstep.watch` costs a training loop, beside each framework's own NaN hunt.

    .venv/bin/python bench/watch.py [--iterations 200] [--rounds 5]

Loops that stay finite (so nothing is caught and only the per-iteration check is
paid): a small MLP and a small CNN on MNIST-sized batches, SGD, written twice: a
PyTorch loop, and Keras `fit`. Each round times `--iterations` iterations of each
variant, in turn, so the machine's drift touches them alike: plain, watched, and the
framework's own check (`torch.autograd.detect_anomaly`; for Keras
`tf.debugging.enable_check_numerics`, which checks every op's output). A Keras step is
timed from one `on_train_batch_end` to the next (the same timing callback in every
variant), so tracing `fit`'s step is not counted. The figure is the median over rounds
of the time per iteration; the overhead is against plain. Target: watch at most 5%
over plain. The last line is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import graphstep  # noqa: E402

# TensorFlow is imported only once the PyTorch rows are done (`load_keras`): its
# threads would otherwise share the 2 cores with the PyTorch loops being timed.
keras: Any = None
tf: Any = None


def load_keras() -> bool:
    """Import Keras and TensorFlow for the Keras rows; False where they are missing."""
    global keras, tf
    try:
        import keras as keras_module
        import tensorflow as tf_module
    except ImportError:
        return False
    keras, tf = keras_module, tf_module
    return True


def mlp() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
    )
    return model, torch.randn(128, 64), torch.randint(0, 10, (128,))


def cnn() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 7 * 7, 10),
    )
    return model, torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))


def run(variant: str, build, iterations: int, record: Path) -> float:
    """Seconds per iteration of `iterations` iterations of the `variant` loop."""
    model, x, y = build()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    watch = graphstep.watch(model, loss=F.cross_entropy, record=record)
    start = time.perf_counter()
    for _ in range(iterations):
        optimizer.zero_grad()
        if variant == "plain":
            loss = F.cross_entropy(model(x), y)
            loss.backward()
        elif variant == "watch":
            with watch.iteration(x, targets=(y,)) as it:
                it.loss = F.cross_entropy(model(x), y)
                it.loss.backward()
        else:
            with torch.autograd.detect_anomaly():
                loss = F.cross_entropy(model(x), y)
                loss.backward()
        optimizer.step()
    seconds = (time.perf_counter() - start) / iterations
    if variant == "watch" and watch.caught is not None:
        raise SystemExit(f"the bench loop was caught: {watch.caught.message}")
    return seconds


def keras_mlp() -> tuple[Any, np.ndarray, np.ndarray]:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 64)).astype("float32")
    return model, x, rng.integers(0, 10, 128)


def keras_cnn() -> tuple[Any, np.ndarray, np.ndarray]:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ]
    )
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 28, 28, 1)).astype("float32")
    return model, x, rng.integers(0, 10, 64)


def step_times() -> Any:
    """A callback that notes the time of each step, from one batch's end to the next."""

    class StepTimes(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.ends: list[float] = []

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            self.ends.append(time.perf_counter())

    return StepTimes()


def run_keras(variant: str, built: Any, iterations: int, record: Path) -> float:
    """Seconds per step of a `fit` of `iterations` steps of the `variant`."""
    model, x, y = built
    batch = len(x)
    xs, ys = np.concatenate([x] * iterations), np.concatenate([y] * iterations)
    timer = step_times()
    callbacks: list[Any] = [timer]
    if variant == "watch":
        callbacks.append(graphstep.watch(model, record=record))
    model.train_function = None  # each variant traces its own step
    if variant == "anomaly":
        tf.debugging.enable_check_numerics()
    try:
        model.fit(xs, ys, batch_size=batch, epochs=1, shuffle=False, verbose=0, callbacks=callbacks)
    finally:
        if variant == "anomaly":
            tf.debugging.disable_check_numerics()
    steps = np.diff(timer.ends)
    return float(np.median(steps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--loops", choices=("all", "torch"), default="all")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="Anomaly Detection has been enabled")
    figures: dict[str, float] = {}
    variants = ("plain", "watch", "anomaly")
    print(f"{'loop':<11}{'variant':<10}{'ms / iteration':>16}{'overhead':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        record = Path(tmp) / "never.gsrec"
        loops: list[tuple[str, Any, Any]] = [("mlp", mlp, run), ("cnn", cnn, run)]
        if args.loops != "torch":
            loops += [("keras_mlp", keras_mlp, run_keras), ("keras_cnn", keras_cnn, run_keras)]
        for name, build, runner in loops:
            if runner is run_keras:
                if keras is None and not load_keras():
                    print(f"{name:<11}left out: keras and tensorflow are not installed")
                    continue
                built = build()
                built[0].compile(
                    optimizer=keras.optimizers.SGD(0.01),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                )
                build = built
            runner("plain", build, 20, record)  # warm up
            times: dict[str, list[float]] = {v: [] for v in variants}
            for _ in range(args.rounds):
                for variant in variants:
                    times[variant].append(runner(variant, build, args.iterations, record))
            plain = statistics.median(times["plain"])
            for variant in variants:
                median = statistics.median(times[variant])
                overhead = median / plain - 1
                print(f"{name:<11}{variant:<10}{median * 1e3:>16.3f}{overhead:>+10.1%}")
                figures[f"{name}_{variant}_ms"] = round(median * 1e3, 4)
                if variant != "plain":
                    figures[f"{name}_{variant}_overhead"] = round(overhead, 4)
    print("anomaly: torch.autograd.detect_anomaly; for keras, tf.debugging.enable_check_numerics")
    print("target: watch overhead <= 5% of the plain iteration")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
