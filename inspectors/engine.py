"""The engine: everything that touches the model, behind one `send(command)`.

A client (the GUI, `graphstep run`, a test) holds an `EngineClient`: it sends
commands (`inspectors.commands`) and listens to events (`inspectors.events`), and
nothing else crosses. `Engine` is the in-process implementation; an engine in another
process is the same `Engine` behind a transport, seen through a client that speaks
`inspectors.wire`.

The engine owns:

- loading and capture (`Load`, `Recapture`, `Retrace`, `SwitchTrace`), one job at a
  time on a worker thread, cancelled cooperatively (`CancelLoad`) at its checkpoints;
- the `Session` of the loaded model, on its own engine thread: the run commands go to
  it (`commands.SESSION_COMMANDS`), with the value budget, the plumbing switch and
  the breakpoints kept for the next session too;
- the model file's training loop (`Train*`), on a thread of its own.

Listeners are called on the engine's threads; a GUI re-posts what it hears to its own
thread (`gui.debugging.engine`).
"""

from __future__ import annotations

import ast
import contextlib
import gc
import importlib
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from inspectors import commands as cmds
from inspectors import events as ev
from inspectors.tensors import DEFAULT_BUDGET

Listener = Callable[[ev.Event], None]

FRAMEWORK_PACKAGES = {"torch": "torch", "tensorflow": "tensorflow"}
#: How often a job waiting for a cancelled one checks whether it was cancelled too.
WAIT_POLL_S = 0.05

NO_TRAINING = (
    "This model file has no training loop. Define `data()` (an iterable of batches) and "
    "`train_step(model, batch)` (one iteration, returning a dict such as "
    "{'loss': …, 'phi': …}) to step it here; the fit_exponent samples show how."
)


def tell(listeners: list[Listener], event: ev.Event) -> None:
    """Give `event` to each listener; one that raises is reported, never fatal (a
    broken client must not kill the engine, nor keep the others from hearing)."""
    for listener in tuple(listeners):
        try:
            listener(event)
        except Exception:
            traceback.print_exc()


class EngineClient(Protocol):
    """What a client may do with an engine: send commands, hear events, close it."""

    def send(self, command: cmds.Command) -> None: ...

    def add_listener(self, listener: Listener) -> None: ...

    def close(self, timeout: float = 5.0) -> None: ...


def settle_heap() -> None:
    """Move what loading made (framework modules, the model) out of the collector's sight.

    A full garbage collection scans every tracked object; with TensorFlow or torch
    loaded that is millions of them, and the pause stalls every thread (they need the
    interpreter lock). Freezing after a collection keeps later collections, triggered
    while a model runs, to the objects made since. Unfreezing first lets the previous
    model's cycles be collected.
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


@dataclass
class _Job:
    """One load, recapture or retrace: its stop flag, set by `CancelLoad`, and its
    stage, written by its thread (single assignments, so no lock is needed)."""

    number: int
    spec: str
    origin: str
    stop: threading.Event = field(default_factory=threading.Event)
    stage: str = "waiting"  # "waiting", "import", "capture:<strategy>" or "result"

    def still_running(self) -> str:
        """What keeps running after a cancel, in words ("" when the job stops at once)."""
        if self.stage.startswith("capture:"):
            strategy = self.stage.partition(":")[2]
            return f"the {strategy} capture under way finishes in the background"
        if self.stage == "import":
            return "the model's import finishes in the background"
        return ""

    def where(self) -> str:
        """Where a cancelled job stopped, in words."""
        return {
            "waiting": "before it started",
            "import": "after the model's import",
            "result": "once its result was ready (dropped)",
        }.get(self.stage, f"after the {self.stage.partition(':')[2]} capture")


class Engine:
    """The in-process engine: an `EngineClient` whose model runs in this process."""

    def __init__(self, listener: Listener | None = None, *, budget: int = DEFAULT_BUDGET) -> None:
        self._listeners: list[Listener] = [listener] if listener else []
        self._lock = threading.RLock()  # guards the model, the session and the job
        self.target: Any = None  # the loaded ModelTarget
        self.captured: Any = None  # its capture
        self.session: Any = None  # the Session stepping it
        self._job: _Job | None = None
        self._model_code = threading.Lock()  # held while a job runs model code
        # kept for every session this engine starts
        self._budget = budget
        self._step_plumbing = False
        self._trainer = _Trainer(self._emit)
        self._closed = False
        #: Given each node's id once it has run (see `Session.progress`).
        self.progress: Callable[[str], None] | None = None

    # ------------------------------------------------------------- the client side

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def send(self, command: cmds.Command) -> None:
        """The one entry, from any thread; never blocks on the model."""
        if self._closed:
            return
        if isinstance(command, cmds.SESSION_COMMANDS):
            self._to_session(command)
        elif isinstance(command, cmds.Load):
            self._start_job(command.job, command.spec, "load", command.strategy)
        elif isinstance(command, cmds.Recapture):
            self._start_job(command.job, self._spec(), "recapture", command.strategy)
        elif isinstance(command, cmds.Retrace):
            self._start_job(command.job, self._spec(), "retrace", command.batch)
        elif isinstance(command, cmds.SwitchTrace):
            self._start_job(command.job, self._spec(), "switch", command.index)
        elif isinstance(command, cmds.CancelLoad):
            self._cancel_job()
        elif isinstance(command, cmds.TrainForward):
            self._trainer.submit(command, on_captured=self._training_forward)
        elif isinstance(command, cmds.TrainLoad) and not command.spec:
            self._trainer.submit(command, target=self.target)
        elif isinstance(command, cmds.TrainLoad | cmds.TrainStep | cmds.TrainReset):
            self._trainer.submit(command)
        elif isinstance(command, cmds.TrainStop):
            self._trainer.stop()
        elif isinstance(command, cmds.EndEngine):
            self._emit(
                ev.Message("warning", "This engine runs inside the app: it cannot be ended.")
            )
        elif isinstance(command, cmds.Shutdown):
            self.close()
        else:  # pragma: no cover - every command is handled above
            raise TypeError(f"not a command: {command!r}")

    def close(self, timeout: float = 5.0) -> None:
        """End the session, the training thread and any load (a model blocked inside
        one op finishes that op first)."""
        if self._closed:
            return
        self._closed = True
        self._cancel_job(say=False)
        self._end_session(timeout)
        self._trainer.shutdown(timeout)

    def open_target(self, target: Any, strategy: str = "auto") -> Any:
        """Capture a model object given here (`graphstep.debug`) on this thread and step
        it: `Loaded` (origin `attached`, job 0) and a session follow. The Session."""
        from inspectors.capture import capture

        start = time.perf_counter()
        captured = capture(target, strategy)
        seconds = time.perf_counter() - start
        self._install(captured, loaded_event(captured, 0, "attached", 0, seconds, [], target.spec))
        return self.session

    def wait_idle(self, timeout: float | None = 60.0) -> None:
        """Block until the load under way (if any) has ended (headless use)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                job = self._job
            if job is None:
                return
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"the load did not end within {timeout} s")
            time.sleep(0.01)

    # ----------------------------------------------------------------- the session

    def _emit(self, event: ev.Event) -> None:
        tell(self._listeners, event)

    def _to_session(self, command: cmds.Command) -> None:
        if isinstance(command, cmds.SetBudget):
            self._budget = int(command.nbytes)
        elif isinstance(command, cmds.SetStepPlumbing):
            self._step_plumbing = bool(command.show)
        with self._lock:
            session = self.session
        if session is not None:
            session.send(command)
        elif isinstance(command, (*cmds.RUN_COMMANDS, cmds.FetchValue, cmds.FetchInputs)):
            self._emit(ev.Message("info", "No model is running: open one first."))

    def _end_session(self, timeout: float = 5.0) -> None:
        with self._lock:
            session, self.session = self.session, None
        if session is not None:
            session.stop()
            session.join(timeout)

    def _install(self, captured: Any, loaded: ev.Loaded) -> None:
        """Make `captured` the engine's model: say so, then start a session on it."""
        from inspectors.session import Session

        self._end_session()
        with self._lock:
            self.captured, self.target = captured, captured.target
        self._emit(loaded)
        try:
            session = Session(captured, budget=self._budget)
        except Exception as exc:  # the stepper could not be built: exploring still works
            message = f"Stepping is not available for this model: {type(exc).__name__}: {exc}"
            self._emit(ev.SessionUnavailable(message, traceback.format_exc()))
            return
        session.step_plumbing = self._step_plumbing
        session.progress = self.progress
        session.add_listener(self._emit)
        with self._lock:
            self.session = session
        eager = captured.strategy == "eager"
        self._emit(ev.SessionStarted(loaded.spec, session.total(), eager))
        session.start()

    def _spec(self) -> str:
        return str(getattr(self.target, "spec", ""))

    # --------------------------------------------------------------------- loading

    def _start_job(self, number: int, spec: str, origin: str, arg: Any) -> None:
        with self._lock:
            if origin != "load" and self.captured is None:
                self._emit(ev.LoadFailed(number, "No model is loaded.", "", origin))
                return
            self._abandon()  # a job under way is replaced
            job = _Job(number, spec, origin)
            self._job = job
            captured = self.captured
        thread = threading.Thread(
            target=self._work,
            args=(job, arg, captured),
            name=f"graphstep-load-{number}",
            daemon=True,
        )
        thread.start()

    def _abandon(self) -> _Job | None:
        job, self._job = self._job, None
        if job is not None:
            job.stop.set()
        return job

    def _cancel_job(self, say: bool = True) -> None:
        with self._lock:
            job = self._abandon()
        if job is not None and say:
            self._emit(ev.LoadCancelled(job.number, job.still_running()))

    def _work(self, job: _Job, arg: Any, captured: Any) -> None:
        if not self._model_code.acquire(blocking=False):
            # A cancelled job still runs model code: wait for its next checkpoint.
            self._emit(ev.LoadStage(job.number, "Waiting for the cancelled load to stop…"))
            while not self._model_code.acquire(timeout=WAIT_POLL_S):
                if job.stop.is_set():
                    self._emit(ev.LoadStopped(job.spec, "before it started"))
                    return
        try:
            self._run_job(job, arg, captured)
        finally:
            self._model_code.release()
            with self._lock:
                if self._job is job:
                    self._job = None
        if job.stop.is_set():
            self._emit(ev.LoadStopped(job.spec, job.where()))

    def _run_job(self, job: _Job, arg: Any, captured: Any) -> None:
        """Load (or recapture, retrace) and capture, stopping at the first checkpoint
        after a cancel; the result becomes the engine's model."""
        start = time.perf_counter()
        try:
            if job.origin in ("load", "recapture"):
                new, notes = self._capture(job, arg, captured)
            else:
                new, notes = self._retrace(job, arg, captured)
            self._checkpoint(job, "result")
            loaded = self._loaded(job, new, notes, time.perf_counter() - start, arg)
        except _Cancelled:
            return
        except Exception as exc:  # a bug in a model file or a capture: say it, don't crash
            from inspectors.target import TargetError

            message = str(exc) if isinstance(exc, TargetError) else f"{type(exc).__name__}: {exc}"
            self._emit(
                ev.LoadFailed(job.number, message.strip(), traceback.format_exc(), job.origin)
            )
            return
        if job.stop.is_set():
            return  # cancelled during the last step: nothing to settle or deliver
        settle_heap()
        with self._lock:
            current = self._job is job
        if current:
            self._install(new, loaded)

    @staticmethod
    def _checkpoint(job: _Job, stage: str) -> None:
        if job.stop.is_set():
            raise _Cancelled
        job.stage = stage

    def _capture(self, job: _Job, strategy: str, captured: Any) -> tuple[Any, list[str]]:
        from inspectors.capture import STRATEGIES, capture
        from inspectors.target import load_target

        def before_strategy(name: str) -> None:
            self._checkpoint(job, f"capture:{name}")
            self._emit(ev.LoadStage(job.number, f"Capturing ({name})…"))

        if job.origin == "recapture":
            target = captured.target
        else:
            self._checkpoint(job, "import")
            framework = guess_framework(job.spec)
            if framework and FRAMEWORK_PACKAGES[framework] not in sys.modules:
                self._emit(ev.LoadStage(job.number, f"Importing {framework}…"))
                with contextlib.suppress(ImportError):  # `load_target` names what is missing
                    importlib.import_module(FRAMEWORK_PACKAGES[framework])
                self._checkpoint(job, "import")
            self._emit(ev.LoadStage(job.number, "Loading the model (its code runs)…"))
            target = load_target(job.spec)
        notes: list[str] = []
        if strategy != "auto" and strategy not in STRATEGIES.get(target.framework, ()):
            # The choice was made for the other framework.
            notes.append(
                f"Capture {strategy!r} does not apply to a {target.framework} model: "
                f"used auto instead."
            )
            strategy = "auto"
        new = capture(target, strategy, before_strategy)
        error = new.graph.meta.get("forward_error")
        if error:
            notes.append(
                f"{error}. The graph is loaded: continue (F5) to pause on the node that fails."
            )
        return new, notes

    def _retrace(self, job: _Job, value: int, captured: Any) -> tuple[Any, list[str]]:
        from inspectors import retrace

        text = "Tracing…" if job.origin == "retrace" else "Capturing that concrete function…"
        self._emit(ev.LoadStage(job.number, text))
        if job.origin == "retrace":
            return retrace.capture_trace(captured, retrace.inputs_with_batch(captured, value)), []
        return retrace.capture_trace(captured, value), []

    def _loaded(
        self, job: _Job, captured: Any, notes: list[str], seconds: float, arg: Any
    ) -> ev.Loaded:
        detail = 0
        if job.origin == "retrace":
            detail = int(arg)
        elif job.origin == "switch":
            detail = int(captured.extra.get("trace_index", arg))
        return loaded_event(captured, job.number, job.origin, detail, seconds, notes, job.spec)

    def _training_forward(self, captured: Any) -> None:
        """The trainer captured an iteration's forward: it becomes the model stepped."""
        target = captured.target
        iteration = int(target.extra.get("training_iteration", 0))
        loaded = loaded_event(captured, 0, "training", iteration, 0.0, [], target.spec)
        loaded = _replace(loaded, name=f"{target.name} · iteration {iteration} forward")
        self._install(captured, loaded)


def loaded_event(
    captured: Any,
    job: int,
    origin: str,
    detail: int,
    seconds: float,
    notes: list[str],
    spec: str,
) -> ev.Loaded:
    """The plain facts of a capture, as the `Loaded` event carries them."""
    from inspectors.training import can_train

    target = captured.target
    graph = captured.graph
    try:
        trainable = bool(can_train(target))
    except Exception:
        trainable = False
    return ev.Loaded(
        job=job,
        spec=spec or target.spec,
        name=target.name,
        framework=target.framework,
        capture=captured.strategy,
        graph=graph,
        description=target.description,
        source_path=target.source_path,
        seconds=seconds,
        failures=tuple(graph.meta.get("failures", [])),
        notes=tuple(notes),
        origin=origin,
        detail=detail,
        trainable=trainable,
    )


def _replace(loaded: ev.Loaded, **changes: Any) -> ev.Loaded:
    import dataclasses

    return dataclasses.replace(loaded, **changes)


class _Trainer:
    """A model file's training loop on its own thread: `Train*` commands in, events out.

    Results of a model loaded before the last `TrainLoad` are dropped (its generation
    is over); `stop()` ends a `TrainStep` between two iterations.
    """

    def __init__(self, emit: Listener) -> None:
        self._emit_any = emit
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._run: Any = None  # the TrainingRun: touched on the trainer thread only
        self._generation = 0
        self._stop_ticket = 0
        self._thread: threading.Thread | None = None

    def _emit(self, gen: int, event: ev.Event) -> None:
        if gen == self._generation:
            self._emit_any(event)

    def stop(self) -> None:
        self._stop_ticket += 1

    def submit(
        self,
        command: cmds.Command,
        target: Any = None,
        on_captured: Callable[[Any], None] | None = None,
    ) -> None:
        if isinstance(command, cmds.TrainLoad):
            self.stop()
            self._generation += 1
        elif isinstance(command, cmds.TrainReset):
            self.stop()
        gen, ticket = self._generation, self._stop_ticket

        def job() -> None:
            if gen != self._generation:
                return
            try:
                self._do(command, gen, ticket, target, on_captured)
            except Exception as exc:
                self._emit(gen, ev.TrainingFailed(str(exc), traceback.format_exc()))
                if isinstance(command, cmds.TrainStep):
                    self._emit(gen, ev.TrainingFinished(-1))

        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="graphstep-training", daemon=True
            )
            self._thread.start()
        self._jobs.put(job)

    def _do(
        self,
        command: cmds.Command,
        gen: int,
        ticket: int,
        target: Any,
        on_captured: Callable[[Any], None] | None,
    ) -> None:
        from inspectors.training import TrainingRun, can_train

        if isinstance(command, cmds.TrainLoad):
            self._run = None
            if command.spec:
                from inspectors.target import load_target

                target = load_target(command.spec)
            if target is None or not can_train(target):
                self._emit(gen, ev.TrainingUnavailable(NO_TRAINING))
                return
            self._run = TrainingRun(target)
            if command.fresh:
                self._run.reset()
            self._emit(gen, ev.TrainingReady(self._info()))
            return
        run = self._run
        if run is None:
            return
        if isinstance(command, cmds.TrainStep):
            done = run.step(
                command.n,
                should_stop=lambda: ticket != self._stop_ticket,
                on_iteration=lambda i, m: self._emit(gen, ev.Iterated(i, dict(m))),
            )
            self._emit(gen, ev.TrainingFinished(len(done)))
        elif isinstance(command, cmds.TrainReset):
            if command.rule is not None:
                run.set_rule(command.rule)
            run.reset()
            self._emit(gen, ev.TrainingReady(self._info()))
        elif isinstance(command, cmds.TrainForward) and on_captured is not None:
            on_captured(run.capture_current())

    def _info(self) -> dict[str, Any]:
        run = self._run
        module = run.module
        # `HIDDEN_PHI = 2.5` in a model file: the value metric `phi` should reach
        references = {
            key[len("HIDDEN_") :].lower(): float(value)
            for key, value in vars(module).items()
            if key.startswith("HIDDEN_") and isinstance(value, int | float)
        }
        return {
            "name": run.target.name,
            "framework": run.target.framework,
            "rules": list(run.rule_names),
            "rule": run.rule,
            "references": references,
            "learning_rate": getattr(module, "LEARNING_RATE", None),
        }

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                self._run = None
                return
            job()

    def shutdown(self, timeout: float = 5.0) -> None:
        self.stop()
        self._generation += 1
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(timeout)


class EventLog:
    """A listener that keeps every event and lets a thread wait for one (headless use:
    tests, the CLI)."""

    def __init__(self) -> None:
        self.events: list[ev.Event] = []
        self._cond = threading.Condition()

    def __call__(self, event: ev.Event) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait_for(self, kind: type | tuple[type, ...], timeout: float = 60.0, after: int = 0) -> Any:
        """The first event of `kind` at index `after` or later; waits for it."""
        with self._cond:
            found: list[Any] = []
            looked = after  # each event is looked at once, however often it wakes

            def seen() -> bool:
                nonlocal looked
                events = self.events
                while looked < len(events):
                    event = events[looked]
                    looked += 1
                    if isinstance(event, kind):
                        found.append(event)
                        return True
                return False

            if not self._cond.wait_for(seen, timeout):
                raise TimeoutError(f"no {kind} within {timeout} s")
            return found[0]

    def mark(self) -> int:
        """The index the next event will have."""
        with self._cond:
            return len(self.events)

    def of(self, kind: type) -> list[Any]:
        with self._cond:
            return [e for e in self.events if isinstance(e, kind)]


__all__ = [
    "EngineClient",
    "Engine",
    "EventLog",
    "Listener",
    "guess_framework",
    "settle_heap",
    "loaded_event",
]
