"""Stepping overhead: continue-to-end with summaries for every node vs a plain forward.

    .venv/bin/python bench/stepping.py [--repeat N] [--only torch|tensorflow]

For a ResNet-style conv net (batch 8), a transformer encoder (attention and MLP from
plain ops, so every matmul is a node) and a chain of 200 tiny layers (the per-node
cost on top of the op itself), per framework:
plain forward time, the stepper alone (every node run one at a time, as the debugger
runs them, but with a hook that does nothing), continue-to-end time through the
Session (summaries of every node, full values kept), the ratio to the forward, the
per-node overhead in microseconds over the forward and over the stepper alone (what
the Session's bookkeeping costs: summaries, values, events), the bytes of values kept
and the peak RSS. For TensorFlow the forward is the compiled graph function, so the
stepper alone already pays for running ops one by one eagerly. Both sides are timed in the same run,
alternating, median of `--repeat`. The last line is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from inspectors.capture import capture  # noqa: E402
from inspectors.session import Session  # noqa: E402
from inspectors.stepping import zero_hook  # noqa: E402
from inspectors.target import ModelTarget  # noqa: E402


def torch_models() -> list[tuple[str, ModelTarget]]:
    import torch
    from torch import nn

    torch.manual_seed(0)

    class Block(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(c)
            self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(c)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = torch.relu(self.bn1(self.conv1(x)))
            return torch.relu(x + self.bn2(self.conv2(y)))

    class ResNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(3, 32, 3, padding=1)
            self.layer1 = nn.Sequential(Block(32), Block(32))
            self.down = nn.Conv2d(32, 64, 3, stride=2, padding=1)
            self.layer2 = nn.Sequential(Block(64), Block(64))
            self.head = nn.Linear(64, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.layer2(torch.relu(self.down(self.layer1(torch.relu(self.stem(x))))))
            return self.head(x.mean(dim=(2, 3)))

    from capture import PlainEncoder  # bench/capture.py: attention and MLP from plain ops

    class Chain(nn.Module):
        """Many tiny layers: what each node costs on top of the op itself."""

        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.Sequential(*(nn.Linear(16, 16) for _ in range(200)))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for layer in self.layers:
                x = torch.tanh(layer(x))
            return x

    resnet = ResNet().eval()
    encoder = PlainEncoder().eval()
    return [
        (
            "resnet",
            ModelTarget("bench:resnet", "resnet", "torch", resnet, (torch.randn(8, 3, 32, 32),)),
        ),
        (
            "transformer",
            ModelTarget(
                "bench:transformer", "transformer", "torch", encoder, (torch.randn(8, 16, 64),)
            ),
        ),
        (
            "chain",
            ModelTarget("bench:chain", "chain", "torch", Chain().eval(), (torch.randn(4, 16),)),
        ),
    ]


def tf_models() -> list[tuple[str, ModelTarget]]:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)

    def block(x, c):
        y = keras.layers.Conv2D(c, 3, padding="same", use_bias=False)(x)
        y = keras.layers.ReLU()(keras.layers.BatchNormalization()(y))
        y = keras.layers.Conv2D(c, 3, padding="same", use_bias=False)(y)
        y = keras.layers.BatchNormalization()(y)
        return keras.layers.ReLU()(keras.layers.Add()([x, y]))

    inp = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(inp)
    x = block(block(x, 32), 32)
    x = keras.layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(x)
    x = block(block(x, 64), 64)
    out = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(x))
    resnet = keras.Model(inp, out)

    seq = keras.Input((32, 128))
    h = seq
    for _ in range(4):
        a = keras.layers.MultiHeadAttention(4, 32)(h, h)
        h = keras.layers.LayerNormalization()(h + a)
        f = keras.layers.Dense(128)(keras.layers.Dense(256, activation="relu")(h))
        h = keras.layers.LayerNormalization()(h + f)
    encoder = keras.Model(seq, h)
    small = keras.Input((16,))
    c = small
    for _ in range(200):
        c = keras.layers.Dense(16, activation="tanh")(c)
    chain = keras.Model(small, c)
    return [
        (
            "resnet",
            ModelTarget(
                "bench:resnet", "resnet", "tensorflow", resnet, (tf.random.normal((8, 32, 32, 3)),)
            ),
        ),
        (
            "transformer",
            ModelTarget(
                "bench:transformer",
                "transformer",
                "tensorflow",
                encoder,
                (tf.random.normal((8, 32, 128)),),
            ),
        ),
        (
            "chain",
            ModelTarget("bench:chain", "chain", "tensorflow", chain, (tf.random.normal((4, 16)),)),
        ),
    ]


def plain_forward(framework: str, captured) -> callable:
    target = captured.target
    if framework == "torch":
        import torch

        def run() -> None:
            with torch.no_grad():
                target.call()

        return run
    cf = captured.native.concrete_function

    def run_tf() -> None:
        cf(*target.example_inputs)

    return run_tf


def stepped_run(session: Session) -> float:
    session.restart()
    session.wait(None)
    start = time.perf_counter()
    session.continue_()
    pause = session.wait(None)
    elapsed = time.perf_counter() - start
    assert pause is not None and pause.reason == "finished", pause
    return elapsed


def bench_one(framework: str, name: str, target: ModelTarget, repeat: int) -> dict:
    captured = capture(target, "auto")
    session = Session(captured)
    session.start()
    session.wait(None)
    forward = plain_forward(framework, captured)
    forward()
    stepped_run(session)  # warm-up all three
    stepper, quiet = session.stepper, zero_hook()  # the session is paused: the stepper is idle
    stepper.run(quiet)
    plain, alone, stepped = [], [], []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        forward()
        plain.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        stepper.run(quiet)
        alone.append(time.perf_counter() - t0)
        stepped.append(stepped_run(session))
    nodes = len(session.run.executed)
    p, a, s = statistics.median(plain), statistics.median(alone), statistics.median(stepped)
    row = {
        "framework": framework,
        "model": name,
        "capture": captured.strategy,
        "nodes": nodes,
        "forward_s": round(p, 5),
        "stepper_alone_s": round(a, 5),
        "stepped_s": round(s, 5),
        "ratio": round(s / p, 2),
        "per_node_us": round((s - p) / max(nodes, 1) * 1e6, 1),
        "session_per_node_us": round((s - a) / max(nodes, 1) * 1e6, 1),
        "values_mb": round(session.store.nbytes / 2**20, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
    }
    session.stop()
    session.join()
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=("torch", "tensorflow"))
    args = parser.parse_args()
    rows = []
    for framework, make in (("torch", torch_models), ("tensorflow", tf_models)):
        if args.only and args.only != framework:
            continue
        for name, target in make():
            rows.append(bench_one(framework, name, target, args.repeat))
            r = rows[-1]
            print(
                f"{r['framework']:<11} {r['model']:<12} {r['capture']:<9} nodes={r['nodes']:<5} "
                f"forward={r['forward_s'] * 1e3:8.2f} ms  "
                f"stepper alone={r['stepper_alone_s'] * 1e3:8.2f} ms  "
                f"stepped={r['stepped_s'] * 1e3:8.2f} ms  "
                f"ratio={r['ratio']:5.2f}  per-node={r['per_node_us']:7.1f} us "
                f"(session {r['session_per_node_us']:5.1f} us)  "
                f"values={r['values_mb']:6.1f} MB  peak RSS={r['peak_rss_mb']:.0f} MB",
                flush=True,
            )
    print(json.dumps({"stepping": rows}))


if __name__ == "__main__":
    main()
