"""The Session on its engine thread, seen from the GUI thread as Qt signals.

The Session calls its listener on the engine thread. The listener only appends to a
deque; a timer on the GUI thread drains it every few milliseconds and emits the
signals, batching `NodeStepped` so a fast continue over 50,000 nodes costs the GUI a
handful of slots per frame, never one per node. Nothing here runs model code.
"""

from __future__ import annotations

import collections
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from inspectors import commands as cmds
from inspectors import events as ev

FLUSH_MS = 30

_ENDS_IN_A_PAUSE = (*cmds.RUN_COMMANDS, cmds.Restart)


class Engine(QObject):
    """Commands to a Session; its events back as signals, on the GUI thread."""

    nodes_added = Signal(list)  # list[NodeAdded]
    nodes_stepped = Signal(list)  # list[NodeStepped], in order
    paused = Signal(object)  # Paused
    failed = Signal(object)  # Failed
    gradients_ready = Signal(object)  # GradientsReady
    restarted = Signal(object)  # Restarted
    message = Signal(object)  # Message
    value_ready = Signal(object)  # ValueReady
    inputs_ready = Signal(object)  # InputsReady
    stopped = Signal()
    running_changed = Signal(bool)

    def __init__(self, session: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._inbox: collections.deque[ev.Event] = collections.deque()
        self._timer = QTimer(self)
        self._timer.setInterval(FLUSH_MS)
        self._timer.timeout.connect(self._flush)
        self.running = False
        self._owed = 0  # pauses still to come for the run commands sent
        session.add_listener(self._on_event)

    # -------------------------------------------------------------- commands

    def start(self) -> None:
        self._timer.start()
        self.session.start()

    def send(self, command: cmds.Command) -> None:
        """The one way to the engine (`inspectors.commands`); events come back as signals."""
        if isinstance(command, _ENDS_IN_A_PAUSE):
            # Each run command ends in exactly one pause; the model is running while any
            # is still owed (restart-then-continue owes two: its ready pause is not the end).
            self._owed += 1
            self._set_running(True)
        self.session.send(command)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the engine thread (a model blocked inside one op finishes that op first)."""
        self.session.stop()
        self.session.join(timeout)
        self._flush()
        self._timer.stop()

    # ---------------------------------------------------------------- events

    def _on_event(self, event: ev.Event) -> None:
        """Engine thread: queue the event for the GUI thread."""
        self._inbox.append(event)

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
                self.paused.emit(event)
            elif isinstance(event, ev.Failed):
                self.failed.emit(event)
            elif isinstance(event, ev.GradientsReady):
                self.gradients_ready.emit(event)
            elif isinstance(event, ev.Restarted):
                self.restarted.emit(event)
            elif isinstance(event, ev.Message):
                self.message.emit(event)
            elif isinstance(event, ev.ValueReady):
                self.value_ready.emit(event)
            elif isinstance(event, ev.InputsReady):
                self.inputs_ready.emit(event)
            elif isinstance(event, ev.Stopped):
                self._owed = 0
                self._set_running(False)
                self.stopped.emit()
        deliver_batches()
