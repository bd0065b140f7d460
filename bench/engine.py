"""Engine transport: an F11 and a continue-to-end, engine process against in-process.

    .venv/bin/python bench/engine.py [--steps 200] [--repeat 15]

The app runs every model in an engine process of its own (`ProcessEngine`, which
starts `inspectors.serve_engine`: an `Engine` behind an `EngineServer`, reached with a
`RemoteClient` over ZeroMQ). This measures what that costs against an `Engine` in this
process, on the ResNet and the plain-op transformer of bench/stepping.py:

- F11 (step into: one node) on the ResNet: the time from `send(Step())` to the `Paused`
  that answers it, median and p90 over `--steps` steps (a run that ends is restarted,
  untimed), remote and in-process interleaved step by step;
- continue-to-end (Restart, untimed, then Continue until the `finished` pause) on both
  models: remote and in-process alternating, median of `--repeat`, and the ratio
  remote / in-process. The remote time ends when the client has decoded the last event,
  which is when a window could show it.

`ProcessEngine` only loads specs, and these models are built in code, so the engine
process is this file run with `--serve MODEL`: it opens the model in an `Engine` and
serves it as `inspectors.serve_engine` does (same server, same progress block, same
first line). Both engines settle the heap after opening, as a `Load` does. Every run
is checked: the events arrive, the run really finishes, and both engines run the same
number of nodes. Targets: F11 median < 10 ms; continue remote / in-process <= 1.2.
The last line is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import queue
import statistics
import subprocess
import sys
import time
from multiprocessing import shared_memory
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from inspectors import commands as cmds  # noqa: E402
from inspectors import events as ev  # noqa: E402
from inspectors.engine import Engine, EngineClient, settle_heap  # noqa: E402
from inspectors.procinfo import keep_freed_memory  # noqa: E402
from inspectors.remote import (  # noqa: E402
    PROGRESS_BYTES,
    PROGRESS_ENV,
    READY_PREFIX,
    EngineServer,
    RemoteClient,
    exit_now,
    serve_forever,
)

MODELS = ("resnet", "transformer")
#: How long any one answer may take before the bench gives up (seconds).
TIMEOUT_S = 60.0
#: Untimed F11s before the timed ones (the first steps of a session pay for warm-up).
WARMUP_STEPS = 20


def bench_target(name: str):  # noqa: ANN201 - a ModelTarget
    """`name`'s model from bench/stepping.py (seeded: the same weights in every process)."""
    from stepping import torch_models

    return dict(torch_models())[name]


# ------------------------------------------------------------------ the engine process


def serve(name: str) -> None:
    """`--serve NAME`: this process is an engine serving `name`, as `serve_engine` is."""
    from inspectors.serve_engine import progress_writer

    engine = Engine()
    block = os.environ.get(PROGRESS_ENV)
    if block:
        engine.progress = progress_writer(block)
    server = EngineServer(engine)  # hears Loaded, SessionStarted, the ready pause
    engine.open_target(bench_target(name), "auto")
    settle_heap()
    print(f"{READY_PREFIX}{server.address} token {server.token}", flush=True)
    os.dup2(2, 1)  # the parent closed the pipe after the first line
    exit_now(serve_forever(server, parent=os.getppid()))


# ------------------------------------------------------------------------ the client


class Pauses:
    """A listener: hands each `Paused` to the waiting thread, counts the nodes stepped."""

    def __init__(self) -> None:
        self._pauses: queue.Queue[ev.Paused] = queue.Queue()
        # NodeStepped since the last `take_stepped`, read once a pause is in (none follow)
        self.stepped = 0
        self.total = 0  # the session's node count (SessionStarted)
        self.problems: list[str] = []  # errors the engine reported

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.NodeStepped):
            self.stepped += 1
        elif isinstance(event, ev.Paused):
            self._pauses.put(event)
        elif isinstance(event, ev.SessionStarted):
            self.total = event.total
        elif isinstance(event, ev.Failed | ev.LoadFailed | ev.SessionUnavailable):
            self.problems.append(f"{type(event).__name__}: {event.message}")
        elif isinstance(event, ev.Message) and event.level == "error":
            self.problems.append(event.text)

    def next(self, *expected: str) -> ev.Paused:
        """The next pause, which must have one of the `expected` reasons."""
        try:
            pause = self._pauses.get(timeout=TIMEOUT_S)
        except queue.Empty:
            raise TimeoutError(f"no pause within {TIMEOUT_S} s; {self.problems}") from None
        if pause.reason not in expected:
            raise RuntimeError(f"paused {pause.reason!r}, not {expected}: {self.problems}")
        return pause

    def take_stepped(self) -> int:
        stepped, self.stepped = self.stepped, 0
        return stepped


class Side:
    """One engine with the bench's listener on it: remote (another process) or in-process."""

    def __init__(
        self,
        label: str,
        client: EngineClient,
        process: subprocess.Popen[str] | None = None,
        block: shared_memory.SharedMemory | None = None,
    ) -> None:
        self.label = label
        self.client = client
        self.pauses = Pauses()
        self._process = process
        self._block = block
        client.add_listener(self.pauses)  # a remote engine replays its Loaded and pause

    @staticmethod
    def spawn(name: str) -> tuple[subprocess.Popen[str], shared_memory.SharedMemory]:
        """Start an engine process for `name` (it captures while this process works),
        with the block it writes its progress into, as `ProcessEngine` does."""
        block = shared_memory.SharedMemory(create=True, size=PROGRESS_BYTES)
        assert block.buf is not None
        block.buf[0] = 0
        env = {**os.environ, "PYTHONUNBUFFERED": "1", PROGRESS_ENV: block.name}
        process = subprocess.Popen(
            [sys.executable, __file__, "--serve", name], stdout=subprocess.PIPE, text=True, env=env
        )
        return process, block

    @classmethod
    def remote(cls, process: subprocess.Popen[str], block: shared_memory.SharedMemory) -> Side:
        """Attach to a process from `spawn` once it says where it listens."""
        line = process.stdout.readline() if process.stdout else ""
        if process.stdout is not None:
            process.stdout.close()
        if not line.startswith(READY_PREFIX):
            process.kill()
            raise RuntimeError(f"the engine process did not start: {line.strip()!r}")
        address, _, token = line[len(READY_PREFIX) :].strip().partition(" token ")
        side = cls("remote", RemoteClient(address, token), process, block)
        side.pauses.next(ev.READY)
        return side

    @classmethod
    def in_process(cls, name: str) -> Side:
        engine = Engine()
        side = cls("in-process", engine)
        engine.open_target(bench_target(name), "auto")
        settle_heap()
        side.pauses.next(ev.READY)
        return side

    def restart(self) -> None:
        """Back to before the first node (untimed); the node count starts again."""
        self.client.send(cmds.Restart())
        self.pauses.next(ev.READY)
        self.pauses.take_stepped()

    def f11(self) -> tuple[float, int | None]:
        """One timed step into; the nodes of the run when it ended (then restarted)."""
        start = time.perf_counter()
        self.client.send(cmds.Step())
        pause = self.pauses.next(ev.STEP, ev.FINISHED)
        elapsed = time.perf_counter() - start
        if pause.reason != ev.FINISHED:
            return elapsed, None
        nodes = self.pauses.take_stepped()
        if nodes != pause.position:
            raise RuntimeError(f"{self.label}: {nodes} nodes stepped, pause at {pause.position}")
        self.restart()
        return elapsed, nodes

    def continue_to_end(self) -> tuple[float, int]:
        """A timed continue from a fresh restart to the finished pause; its node count."""
        self.restart()
        gc.collect()
        start = time.perf_counter()
        self.client.send(cmds.Continue())
        pause = self.pauses.next(ev.FINISHED)
        elapsed = time.perf_counter() - start
        nodes = self.pauses.take_stepped()
        if nodes != pause.position or not nodes:
            raise RuntimeError(f"{self.label}: {nodes} nodes stepped, pause at {pause.position}")
        return elapsed, nodes

    def close(self) -> None:
        self.client.close()  # remote: Shutdown, and the engine process ends
        if self._process is not None:
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        if self._block is not None:
            self._block.close()
            self._block.unlink()


# ------------------------------------------------------------------------- figures


def ms(seconds: float) -> float:
    return round(seconds * 1e3, 3)


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def bench_f11(remote: Side, local: Side, steps: int) -> dict:
    """Interleaved F11s on both engines; every run that ends must match in nodes."""
    for side in (remote, local):
        side.restart()
        for _ in range(WARMUP_STEPS):
            side.f11()
        side.restart()  # the timed steps start a run, so the node counts cover whole runs
    times: dict[str, list[float]] = {"remote": [], "in-process": []}
    runs: dict[str, list[int]] = {"remote": [], "in-process": []}
    for _ in range(steps):
        for side in (remote, local):
            elapsed, nodes = side.f11()
            times[side.label].append(elapsed)
            if nodes is not None:
                runs[side.label].append(nodes)
    if not runs["remote"] or runs["remote"] != runs["in-process"]:
        raise RuntimeError(f"stepped runs differ or none ended: {runs}")
    return {"times": times, "run_nodes": runs["remote"][0], "runs": len(runs["remote"])}


def bench_continue(remote: Side, local: Side, repeat: int) -> dict:
    """Alternating continues (after one untimed each); median seconds and node counts."""
    times: dict[str, list[float]] = {"remote": [], "in-process": []}
    nodes: set[int] = set()
    for i in range(repeat + 1):
        for side in (remote, local) if i % 2 else (local, remote):
            elapsed, count = side.continue_to_end()
            nodes.add(count)
            if i:
                times[side.label].append(elapsed)
    if len(nodes) != 1:
        raise RuntimeError(f"the engines ran different node counts: {sorted(nodes)}")
    return {
        "nodes": nodes.pop(),
        "remote": statistics.median(times["remote"]),
        "in-process": statistics.median(times["in-process"]),
        "remote_min": min(times["remote"]),
        "in-process_min": min(times["in-process"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--serve", choices=MODELS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    # An engine process keeps the memory its runs free (`serve_engine`): both engines
    # here do, so the two sides differ by the transport alone.
    keep_freed_memory()
    if args.serve:
        serve(args.serve)
        return
    began = time.perf_counter()
    figures: dict[str, float | int] = {}
    rows: list[tuple[str, int, str, float, float, float, str]] = []
    for name in MODELS:
        process, block = Side.spawn(name)  # the engine process captures while we do
        local = Side.in_process(name)
        remote = Side.remote(process, block)
        try:
            if remote.pauses.total != local.pauses.total:
                raise RuntimeError(
                    f"{name}: {remote.pauses.total} nodes remote, {local.pauses.total} here"
                )
            if name == "resnet":
                f11 = bench_f11(remote, local, args.steps)
                r, here = f11["times"]["remote"], f11["times"]["in-process"]
                figures |= {
                    "f11_steps": len(r),
                    "f11_runs": f11["runs"],
                    "f11_run_nodes": f11["run_nodes"],
                    "f11_roundtrip_ms_median": ms(statistics.median(r)),
                    "f11_roundtrip_ms_p90": ms(p90(r)),
                    "f11_roundtrip_ms_max": ms(max(r)),
                    "f11_inprocess_ms_median": ms(statistics.median(here)),
                    "f11_inprocess_ms_p90": ms(p90(here)),
                    "f11_inprocess_ms_max": ms(max(here)),
                }
                for label, values in (("remote", r), ("in-process", here)):
                    rows.append(
                        (
                            "F11 step into",
                            f11["run_nodes"],
                            label,
                            statistics.median(values),
                            p90(values),
                            max(values),
                            f"{len(values)} steps",
                        )
                    )
            cont = bench_continue(remote, local, args.repeat)
        finally:
            remote.close()
            local.close()
        ratio = cont["remote"] / cont["in-process"]
        figures |= {
            f"{name}_nodes": cont["nodes"],
            f"continue_{name}_inproc_ms": ms(cont["in-process"]),
            f"continue_{name}_remote_ms": ms(cont["remote"]),
            f"continue_{name}_ratio": round(ratio, 3),
            f"continue_{name}_inproc_ms_min": ms(cont["in-process_min"]),
            f"continue_{name}_remote_ms_min": ms(cont["remote_min"]),
        }
        for label in ("remote", "in-process"):
            rows.append(
                (
                    f"continue {name}",
                    cont["nodes"],
                    label,
                    cont[label],
                    float("nan"),
                    float("nan"),
                    f"min {cont[label + '_min'] * 1e3:.2f} ms"
                    + (f", ratio {ratio:.2f}x" if label == "remote" else ""),
                )
            )
    head = (
        f"{'measure':<22}{'nodes':>6}  {'engine':<11}"
        f"{'median ms':>10}{'p90 ms':>9}{'max ms':>9}  note"
    )
    print(head)
    print("-" * len(head))
    for what, nodes, label, median, high, worst, note in rows:
        cells = "".join(f"{v * 1e3:>9.2f}" if v == v else f"{'':>9}" for v in (high, worst))
        print(f"{what:<22}{nodes:>6}  {label:<11}{median * 1e3:>10.2f}{cells}  {note}")
    print(
        "targets: F11 remote median < 10 ms; continue remote / in-process <= 1.2  "
        f"(bench took {time.perf_counter() - began:.0f} s)"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
