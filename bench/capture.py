"""Capture cost on big models: our capture against the framework's own trace.

A 24-layer transformer encoder written with plain torch ops (attention, layernorm,
GELU and MLP by hand, so fx sees thousands of nodes) and a 50-layer Keras MLP.
For each strategy: the framework's own trace alone, our full capture including the
conversion to the neutral Graph, node counts and the ratio ours / framework.

fx's capture also runs ShapeProp (a real forward pass with the example inputs, for
shapes), which symbolic_trace alone does not do; so fx is reported as trace, shape
propagation and conversion separately, and `fx trace+convert` is the fair ratio.

Run: .venv/bin/python bench/capture.py   (the last line is all figures as JSON)
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from inspectors.capture import capture  # noqa: E402
from inspectors.target import ModelTarget  # noqa: E402

REPEATS = 3
LAYERS, WIDTH, HEADS, TOKENS, BATCH = 24, 64, 8, 16, 2


class PlainEncoderLayer(nn.Module):
    """Pre-norm transformer layer from matmuls and elementwise ops only."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads

        def weight(*shape: int) -> nn.Parameter:
            return nn.Parameter(torch.randn(*shape) / math.sqrt(shape[0]))

        self.ln1_g, self.ln1_b = nn.Parameter(torch.ones(width)), nn.Parameter(torch.zeros(width))
        self.ln2_g, self.ln2_b = nn.Parameter(torch.ones(width)), nn.Parameter(torch.zeros(width))
        self.wq, self.wk, self.wv, self.wo = (weight(width, width) for _ in range(4))
        self.bq, self.bk, self.bv, self.bo = (nn.Parameter(torch.zeros(width)) for _ in range(4))
        self.w1, self.b1 = weight(width, 4 * width), nn.Parameter(torch.zeros(4 * width))
        self.w2, self.b2 = weight(4 * width, width), nn.Parameter(torch.zeros(width))

    @staticmethod
    def layer_norm(x: torch.Tensor, g: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=-1, keepdim=True)
        centred = x - mean
        var = (centred * centred).mean(dim=-1, keepdim=True)
        return centred * torch.rsqrt(var + 1e-5) * g + b

    @staticmethod
    def softmax(x: torch.Tensor) -> torch.Tensor:
        shifted = x - x.amax(dim=-1, keepdim=True)
        e = torch.exp(shifted)
        return e / e.sum(dim=-1, keepdim=True)

    @staticmethod
    def gelu(x: torch.Tensor) -> torch.Tensor:
        inner = 0.7978845608 * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1.0 + torch.tanh(inner))

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        hd = d // self.heads
        q = torch.matmul(x, self.wq) + self.bq
        k = torch.matmul(x, self.wk) + self.bk
        v = torch.matmul(x, self.wv) + self.bv
        outs = []
        for h in range(self.heads):
            qh = q[:, :, h * hd : (h + 1) * hd]
            kh = k[:, :, h * hd : (h + 1) * hd]
            vh = v[:, :, h * hd : (h + 1) * hd]
            scores = torch.matmul(qh, kh.transpose(1, 2)) / math.sqrt(hd)
            outs.append(torch.matmul(self.softmax(scores), vh))
        return torch.matmul(torch.cat(outs, dim=-1), self.wo) + self.bo

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.layer_norm(x, self.ln1_g, self.ln1_b))
        h = self.layer_norm(x, self.ln2_g, self.ln2_b)
        return x + torch.matmul(self.gelu(torch.matmul(h, self.w1) + self.b1), self.w2) + self.b2


class PlainEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList(PlainEncoderLayer(WIDTH, HEADS) for _ in range(LAYERS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def compare(
    framework: Callable[[], Any], ours: Callable[[], Any]
) -> tuple[float, float, Any, list[Any]]:
    """Median seconds of the framework's call and of ours, run alternately after a warm-up.

    Alternating keeps both sides under the same machine load; the warm-up takes
    one-time costs (lazy imports, kernel setup) out of both.
    """
    framework()
    ours()
    frame_times, our_times, frame_result, our_results = [], [], None, []
    for _ in range(REPEATS):
        t, frame_result = timed(framework)
        frame_times.append(t)
        t, result = timed(ours)
        our_times.append(t)
        our_results.append(result)
    return statistics.median(frame_times), statistics.median(our_times), frame_result, our_results


def median_timing(captures: list[Any], key: str) -> float:
    return statistics.median(c.graph.meta["timing"][key] for c in captures)


def bench_torch() -> list[dict[str, Any]]:
    torch.manual_seed(0)
    model = PlainEncoder()
    inputs = (torch.randn(BATCH, TOKENS, WIDTH),)
    target = ModelTarget("bench:encoder", "encoder", "torch", model, inputs)
    rows: list[dict[str, Any]] = []

    frame_fx, ours_fx, traced, fx_runs = compare(
        lambda: torch.fx.symbolic_trace(model), lambda: capture(target, "fx")
    )
    trace, shapes, convert = (median_timing(fx_runs, k) for k in ("trace", "shapes", "convert"))
    fx_graph = fx_runs[0].graph
    rows.append(row("torch", "fx", frame_fx, ours_fx, len(traced.graph.nodes), fx_graph))
    rows.append(
        row("torch", "fx trace+convert", frame_fx, trace + convert, None, fx_graph)
        | {"trace": round(trace, 4), "shapes": round(shapes, 4), "convert": round(convert, 4)}
    )

    frame_ex, ours_ex, program, ex_runs = compare(
        lambda: torch.export.export(model, inputs, strict=False), lambda: capture(target, "export")
    )
    rows.append(
        row("torch", "export", frame_ex, ours_ex, len(program.graph.nodes), ex_runs[0].graph)
    )

    frame_eager, ours_eager, _, eager_runs = compare(
        lambda: model(*inputs), lambda: capture(target, "eager")
    )
    rows.append(row("torch", "eager", frame_eager, ours_eager, None, eager_runs[0].graph))
    return rows


def bench_tensorflow() -> list[dict[str, Any]]:
    try:
        import tensorflow as tf
        from keras import Sequential, layers

        import inspectors.tf_inspector.capture  # noqa: F401  (is the TF capture there yet?)
    except ImportError as exc:
        return [
            {"framework": "tensorflow", "strategy": "function", "error": f"not available: {exc}"}
        ]
    tf.keras.utils.set_random_seed(0)
    model = Sequential(
        [layers.Input((64,))] + [layers.Dense(64, activation="relu") for _ in range(50)]
    )
    inputs = (tf.random.stateless_normal((8, 64), seed=(0, 1)),)
    target = ModelTarget("bench:keras_mlp", "keras_mlp", "tensorflow", model, inputs)
    spec = tf.TensorSpec(inputs[0].shape, inputs[0].dtype)
    frame, ours, cf, runs = compare(
        lambda: tf.function(model).get_concrete_function(spec), lambda: capture(target, "function")
    )
    nodes = len(cf.graph.get_operations())
    return [row("tensorflow", "function", frame, ours, nodes, runs[0].graph)]


def row(
    framework: str, strategy: str, frame: float, ours: float, frame_nodes: Any, graph: Any
) -> dict[str, Any]:
    return {
        "framework": framework,
        "strategy": strategy,
        "framework_s": round(frame, 4),
        "ours_s": round(ours, 4),
        "ratio": round(ours / frame, 2) if frame else None,
        "framework_nodes": frame_nodes,
        "graph_nodes": len(graph),
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    header = f"{'framework':<11}{'strategy':<19}{'framework s':>12}{'ours s':>10}{'ratio':>8}{'fw nodes':>10}{'graph nodes':>13}"
    print(header)
    print("-" * len(header))
    for r in rows:
        if "error" in r:
            print(f"{r['framework']:<11}{r['strategy']:<19}  {r['error']}")
            continue
        fw_nodes = "" if r["framework_nodes"] is None else r["framework_nodes"]
        print(
            f"{r['framework']:<11}{r['strategy']:<19}{r['framework_s']:>12.3f}{r['ours_s']:>10.3f}"
            f"{r['ratio']:>8.2f}{fw_nodes!s:>10}{r['graph_nodes']:>13}"
        )
    for r in rows:
        if "shapes" in r:
            print(
                f"\nfx breakdown: symbolic trace (ours, with source lines) {r['trace']:.3f} s, "
                f"ShapeProp forward {r['shapes']:.3f} s, conversion to Graph {r['convert']:.3f} s"
            )
    print(
        "framework = the framework's own trace alone (eager: one plain forward); ratio = ours / framework"
    )


def main() -> None:
    # One thread: on a small shared machine, thread contention swings matmul times
    # by 10x between runs, which would drown the figures being compared.
    torch.set_num_threads(1)
    rows = bench_torch() + bench_tensorflow()
    print_table(rows)
    print(json.dumps({"repeats": REPEATS, "rows": rows}))


if __name__ == "__main__":
    main()
