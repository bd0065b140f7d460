"""Load a model and capture its graph on a worker thread, so the window never waits.

Importing a framework takes seconds (tensorflow most of all), and running a model
file or a capture can take longer, so `ModelLoader` does all of it on a Python
thread and delivers the outcome to the GUI thread through queued signals.

Cancelling cannot stop the thread: Python offers no way to kill a thread that is
inside an import or a framework call. A cancelled job is abandoned instead: it runs
to its end in the background and its result is dropped when it arrives. The thread
is a daemon, so an abandoned job never keeps the app from quitting.
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


class ModelLoader(QObject):
    """Runs one load or recapture at a time off the GUI thread.

    Signals arrive on the GUI thread: `stage_changed(text)` as the job advances,
    then exactly one of `loaded(LoadResult)` or `failed(message, traceback)`, or
    `cancelled()` when the user gave up on it. `busy_changed(bool)` brackets a job.
    """

    stage_changed = Signal(str)
    loaded = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal()
    busy_changed = Signal(bool)

    # Emitted from the worker thread; the queued connections below bring them home.
    _job_stage = Signal(int, str)
    _job_done = Signal(int, object)
    _job_failed = Signal(int, str, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._job = 0
        self._active: int | None = None
        self._spec = ""
        queued = Qt.ConnectionType.QueuedConnection
        self._job_stage.connect(self._on_stage, queued)
        self._job_done.connect(self._on_done, queued)
        self._job_failed.connect(self._on_failed, queued)

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
        """Abandon the job under way: its result will be ignored when it arrives."""
        if self._active is None:
            return
        self._active = None
        self.busy_changed.emit(False)
        self.cancelled.emit()

    def _start(self, spec: str, strategy: str, target: Any) -> None:
        if self._active is not None:
            self._active = None  # abandoned, without the cancelled signal
        self._job += 1
        job = self._job
        self._active = job
        self._spec = spec
        self.busy_changed.emit(True)
        thread = threading.Thread(
            target=self._work,
            args=(job, spec, strategy, target),
            name=f"graphstep-load-{job}",
            daemon=True,
        )
        thread.start()

    # -- worker thread ------------------------------------------------------------

    def _work(self, job: int, spec: str, strategy: str, target: Any) -> None:
        from inspectors.capture import STRATEGIES, capture
        from inspectors.target import TargetError, load_target

        start = time.perf_counter()
        try:
            if target is None:
                framework = guess_framework(spec)
                if framework and FRAMEWORK_PACKAGES[framework] not in sys.modules:
                    self._emit(self._job_stage, job, f"Importing {framework}, loading model…")
                else:
                    self._emit(self._job_stage, job, "Loading model…")
                target = load_target(spec)
            notes: list[str] = []
            if strategy != "auto" and strategy not in STRATEGIES.get(target.framework, ()):
                # The box still holds a choice made for the other framework.
                notes.append(
                    f"Capture {strategy!r} does not apply to a {target.framework} model: "
                    f"used auto instead."
                )
                strategy = "auto"
            self._emit(self._job_stage, job, f"Capturing ({strategy})…")
            captured = capture(target, strategy)
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
        except TargetError as exc:
            self._emit(self._job_failed, job, str(exc), traceback.format_exc())
        except Exception as exc:  # a bug in a model file or a capture: show, don't crash
            message = f"{type(exc).__name__}: {exc}".strip()
            self._emit(self._job_failed, job, message, traceback.format_exc())
        else:
            settle_heap()
            self._emit(self._job_done, job, result)

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
        self._active = None
        self.busy_changed.emit(False)
        self.loaded.emit(result)

    @Slot(int, str, str)
    def _on_failed(self, job: int, message: str, details: str) -> None:
        if job != self._active:
            return
        self._active = None
        self.busy_changed.emit(False)
        self.failed.emit(message, details)
