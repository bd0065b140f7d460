"""Load a model and capture its graph on a worker thread, so the window never waits.

Importing a framework takes seconds (tensorflow most of all), and running a model
file or a capture can take longer, so `ModelLoader` does all of it on a Python
thread and delivers the outcome to the GUI thread through queued signals.

Cancelling is cooperative. The job stops at its next checkpoint: before the model
is loaded, before each capture strategy `auto` tries, and before its result is
built. What runs between two checkpoints cannot be stopped, because Python offers no
way to kill a thread inside an import or a framework call: a model file being
imported (with the framework it imports) or one capture strategy under way runs to
its end in the background. Its result is dropped, `cancelled` says what still runs,
and `stopped` says when the thread has ended. The thread is a daemon, so an
abandoned job never keeps the app from quitting.

A loader runs one job's model code at a time: a job started while a cancelled one
still runs waits for it to reach its checkpoint, so two imports or captures of the
same framework never run side by side (torch.export and TensorFlow tracing keep
global state).
"""

from __future__ import annotations

import ast
import contextlib
import gc
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

from inspectors.graph import Graph

FRAMEWORK_PACKAGES = {"torch": "torch", "tensorflow": "tensorflow"}
#: How often a job waiting for a cancelled one checks whether it was cancelled too.
WAIT_POLL_S = 0.05


@dataclass
class LoadResult:
    """What the window keeps of a loaded model: the neutral graph and plain facts.

    `captured` is the core's capture object, opaque to the GUI: it is handed on to
    the debugger engine, never inspected here.
    """

    spec: str
    name: str
    framework: str
    capture: str
    graph: Graph
    captured: Any = None
    description: str = ""
    source_path: str | None = None
    seconds: float = 0.0
    failures: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # said in the Log when it lands


def settle_heap() -> None:
    """Move what loading made (framework modules, the model) out of the collector's sight.

    A full garbage collection scans every tracked object; with TensorFlow or torch
    loaded that is millions of them, and the pause stalls the GUI thread too (it
    needs the interpreter lock). Freezing after a collection keeps later collections,
    triggered while a model runs, to the objects made since. Unfreezing first lets
    the previous model's cycles be collected.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def guess_framework(spec: str) -> str | None:
    """The framework `spec` will need, guessed without importing anything."""
    from inspectors.target import SAMPLES_DIR, list_samples

    head, sep, tail = spec.rpartition(":")
    path = Path(head if sep and tail and "/" not in tail and len(head) > 1 else spec)
    if path.suffix == ".pt2":
        return "torch"
    if path.suffix in (".keras", ".h5") or path.is_dir():
        return "tensorflow"
    if not path.suffix and (SAMPLES_DIR / f"{path}.py").exists():
        for sample in list_samples():
            if sample.name == str(path):
                return sample.framework
    if path.suffix == ".py" and path.is_file():
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except (SyntaxError, ValueError, OSError):
            return None
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module.split(".")[0])
        if "torch" in names:
            return "torch"
        if names & {"tensorflow", "keras"}:
            return "tensorflow"
    return None


class _Cancelled(Exception):
    """Raised at a checkpoint of a job that was cancelled: the job ends there."""


#: What a job does now (`_Job.stage`) -> what of it still runs once it is cancelled.
_STILL_RUNNING = {
    "waiting": "",
    "import": "the model's import finishes in the background",
    "result": "",
}


@dataclass
class _Job:
    """One load or recapture: its stop flag, set by the GUI thread, and its stage,
    written by the worker thread (single assignments, so no lock is needed)."""

    number: int
    spec: str
    stop: threading.Event = field(default_factory=threading.Event)
    stage: str = "waiting"  # "waiting", "import", "capture:<strategy>" or "result"

    def still_running(self) -> str:
        """What keeps running after a cancel, in words ("" when the job stops at once)."""
        if self.stage.startswith("capture:"):
            strategy = self.stage.partition(":")[2]
            return f"the {strategy} capture under way finishes in the background"
        return _STILL_RUNNING.get(self.stage, "")


class ModelLoader(QObject):
    """Runs one load or recapture at a time off the GUI thread.

    Signals arrive on the GUI thread: `stage_changed(text)` as the job advances,
    then exactly one of `loaded(LoadResult)` or `failed(message, traceback)`, or
    `cancelled(still_running)` when the user gave up on it (`still_running` says what
    finishes in the background, "" when nothing does). `busy_changed(bool)` brackets a
    job. `stopped(spec, where)` comes when the thread of a cancelled or replaced job
    has ended.
    """

    stage_changed = Signal(str)
    loaded = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal(str)
    stopped = Signal(str, str)
    busy_changed = Signal(bool)

    # Emitted from the worker thread; the queued connections below bring them home.
    _job_stage = Signal(int, str)
    _job_done = Signal(int, object)
    _job_failed = Signal(int, str, str)
    _job_stopped = Signal(str, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._job = 0
        self._active: int | None = None
        self._current: _Job | None = None
        self._spec = ""
        # Held by a worker while it runs model code: one job of this loader at a time.
        self._model_code = threading.Lock()
        queued = Qt.ConnectionType.QueuedConnection
        self._job_stage.connect(self._on_stage, queued)
        self._job_done.connect(self._on_done, queued)
        self._job_failed.connect(self._on_failed, queued)
        self._job_stopped.connect(self.stopped, queued)

    def is_busy(self) -> bool:
        return self._active is not None

    def spec(self) -> str:
        """The spec of the job under way, or of the last one."""
        return self._spec

    def load(self, spec: str, strategy: str = "auto") -> None:
        """Load `spec` and capture it with `strategy`; any job under way is abandoned."""
        self._start(spec, strategy, target=None)

    def recapture(self, captured: Any, strategy: str) -> None:
        """Capture an already loaded model again with another strategy (no reload)."""
        target = captured.target
        self._start(target.spec, strategy, target=target)

    def cancel(self) -> None:
        """Stop the job under way at its next checkpoint; its result is never delivered."""
        if self._active is None:
            return
        still_running = self._abandon()
        self.busy_changed.emit(False)
        self.cancelled.emit(still_running)

    def _abandon(self) -> str:
        """Drop the job under way (if any) and ask its thread to stop; what still runs."""
        job, self._current, self._active = self._current, None, None
        if job is None:
            return ""
        job.stop.set()
        return job.still_running()

    def _start(self, spec: str, strategy: str, target: Any) -> None:
        self._abandon()  # a job under way is replaced, without the cancelled signal
        self._job += 1
        job = _Job(self._job, spec)
        self._active = job.number
        self._current = job
        self._spec = spec
        self.busy_changed.emit(True)
        thread = threading.Thread(
            target=self._work,
            args=(job, strategy, target),
            name=f"graphstep-load-{job.number}",
            daemon=True,
        )
        thread.start()

    # -- worker thread ------------------------------------------------------------

    def _work(self, job: _Job, strategy: str, target: Any) -> None:
        if not self._model_code.acquire(blocking=False):
            # A cancelled job still runs model code: wait for its next checkpoint.
            self._emit(self._job_stage, job.number, "Waiting for the cancelled load to stop…")
            while not self._model_code.acquire(timeout=WAIT_POLL_S):
                if job.stop.is_set():
                    self._emit(self._job_stopped, job.spec, "before it started")
                    return
        try:
            self._run(job, strategy, target)
        finally:
            self._model_code.release()
        if job.stop.is_set():
            where = {
                "waiting": "before it started",
                "import": "after the model's import",
                "result": "once its result was ready (dropped)",
            }.get(job.stage, f"after the {job.stage.partition(':')[2]} capture")
            self._emit(self._job_stopped, job.spec, where)

    def _run(self, job: _Job, strategy: str, target: Any) -> None:
        """Load and capture, stopping at the first checkpoint after a cancel."""
        from inspectors.capture import STRATEGIES, capture
        from inspectors.target import TargetError, load_target

        spec = job.spec

        def checkpoint(stage: str) -> None:
            if job.stop.is_set():
                raise _Cancelled
            job.stage = stage

        def before_strategy(name: str) -> None:
            checkpoint(f"capture:{name}")
            self._emit(self._job_stage, job.number, f"Capturing ({name})…")

        start = time.perf_counter()
        try:
            if target is None:
                checkpoint("import")
                framework = guess_framework(spec)
                if framework and FRAMEWORK_PACKAGES[framework] not in sys.modules:
                    text = f"Importing {framework}, loading model…"
                else:
                    text = "Loading model…"
                self._emit(self._job_stage, job.number, text)
                target = load_target(spec)
            notes: list[str] = []
            if strategy != "auto" and strategy not in STRATEGIES.get(target.framework, ()):
                # The box still holds a choice made for the other framework.
                notes.append(
                    f"Capture {strategy!r} does not apply to a {target.framework} model: "
                    f"used auto instead."
                )
                strategy = "auto"
            captured = capture(target, strategy, before_strategy)
            checkpoint("result")
            graph = captured.graph
            if graph.meta.get("forward_error"):
                notes.append(
                    f"{graph.meta['forward_error']}. The graph is loaded: continue (F5) "
                    "to pause on the node that fails."
                )
            result = LoadResult(
                spec=spec,
                name=target.name,
                framework=target.framework,
                capture=captured.strategy,
                graph=graph,
                captured=captured,
                description=target.description,
                source_path=target.source_path,
                seconds=time.perf_counter() - start,
                failures=list(graph.meta.get("failures", [])),
                notes=notes,
            )
        except _Cancelled:
            return
        except TargetError as exc:
            self._emit(self._job_failed, job.number, str(exc), traceback.format_exc())
        except Exception as exc:  # a bug in a model file or a capture: show, don't crash
            message = f"{type(exc).__name__}: {exc}".strip()
            self._emit(self._job_failed, job.number, message, traceback.format_exc())
        else:
            if job.stop.is_set():
                return  # cancelled during the last capture: nothing to settle or deliver
            settle_heap()
            self._emit(self._job_done, job.number, result)

    def _emit(self, signal: Any, *args: Any) -> None:
        # The loader may be deleted while the job runs: then nobody listens.
        with contextlib.suppress(RuntimeError):
            signal.emit(*args)

    # -- GUI thread ---------------------------------------------------------------

    @Slot(int, str)
    def _on_stage(self, job: int, text: str) -> None:
        if job == self._active:
            self.stage_changed.emit(text)

    @Slot(int, object)
    def _on_done(self, job: int, result: LoadResult) -> None:
        if job != self._active:
            return
        self._active, self._current = None, None
        self.busy_changed.emit(False)
        self.loaded.emit(result)

    @Slot(int, str, str)
    def _on_failed(self, job: int, message: str, details: str) -> None:
        if job != self._active:
            return
        self._active, self._current = None, None
        self.busy_changed.emit(False)
        self.failed.emit(message, details)
