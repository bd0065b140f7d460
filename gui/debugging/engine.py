"""The engine, seen from the GUI thread: an `EngineClient` whose events become signals.

The client calls its listener on the engine's threads. The listener only appends to
a deque; a timer on the GUI thread drains it every few milliseconds and emits the
signals, batching `NodeStepped` so a fast continue over 50,000 nodes costs the GUI a
handful of slots per frame, never one per node. Nothing here runs model code, and
nothing here can reach a Session, a stepper or a model: only commands go out.
"""

from __future__ import annotations

import collections
import os
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from inspectors import commands as cmds
from inspectors import events as ev
from inspectors.engine import EngineClient

FLUSH_MS = 30

_ENDS_IN_A_PAUSE = (*cmds.RUN_COMMANDS, cmds.Restart)

#: Each event type -> the signal that carries it (the batched two aside).
_SIGNAL_OF = {
    ev.Paused: "paused",
    ev.Failed: "failed",
    ev.GradientsReady: "gradients_ready",
    ev.Restarted: "restarted",
    ev.Message: "message",
    ev.ValueReady: "value_ready",
    ev.InputsReady: "inputs_ready",
    ev.BreakpointsChanged: "breakpoints_changed",
    ev.Stopped: "stopped",
    ev.LoadStage: "load_stage",
    ev.Loaded: "loaded",
    ev.LoadFailed: "load_failed",
    ev.LoadCancelled: "load_cancelled",
    ev.LoadStopped: "load_stopped",
    ev.SessionStarted: "session_started",
    ev.SessionUnavailable: "session_unavailable",
    ev.TrainingReady: "training_ready",
    ev.TrainingUnavailable: "training_unavailable",
    ev.Iterated: "iterated",
    ev.TrainingFinished: "training_finished",
    ev.TrainingFailed: "training_failed",
    ev.EngineDied: "engine_died",
    ev.Receiving: "receiving",
}

#: `GRAPHSTEP_ENGINE=thread` runs the engine inside the app (tests, debugging the app).
ENGINE_ENV = "GRAPHSTEP_ENGINE"


def default_client() -> EngineClient:
    """The engine a window gets: a process of its own per model (so no model can take
    the app down), or, with GRAPHSTEP_ENGINE=thread, a thread of the app."""
    if os.environ.get(ENGINE_ENV, "process") == "thread":
        from inspectors.engine import Engine as LocalEngine

        return LocalEngine()
    from inspectors.remote import ProcessEngine

    return ProcessEngine()


class Engine(QObject):
    """Commands to an engine; its events back as signals, on the GUI thread.

    Every signal carries the event itself (`nodes_added` and `nodes_stepped` a list
    of them, in order); `running_changed(bool)` says whether a run command is still
    owed its pause.
    """

    nodes_added = Signal(list)  # list[NodeAdded]
    nodes_stepped = Signal(list)  # list[NodeStepped], in order
    paused = Signal(object)
    failed = Signal(object)
    gradients_ready = Signal(object)
    restarted = Signal(object)
    message = Signal(object)
    value_ready = Signal(object)
    inputs_ready = Signal(object)
    breakpoints_changed = Signal(object)
    stopped = Signal(object)
    load_stage = Signal(object)
    loaded = Signal(object)
    load_failed = Signal(object)
    load_cancelled = Signal(object)
    load_stopped = Signal(object)
    session_started = Signal(object)
    session_unavailable = Signal(object)
    training_ready = Signal(object)
    training_unavailable = Signal(object)
    iterated = Signal(object)
    training_finished = Signal(object)
    training_failed = Signal(object)
    engine_died = Signal(object)
    receiving = Signal(object)
    running_changed = Signal(bool)

    def __init__(self, client: EngineClient | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client = client if client is not None else default_client()
        self._inbox: collections.deque[ev.Event] = collections.deque()
        self._timer = QTimer(self)
        self._timer.setInterval(FLUSH_MS)
        self._timer.timeout.connect(self._flush)
        self._timer.start()
        self.running = False
        self._owed = 0  # pauses still to come for the run commands sent
        self._closed = False
        self.client.add_listener(self._inbox.append)  # engine threads: queue for the GUI thread

    def subscribe(self, owner: object) -> None:
        """Connect each signal `name` to `owner._on_<name>`, where `owner` has one: the
        one place a controller is wired to the engine."""
        names = ("nodes_added", "nodes_stepped", "running_changed", *_SIGNAL_OF.values())
        for name in names:
            handler = getattr(owner, f"_on_{name}", None)
            if handler is not None:
                getattr(self, name).connect(handler)

    def send(self, command: cmds.Command) -> None:
        """The one way to the engine (`inspectors.commands`); events come back as signals."""
        if self._closed:
            return
        if isinstance(command, _ENDS_IN_A_PAUSE):
            # Each run command ends in exactly one pause; the model is running while any
            # is still owed (restart-then-continue owes two: its ready pause is not the end).
            self._owed += 1
            self._set_running(True)
        self.client.send(command)

    def replace_client(self, client: EngineClient) -> None:
        """Talk to `client` from now on (a recording's window going live); the old one
        is closed and whatever it still had queued is dropped."""
        old, self.client = self.client, client
        old.close(1.0)
        self._inbox.clear()
        self._owed = 0
        self._set_running(False)
        client.add_listener(self._inbox.append)

    def shutdown(self, timeout: float = 5.0) -> None:
        """End the engine (a model blocked inside one op finishes that op first)."""
        if self._closed:
            return
        self._closed = True
        self.client.close(timeout)
        self._flush()
        self._timer.stop()

    def _set_running(self, running: bool) -> None:
        if running != self.running:
            self.running = running
            self.running_changed.emit(running)

    def flush(self) -> None:
        """Deliver queued events now (tests and shutdown)."""
        self._flush()

    def _flush(self) -> None:
        added: list[ev.NodeAdded] = []
        stepped: list[ev.NodeStepped] = []

        def deliver_batches() -> None:
            if added:
                self.nodes_added.emit(list(added))
                added.clear()
            if stepped:
                self.nodes_stepped.emit(list(stepped))
                stepped.clear()

        while self._inbox:
            event = self._inbox.popleft()
            if isinstance(event, ev.NodeAdded):
                if stepped:
                    deliver_batches()
                added.append(event)
                continue
            if isinstance(event, ev.NodeStepped):
                stepped.append(event)
                continue
            deliver_batches()
            if isinstance(event, ev.Paused):
                self._owed = max(0, self._owed - 1)
                self._set_running(self._owed > 0)
            elif isinstance(event, ev.Stopped | ev.SessionStarted | ev.EngineDied):
                self._owed = 0
                self._set_running(False)
            signal: Any = getattr(self, _SIGNAL_OF[type(event)])
            signal.emit(event)
        deliver_batches()
