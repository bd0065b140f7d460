"""Stepping at the model's own speed: continue-to-end against a plain forward.

    .venv/bin/python bench/stepping.py [--repeat N] [--only torch|tensorflow]
                                       [--rows a,b] [--device cpu|cuda]
                                       [--summary-thread] [--tf-op-by-op]

Rows (torch): a ResNet-style conv net, a transformer encoder from plain ops (every
matmul a node), a chain of 200 tiny layers (the per-node cost on top of the op), and,
where the bench extra is installed (`pip install -e ".[bench]"`), torchvision's
ResNet-18, GPT-2 (transformers, tiny config, through torch.export), ConvNeXt-atto
(timm), and GPT-2 with its KV cache through the eager capture (the capture itself is
a run of the model: its time is the `capture` column). TensorFlow: the same three
bench models, against the model's compiled `tf.function` (a continue runs the graph
as one call that returns every op's output; `--tf-op-by-op` adds the continue run op
by op, as a column).

How each figure is taken, so that none flatters Graphstep:

- **forward**: the plain forward (torch under `no_grad`; TensorFlow the concrete
  function the model traces to), in a **fresh process** that has run nothing else:
  no Graphstep thread has run a framework op there. (After an engine thread has run
  torch ops, a forward on another thread can be 2-4x slower on a 2-core machine:
  the two threads' OpenMP teams compete.)
- **torchlens**: `torchlens.trace(model, x)` (every activation saved: its default),
  in the same fresh process, after the forward.
- **stepper**: the same nodes run one at a time by the stepper with a hook that does
  nothing, in another fresh process (on its main thread, as the forward).
- **continue**: Graphstep's continue-to-end (a summary of every node, full values
  kept) through a Session, in a third fresh process: capture (on a thread that then
  ends, as in the engine), one warm-up run, then the median of `--repeat` runs.
  **session/node** is what the Session adds per node over the stepper alone
  (summaries, values, events).
- **+summaries**: in the stepper's process, the stepper again with a hook that does
  one thing: it summarises every node's outputs, in batches of the Session's size, by
  the Session's own call (`start_batch`), as the run goes. **floor** is that over the
  forward: what a continue would cost were the rest of the Session (events, the value
  store, its per-node Python) free.
- **read once**: one vectorised pass (numpy's sum) over every float output of one
  run, with nothing else (CPU only): the least that any summary of every value costs,
  whatever computes it (`read_mb` in the JSON: how much that is).
- **allocator**: an engine process asks malloc to keep the memory a run frees
  (`procinfo.keep_freed_memory`), so the stepper and continue processes do too.
  **ratio** is against the forward as a user's own process runs it (malloc's
  defaults); **fwd kept** is the same forward once malloc keeps freed memory, in the
  baseline process, and its **ratio** the continue against that: the same allocator
  on both sides.

Each process builds the row's model from the same seed. No timing forces a garbage
collection first (a forced collection returns the last run's memory to the system,
and the next run then pays for fresh pages: measured 2-8x on the small models). Ratios are against the
forward. The last line is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from inspectors.target import ModelTarget  # noqa: E402

#: The device the torch rows run on (`--device`).
DEVICE = os.environ.get("GRAPHSTEP_BENCH_DEVICE", "cpu")


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


def thirdparty_models() -> list[tuple[str, ModelTarget, str]]:
    """Real architectures, where the bench extra is installed: (name, target, capture)."""
    import torch

    rows: list[tuple[str, ModelTarget, str]] = []
    try:
        import torchvision
    except ImportError:
        torchvision = None
    if torchvision is not None:
        torch.manual_seed(0)
        model = torchvision.models.resnet18().eval()
        rows.append(
            (
                "resnet18",
                ModelTarget(
                    "bench:resnet18", "resnet18", "torch", model, (torch.randn(1, 3, 64, 64),)
                ),
                "auto",
            )
        )
    try:
        import transformers as tr
    except ImportError:
        tr = None
    if tr is not None:
        config = tr.GPT2Config(
            n_embd=64,
            n_layer=2,
            n_head=2,
            n_positions=64,
            vocab_size=128,
            bos_token_id=0,
            eos_token_id=0,
        )

        class Logits(torch.nn.Module):
            """GPT-2's logits as a plain tensor: what export traces end to end."""

            def __init__(self) -> None:
                super().__init__()
                torch.manual_seed(0)
                self.model = tr.GPT2LMHeadModel(config).eval()

            def forward(self, ids: torch.Tensor) -> torch.Tensor:
                return self.model(input_ids=ids, use_cache=False, return_dict=True).logits

        class Cached(torch.nn.Module):
            """One generation step with the KV cache of the prompt before it."""

            def __init__(self) -> None:
                super().__init__()
                torch.manual_seed(0)
                self.model = tr.GPT2LMHeadModel(config).eval()

            def forward(self, prompt: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
                first = self.model(input_ids=prompt, use_cache=True)
                out = self.model(
                    input_ids=step, past_key_values=first.past_key_values, use_cache=True
                )
                return out.logits

        ids = torch.randint(0, 128, (1, 16), generator=torch.Generator().manual_seed(0))
        rows.append(
            ("gpt2", ModelTarget("bench:gpt2", "gpt2", "torch", Logits(), (ids,)), "export")
        )
        rows.append(
            (
                "gpt2_kv_eager",
                ModelTarget("bench:gpt2kv", "gpt2_kv", "torch", Cached(), (ids, ids[:, -1:])),
                "eager",
            )
        )
    try:
        import timm
    except ImportError:
        timm = None
    if timm is not None:
        torch.manual_seed(0)
        model = timm.create_model("convnext_atto", pretrained=False).eval()
        rows.append(
            (
                "convnext_atto",
                ModelTarget(
                    "bench:convnext", "convnext_atto", "torch", model, (torch.randn(1, 3, 64, 64),)
                ),
                "auto",
            )
        )
    return rows


def _importable(module: str) -> bool:
    """Whether `module` imports (a torchvision wheel built for another torch does not)."""
    import importlib

    try:
        importlib.import_module(module)
    except Exception:
        return False
    return True


def all_rows(framework: str) -> list[tuple[str, Callable[[], tuple[ModelTarget, str]]]]:
    """The rows of `framework`, each built only when asked (in its own process)."""
    if framework == "torch":
        names = ["resnet", "transformer", "chain"]
        made = [(n, (lambda n=n: (dict(torch_models())[n], "auto"))) for n in names]
        try:
            import importlib.util

            extra = [
                m for m in ("torchvision", "transformers", "timm") if importlib.util.find_spec(m)
            ]
        except ImportError:
            extra = []
        third = []
        if "torchvision" in extra:
            third.append("resnet18")
        if "transformers" in extra:
            third += ["gpt2", "gpt2_kv_eager"]
        if "timm" in extra:
            third.append("convnext_atto")

        def build(name: str) -> tuple[ModelTarget, str]:
            for n, target, strategy in thirdparty_models():
                if n == name:
                    return target, strategy
            raise KeyError(name)

        return made + [(n, (lambda n=n: build(n))) for n in third]
    return [
        (n, (lambda n=n: (dict(tf_models())[n], "auto")))
        for n in ("resnet", "transformer", "chain")
    ]


def to_device(target: ModelTarget) -> ModelTarget:
    if target.framework != "torch" or DEVICE == "cpu":
        return target
    import torch

    target.model.to(DEVICE)
    target.example_inputs = tuple(
        x.to(DEVICE) if isinstance(x, torch.Tensor) else x for x in target.example_inputs
    )
    return target


def sync() -> None:
    if DEVICE != "cpu":
        import torch

        torch.cuda.synchronize()


def median_time(fn: Callable[[], Any], repeat: int) -> float:
    fn()
    sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure_baseline(framework: str, row: str, repeat: int) -> dict[str, Any]:
    """In a fresh process: the plain forward, then torchlens."""
    target, _strategy = dict(all_rows(framework))[row]()
    target = to_device(target)
    out: dict[str, Any] = {}
    if framework == "torch":
        import torch

        def forward() -> None:
            with torch.no_grad():
                target.call()

        out["forward_s"] = median_time(forward, max(repeat, 10))
        kept_memory(out, forward, repeat)
        try:
            import torchlens
        except ImportError:
            return out

        def lens() -> None:
            torchlens.trace(target.model, tuple(target.example_inputs))  # saves every layer

        out["torchlens_s"] = median_time(lens, max(1, min(repeat, 3)))
        return out
    from inspectors.tf_inspector.trace import concrete_function

    cf = concrete_function(target)
    out["forward_s"] = median_time(lambda: cf(*target.example_inputs), max(repeat, 10))
    kept_memory(out, lambda: cf(*target.example_inputs), repeat)
    return out


def kept_memory(out: dict[str, Any], forward: Callable[[], Any], repeat: int) -> None:
    """The forward again once malloc keeps freed memory, as an engine process has it
    (`procinfo.keep_freed_memory`): the `kept` column, the same allocator as Graphstep's."""
    from inspectors.procinfo import keep_freed_memory

    if keep_freed_memory():
        out["forward_kept_s"] = median_time(forward, max(repeat, 10))


def measure_stepper(framework: str, row: str, repeat: int) -> dict[str, Any]:
    """In the fresh baseline process, after the forward: the stepper alone (every node
    run one at a time with a hook that does nothing), on the same thread."""
    from inspectors.capture import capture
    from inspectors.procinfo import keep_freed_memory
    from inspectors.session import _BATCH_NODES as BATCH_NODES
    from inspectors.stepping import QuietHook, make_stepper, zero_hook
    from inspectors.tensors import as_numpy, start_batch

    keep_freed_memory()  # as in an engine process
    target, strategy = dict(all_rows(framework))[row]()
    target = to_device(target)
    stepper, quiet = make_stepper(capture(target, strategy)), zero_hook()
    out = {"stepper_s": median_time(lambda: stepper.run(quiet), repeat)}
    # The stepper with summaries and nothing else: every node's outputs summarised in
    # batches of the Session's size, by the Session's own call (`start_batch`), as the
    # run goes (so the values are as fresh in the caches as in a continue).
    batch: list[Any] = []
    nodes = [0]

    class Summarize(QuietHook):
        def node_done(self, node_id: str, scope: Any, values: tuple[Any, ...]) -> None:
            batch.extend(values)
            nodes[0] += 1
            if nodes[0] % BATCH_NODES == 0:
                start_batch(batch)()
                batch.clear()

    def summarized() -> None:
        stepper.run(Summarize())
        start_batch(batch)()
        batch.clear()
        sync()

    out["summarized_s"] = median_time(summarized, repeat)
    if DEVICE != "cpu":
        return out
    # Reading every output once (a sum of each: one vectorised pass, the least any
    # summary of every value costs), over one run's values, with nothing else.
    import numpy as np

    values: list[Any] = []

    class Keep(Summarize):
        def node_done(self, node_id: str, scope: Any, values_: tuple[Any, ...]) -> None:
            values.extend(values_)

    stepper.run(Keep())
    arrays = [a for a in map(as_numpy, values) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]

    def read_once() -> None:
        for a in arrays:
            np.add.reduce(a, axis=None)

    out["read_once_s"] = median_time(read_once, repeat)
    out["read_mb"] = sum(a.nbytes for a in arrays) / 2**20
    return out


def measure_graphstep(framework: str, row: str, repeat: int) -> dict[str, Any]:
    """In a fresh process: capture, then continue-to-end through a Session."""
    from inspectors.capture import capture
    from inspectors.procinfo import keep_freed_memory
    from inspectors.session import Session

    keep_freed_memory()  # as in an engine process
    target, strategy = dict(all_rows(framework))[row]()
    target = to_device(target)
    # As in the engine, the capture runs on a thread of its own that then ends: only the
    # session's thread is left running framework ops (two threads that both ran torch
    # ops each keep an OpenMP team, and on a machine with few cores libgomp then makes
    # each parallel region wait on a sleeping team: 2-4x slower ops).
    done: dict[str, Any] = {}

    def load() -> None:
        t0 = time.perf_counter()
        done["captured"] = capture(target, strategy)
        done["capture_s"] = time.perf_counter() - t0

    loader = threading.Thread(target=load)
    loader.start()
    loader.join()
    captured, capture_s = done["captured"], done["capture_s"]
    session = Session(captured)
    session.start()
    session.wait(None)

    def stepped() -> float:
        session.restart()
        session.wait(None)
        start = time.perf_counter()
        session.continue_()
        pause = session.wait(None)
        elapsed = time.perf_counter() - start
        assert pause is not None and pause.reason == "finished", pause
        return elapsed

    stepped()  # warm-up
    runs = []
    for _ in range(repeat):
        runs.append(stepped())
    out = {
        "capture": captured.strategy,
        "capture_s": capture_s,
        "nodes": len(session.run.executed),
        "continue_s": statistics.median(runs),
        "values_mb": session.store.nbytes / 2**20,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    session.stop()
    session.join()
    return out


def in_fresh_process(
    what: str, framework: str, row: str, repeat: int, env: dict[str, str] | None = None
) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--measure", what, "--only", framework, "--rows", row]
    cmd += ["--repeat", str(repeat), "--device", DEVICE]
    environ = {**os.environ, **(env or {})}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, env=environ)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"error": " / ".join(tail) or f"exit {done.returncode}"}
    return json.loads(lines[-1])


def main() -> None:
    global DEVICE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=("torch", "tensorflow"))
    parser.add_argument("--rows", help="comma-separated row names (default: all)")
    parser.add_argument("--device", default="cpu", help="torch rows: cpu or cuda")
    parser.add_argument(
        "--summary-thread",
        action="store_true",
        help="also time the continue with its summaries' compiled passes on a thread of "
        "their own (GRAPHSTEP_SUMMARY_THREAD=1): the 'thread' column",
    )
    parser.add_argument(
        "--tf-op-by-op",
        action="store_true",
        help="also time TensorFlow's continue run op by op, not as one call "
        "(GRAPHSTEP_TF_OP_BY_OP=1): the 'op by op' column",
    )
    parser.add_argument(
        "--measure", choices=("baseline", "stepper", "graphstep"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    DEVICE = args.device
    if args.measure:  # one side of one row, in this (fresh) process
        measure = {
            "baseline": measure_baseline,
            "stepper": measure_stepper,
            "graphstep": measure_graphstep,
        }[args.measure]
        print(json.dumps(measure(args.only, args.rows, args.repeat)))
        return
    wanted = set(args.rows.split(",")) if args.rows else None
    rows: list[dict[str, Any]] = []
    # other settings of the continue, each a column: (title, key, environment, framework)
    extras: list[tuple[str, str, dict[str, str], str | None]] = []
    if args.summary_thread:
        extras.append(("thread", "thread", {"GRAPHSTEP_SUMMARY_THREAD": "1"}, None))
    if args.tf_op_by_op:
        extras.append(("op by op", "op_by_op", {"GRAPHSTEP_TF_OP_BY_OP": "1"}, "tensorflow"))
    header = (
        f"{'framework':<11}{'model':<15}{'capture':<9}{'nodes':>6}{'forward':>10}"
        f"{'continue':>10}{'ratio':>7}{'stepper':>10}{'session/node':>14}"
        f"{'torchlens':>11}{'vs lens':>9}{'capture':>10}{'fwd kept':>10}{'ratio':>7}"
        f"{'+summaries':>11}{'floor':>7}{'read once':>10}"
        + "".join(f"{title:>10}{'ratio':>7}" for title, _, _, _ in extras)
    )
    print(
        f"device: {DEVICE}; times in ms; ratio = continue / forward; vs lens = torchlens / continue"
    )
    print(header)
    for framework in ("torch", "tensorflow"):
        if args.only and args.only != framework:
            continue
        for name, _build in all_rows(framework):
            if wanted and name not in wanted:
                continue
            base = in_fresh_process("baseline", framework, name, args.repeat)
            base.update(in_fresh_process("stepper", framework, name, args.repeat))
            mine = in_fresh_process("graphstep", framework, name, args.repeat)
            row: dict[str, Any] = {"framework": framework, "model": name, **base, **mine}
            if "error" in base or "error" in mine:
                print(f"{framework:<11}{name:<15}failed: {base.get('error') or mine.get('error')}")
                rows.append(row)
                continue
            nodes = max(mine["nodes"], 1)
            row["ratio"] = mine["continue_s"] / base["forward_s"]
            kept = base.get("forward_kept_s")
            row["ratio_kept"] = mine["continue_s"] / kept if kept else None
            row["session_per_node_us"] = (mine["continue_s"] - base["stepper_s"]) / nodes * 1e6
            # the least a continue could cost with these summaries: stepper + summaries
            row["floor_ratio"] = base["summarized_s"] / base["forward_s"]
            # the summaries' own share: what is left of the floor without the stepper
            summaries = base["summarized_s"] - base["stepper_s"]
            row["summaries_over_forward"] = summaries / base["forward_s"]
            lens = base.get("torchlens_s")
            row["torchlens_vs_continue"] = lens / mine["continue_s"] if lens else None
            columns = ""
            for _title, key, env, only in extras:
                other = (
                    in_fresh_process("graphstep", framework, name, args.repeat, env)
                    if only in (None, framework)
                    else {}
                )
                if "continue_s" in other:
                    row[f"continue_{key}_s"] = other["continue_s"]
                    row[f"ratio_{key}"] = other["continue_s"] / base["forward_s"]
                    columns += f"{other['continue_s'] * 1e3:>10.2f}{row[f'ratio_{key}']:>7.2f}"
                else:
                    columns += f"{'-':>10}{'-':>7}"
            rows.append(row)
            print(
                f"{framework:<11}{name:<15}{mine['capture']:<9}{mine['nodes']:>6}"
                f"{base['forward_s'] * 1e3:>10.2f}{mine['continue_s'] * 1e3:>10.2f}"
                f"{row['ratio']:>7.2f}{base['stepper_s'] * 1e3:>10.2f}"
                f"{row['session_per_node_us']:>12.1f}us"
                + (
                    f"{lens * 1e3:>11.1f}{row['torchlens_vs_continue']:>8.1f}x"
                    if lens
                    else f"{'-':>11}{'-':>9}"
                )
                + f"{mine['capture_s'] * 1e3:>10.1f}"
                + (
                    f"{kept * 1e3:>10.2f}{row['ratio_kept']:>7.2f}"
                    if kept
                    else f"{'-':>10}{'-':>7}"
                )
                + f"{base['summarized_s'] * 1e3:>11.2f}{row['floor_ratio']:>7.2f}"
                + (f"{base['read_once_s'] * 1e3:>10.2f}" if "read_once_s" in base else f"{'-':>10}")
                + columns,
                flush=True,
            )
    print(
        "targets (CPU): transformer <= 1.5x, resnet <= 1.2x, chain <= 2x, TensorFlow <= 2x its "
        "compiled function, eager <= 2x, session < 5 us/node"
    )
    rounded = [
        {k: (round(v, 6) if isinstance(v, float) else v) for k, v in r.items()} for r in rows
    ]
    print(json.dumps({"device": DEVICE, "stepping": rounded}))


if __name__ == "__main__":
    main()
