"""The GUI's one model of a run: what the engine's events have said so far.

A `RunModel` subscribes to an `Engine`'s signals before any view does, so every view
that reads it in its own slot (the debugger controller, a compare pane, the Explain
controller, the status bar) sees the state the event has already brought: node
marks, summaries, gradients, errors, the last pause, the position and the memory
the values take, and the full values fetched so far. Views never keep copies.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QObject

from gui.debugging.engine import Engine
from gui.graph.live_graph import RunMarks
from inspectors import commands as cmds
from inspectors import events as ev
from inspectors.tensors import TensorSummary

#: A fetched value's key: (node id, output index, gradient?).
ValueKey = tuple[str, int, bool]


class RunReader:
    """What a view reads of the run, from its `run` (a RunModel): never a copy."""

    run: RunModel

    @property
    def eager(self) -> bool:
        return self.run.eager

    @property
    def marks(self) -> RunMarks:
        return self.run.marks

    @property
    def last_pause(self) -> ev.Paused | None:
        return self.run.last_pause

    @property
    def summaries(self) -> dict[str, tuple[TensorSummary, ...]]:
        return self.run.summaries


class RunModel(QObject):
    """The state of the current session's run, kept from the engine's events."""

    def __init__(self, engine: Engine, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.active = False  # a session runs (and takes run commands)
        self.spec = ""
        self.total = 0
        self.eager = False
        self.marks = RunMarks()
        self.last_pause: ev.Paused | None = None
        self.summaries: dict[str, tuple[TensorSummary, ...]] = {}
        self.grad_summaries: dict[str, tuple[TensorSummary | None, ...]] = {}
        self.param_grads: dict[str, TensorSummary] = {}
        self.errors: dict[str, str] = {}
        self.values: dict[ValueKey, np.ndarray | None] = {}
        self.dropped: set[ValueKey] = set()
        self._asked: set[ValueKey] = set()
        engine.session_started.connect(self._on_started)
        engine.session_unavailable.connect(lambda _e: self._end())
        engine.loaded.connect(lambda _e: self._end())
        engine.nodes_stepped.connect(self._on_stepped)
        engine.paused.connect(self._on_paused)
        engine.failed.connect(self._on_failed)
        engine.restarted.connect(lambda _e: self.reset())
        engine.gradients_ready.connect(self._on_gradients)
        engine.value_ready.connect(self._on_value)

    # ----------------------------------------------------------------- reading

    @property
    def running(self) -> bool:
        return self.active and self.engine.running

    @property
    def memory(self) -> int:
        """Bytes of full values the engine kept, as of the last pause."""
        return self.last_pause.memory if self.last_pause is not None else 0

    def over(self) -> bool:
        """The run has ended (finished, failed, or walking gradients back)."""
        pause = self.last_pause
        return pause is not None and pause.reason in (ev.FINISHED, ev.EXCEPTION, ev.GRADIENT)

    def value(self, node_id: str, index: int = 0, gradient: bool = False) -> np.ndarray | None:
        """A full value fetched from the engine, or None (not yet, or none)."""
        return self.values.get((node_id, index, gradient))

    def fetch(self, node_id: str, count: int, gradient: bool = False) -> None:
        """Ask the engine for outputs 0..count-1 of `node_id` not fetched or asked yet
        (a dropped value is not recomputed: that is the user's call)."""
        for i in range(count):
            key = (node_id, i, gradient)
            if key in self.values or key in self._asked:
                continue
            self._asked.add(key)
            self.engine.send(cmds.FetchValue(node_id, i, gradient=gradient, recompute=False))

    # ----------------------------------------------------------------- events

    def reset(self) -> None:
        """A new run: nothing of the last one stays."""
        self.marks.reset()
        self.last_pause = None
        self.summaries = {}
        self.grad_summaries = {}
        self.param_grads = {}
        self.errors = {}
        self._forget_values()

    def _forget_values(self, node_id: str | None = None, gradient: bool | None = None) -> None:
        for store in (self.values, self.dropped, self._asked):
            for key in [
                k
                for k in store
                if (node_id is None or k[0] == node_id) and (gradient is None or k[2] == gradient)
            ]:
                if isinstance(store, dict):
                    del store[key]
                else:
                    store.discard(key)

    def _end(self) -> None:
        self.active = False
        self.reset()

    def _on_started(self, started: ev.SessionStarted) -> None:
        self.reset()
        self.active = True
        self.spec = started.spec
        self.total = started.total
        self.eager = started.eager

    def _on_stepped(self, stepped: list[ev.NodeStepped]) -> None:
        self.marks.stepped(stepped)
        for event in stepped:
            self.summaries[event.node_id] = event.summaries
            if event.overridden or any(k[0] == event.node_id for k in self.values):
                self._forget_values(event.node_id, gradient=False)

    def _on_paused(self, pause: ev.Paused) -> None:
        self.last_pause = pause
        self.marks.paused(pause)

    def _on_failed(self, failed: ev.Failed) -> None:
        if failed.node_id:
            self.marks.error_node = failed.node_id
            self.errors[failed.node_id] = failed.message

    def _on_gradients(self, ready: ev.GradientsReady) -> None:
        self.grad_summaries = dict(ready.nodes)
        self.param_grads = dict(ready.params)
        self._forget_values(gradient=True)

    def _on_value(self, ready: ev.ValueReady) -> Any:
        key = (ready.node_id, ready.index, ready.gradient)
        self._asked.discard(key)
        self.values[key] = ready.array
        if ready.dropped:
            self.dropped.add(key)
        else:
            self.dropped.discard(key)
