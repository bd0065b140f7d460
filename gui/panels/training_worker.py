"""A model file's training loop, as the Training panel sees it: engine commands out,
the engine's training events back as signals.

The training itself runs in the engine (`inspectors.engine`, the `Train*` commands),
next to the model it trains; this worker only speaks to it. The window's panel shares
the window's engine (so "Step forward…" hands the next iteration's forward to the
debugger as a load of origin `training`); a panel of its own (the side-by-side
training view) gets an engine of its own.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from gui.debugging.engine import Engine
from inspectors import commands as cmds
from inspectors import events as ev


class TrainingWorker(QObject):
    """Drives the engine's training loop; its events arrive as signals on the GUI thread.

    `ready(info)` after a model is loaded or reset (`info` has `name`, `framework`,
    `rules`, `rule`, `references`, `learning_rate`), `unavailable(text)` when the
    model cannot be trained, `iterated(number, metrics)` after each iteration,
    `finished(done)` after each step job (-1 when it failed) and
    `failed(message, details)`.
    """

    ready = Signal(object)
    unavailable = Signal(str)
    iterated = Signal(int, object)
    finished = Signal(int)
    failed = Signal(str, str)

    def __init__(self, engine: Engine | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._own = engine is None
        self.engine = engine if engine is not None else Engine(parent=self)
        e = self.engine
        e.training_ready.connect(lambda r: self.ready.emit(r.info))
        e.training_unavailable.connect(lambda u: self.unavailable.emit(u.text))
        e.iterated.connect(lambda i: self.iterated.emit(i.number, i.metrics))
        e.training_finished.connect(lambda f: self.finished.emit(f.done))
        e.training_failed.connect(self._on_failed)

    def _on_failed(self, failed: ev.TrainingFailed) -> None:
        self.failed.emit(failed.message, failed.details)

    def load_current(self, *, fresh: bool = True) -> None:
        """Train the engine's loaded model; `fresh` trains a new model from build(),
        leaving the loaded one (which the debugger steps) untouched."""
        self.engine.send(cmds.TrainLoad("", fresh))

    def load_spec(self, spec: str) -> None:
        """Load `spec` in the engine, then train it."""
        self.engine.send(cmds.TrainLoad(spec, fresh=False))

    def step(self, n: int = 1) -> None:
        """Run `n` iterations (until `stop()`), each reported by `iterated`."""
        self.engine.send(cmds.TrainStep(n))

    def stop(self) -> None:
        """Stop a run between two iterations."""
        self.engine.send(cmds.TrainStop())

    def reset(self, rule: str | None = None) -> None:
        """A fresh model from build(), with update rule `rule` when given."""
        self.engine.send(cmds.TrainReset(rule))

    def capture_forward(self) -> None:
        """Capture the next iteration's forward at the current parameters; the engine
        loads it as the model the debugger steps."""
        self.engine.send(cmds.TrainForward())

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop training; an engine of the worker's own ends too."""
        self.stop()
        if self._own:
            self.engine.shutdown(timeout)
