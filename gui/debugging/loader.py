"""Loading, as the window sees it: jobs sent to the engine, their outcome as signals.

The engine (`inspectors.engine`) does all the work: importing a framework, running a
model file, capturing, retracing, on its own threads. `ModelLoader` numbers each job
it sends (`Load`, `Recapture`, `Retrace`, `SwitchTrace`), keeps which one is current,
and turns the engine's events for that job into signals; events of an abandoned job
are dropped. Cancelling is cooperative: the engine's job stops at its next
checkpoint (before the model is loaded, before each capture strategy, before its
result is built); what runs between two checkpoints finishes in the background, and
`cancelled` says what.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from gui.debugging.engine import Engine
from inspectors import commands as cmds
from inspectors import events as ev

#: What the window keeps of a loaded model: the engine's `Loaded` event itself, the
#: neutral graph and plain facts (`origin` says what made it: `load`, `recapture`,
#: `retrace`, `switch`, `training`, `attached`).
LoadResult = ev.Loaded


class ModelLoader(QObject):
    """Runs one load, recapture or retrace at a time on `engine`.

    Signals arrive on the GUI thread: `stage_changed(text)` as the job advances, then
    exactly one of `loaded(LoadResult)` or `failed(message, traceback)` (a retrace or
    a switch of concrete function fails with `retrace_failed`), or
    `cancelled(still_running)` when the user gave up on it. `busy_changed(bool)`
    brackets a job. `stopped(spec, where)` comes when the engine's thread of a
    cancelled or replaced job has ended. A model the engine loads by itself (an
    iteration's forward from training) arrives through `loaded` too.
    """

    stage_changed = Signal(str)
    loaded = Signal(object)
    failed = Signal(str, str)
    retrace_failed = Signal(str, str)
    cancelled = Signal(str)
    stopped = Signal(str, str)
    busy_changed = Signal(bool)

    def __init__(self, engine: Engine, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self._job = 0
        self._active: int | None = None
        self._cancelled: int | None = None
        self._spec = ""
        engine.load_stage.connect(self._on_stage)
        engine.loaded.connect(self._on_loaded)
        engine.load_failed.connect(self._on_failed)
        engine.load_cancelled.connect(self._on_cancelled)
        engine.load_stopped.connect(lambda e: self.stopped.emit(e.spec, e.where))
        engine.engine_died.connect(self._on_engine_died)

    def is_busy(self) -> bool:
        return self._active is not None

    def spec(self) -> str:
        """The spec of the job under way, or of the last one."""
        return self._spec

    def load(self, spec: str, strategy: str = "auto") -> None:
        """Load `spec` and capture it with `strategy`; any job under way is abandoned."""
        self._spec = spec
        self._send(cmds.Load(spec, strategy, self._next()))

    def recapture(self, strategy: str) -> None:
        """Capture the loaded model again with another strategy (no reload)."""
        self._send(cmds.Recapture(strategy, self._next()))

    def retrace(self, batch: int) -> None:
        """TensorFlow: call the model's function with inputs of batch size `batch`."""
        self._send(cmds.Retrace(batch, self._next()))

    def switch_trace(self, index: int) -> None:
        """TensorFlow: show the model's concrete function number `index`."""
        self._send(cmds.SwitchTrace(index, self._next()))

    def cancel(self) -> None:
        """Stop the job under way at its next checkpoint; its result is never delivered."""
        if self._active is None:
            return
        self._cancelled, self._active = self._active, None
        self.engine.send(cmds.CancelLoad())
        self.busy_changed.emit(False)

    def _next(self) -> int:
        self._job += 1
        return self._job

    def _send(self, command: cmds.Load | cmds.Recapture | cmds.Retrace | cmds.SwitchTrace) -> None:
        self._active = command.job  # a job under way is replaced (the engine drops it)
        self.busy_changed.emit(True)
        self.engine.send(command)

    def _finish(self, job: int) -> bool:
        """Whether `job` is the current one; it is over now."""
        if job != self._active:
            return False
        self._active = None
        self.busy_changed.emit(False)
        return True

    def _on_stage(self, stage: ev.LoadStage) -> None:
        if stage.job == self._active:
            self.stage_changed.emit(stage.text)

    def _on_loaded(self, loaded: ev.Loaded) -> None:
        if loaded.origin == "training" or loaded.job == 0:  # the engine's own loads
            if self._active is None:  # never over a load the user is waiting for
                self.loaded.emit(loaded)
            return
        if self._finish(loaded.job):
            self.loaded.emit(loaded)

    def _on_failed(self, failed: ev.LoadFailed) -> None:
        if failed.job == 0 and self._active is None:  # a load the engine made itself
            self.failed.emit(failed.message, failed.details)
            return
        if not self._finish(failed.job):
            return
        if failed.origin in ("retrace", "switch"):
            self.retrace_failed.emit(failed.message, failed.details)
        else:
            self.failed.emit(failed.message, failed.details)

    def _on_engine_died(self, died: ev.EngineDied) -> None:
        """The engine's process ended while it loaded: that load failed."""
        if self._active is not None:
            self._finish(self._active)
            self.failed.emit(
                f"The engine process ended while loading {self._spec}: {died.how}.", ""
            )

    def _on_cancelled(self, cancelled: ev.LoadCancelled) -> None:
        if cancelled.job == self._cancelled:
            self._cancelled = None
            self.cancelled.emit(cancelled.still_running)
