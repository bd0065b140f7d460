"""What `graphstep.watch` costs a training loop, beside `torch.autograd.detect_anomaly`.

    .venv/bin/python bench/watch.py [--iterations 200] [--rounds 5]

Two PyTorch loops that stay finite (so nothing is caught and only the per-iteration
check is paid): a small MLP and a small CNN on MNIST-sized batches, SGD. Each round
times `--iterations` iterations of each variant, in turn (plain, watched, anomaly
detection), so the machine's drift touches them alike; the figure is the median over
rounds of the time per iteration, and the overhead is against plain. Target: watch at
most 5% over plain. The Keras `fit` callback is not built yet: no Keras row.
The last line is one JSON object of the figures.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import graphstep  # noqa: E402


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="Anomaly Detection has been enabled")
    figures: dict[str, float] = {}
    variants = ("plain", "watch", "anomaly")
    print(f"{'loop':<6}{'variant':<10}{'ms / iteration':>16}{'overhead':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        record = Path(tmp) / "never.gsrec"
        for name, build in (("mlp", mlp), ("cnn", cnn)):
            run("plain", build, 20, record)  # warm up
            times: dict[str, list[float]] = {v: [] for v in variants}
            for _ in range(args.rounds):
                for variant in variants:
                    times[variant].append(run(variant, build, args.iterations, record))
            plain = statistics.median(times["plain"])
            for variant in variants:
                median = statistics.median(times[variant])
                overhead = median / plain - 1
                print(f"{name:<6}{variant:<10}{median * 1e3:>16.3f}{overhead:>+10.1%}")
                figures[f"{name}_{variant}_ms"] = round(median * 1e3, 4)
                if variant != "plain":
                    figures[f"{name}_{variant}_overhead"] = round(overhead, 4)
    print("target: watch overhead <= 5% of the plain iteration")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
