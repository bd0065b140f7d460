"""An `EngineClient` that replays scripted events: no model, no framework.

`FakeEngine` answers each command the way the engine's contract says (one `Paused`
per run command, a `ValueReady` per `FetchValue`, ...) for a four-node chain
`x -> fc1 -> relu -> output` whose values are fixed numpy arrays, so the debugger
controller and its panels can be driven, and checked, with torch and tensorflow
blocked. Every command it got is kept in `commands`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from inspectors import commands as cmds
from inspectors import events as ev
from inspectors.breakpoints import Breakpoints
from inspectors.engine import Listener
from inspectors.graph import Graph
from inspectors.tensors import summarize

SPEC = "fake_chain"
ORDER = ("x", "fc1", "relu", "output")


def chain_graph() -> Graph:
    graph = Graph(SPEC, "torch", capture="fx")
    out = [((2, 3), "float32")]
    graph.add_node("x", kind="input", op="placeholder", outputs=out)
    graph.add_node("fc1", kind="module", op="Linear", scope=("fc1",), outputs=out)
    graph.add_node("relu", kind="op", op="relu", outputs=out)
    graph.add_node("output", kind="output", op="output", outputs=out)
    for a, b in zip(ORDER, ORDER[1:], strict=False):
        graph.add_edge(a, b)
    return graph


def chain_values() -> dict[str, np.ndarray]:
    x = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5
    fc1 = 2 * x - 1
    relu = np.maximum(fc1, 0)
    return {"x": x, "fc1": fc1, "relu": relu, "output": relu.copy()}


class FakeEngine:
    """Scripted answers to every command, delivered synchronously to the listeners."""

    def __init__(self, *, fail_at: str | None = None) -> None:
        self.listeners: list[Listener] = []
        self.commands: list[cmds.Command] = []
        self.graph = chain_graph()
        self.values = chain_values()
        self.grads = {n: np.full_like(v, 0.5) for n, v in self.values.items()}
        self.breakpoints = Breakpoints()
        self.fail_at = fail_at
        self.position = 0
        self.finished = False
        self.overrides: dict[str, np.ndarray] = {}
        self.closed = False

    # the EngineClient contract
    def add_listener(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def close(self, timeout: float = 5.0) -> None:
        self.closed = True

    def send(self, command: cmds.Command) -> None:
        self.commands.append(command)
        handler = getattr(self, f"_on_{type(command).__name__}", None)
        if handler is not None:
            handler(command)

    # ------------------------------------------------------------------ answers

    def emit(self, event: ev.Event) -> None:
        for listener in self.listeners:
            listener(event)

    def _pause(self, reason: str, node: str | None, **kw: Any) -> None:
        self.emit(ev.Paused(reason, node, self.position, len(ORDER), memory=96, **kw))

    def _on_Load(self, command: cmds.Load) -> None:  # noqa: N802 - named after the command
        self.emit(ev.LoadStage(command.job, "Loading model…"))
        self.emit(ev.Loaded(command.job, command.spec, SPEC, "torch", "fx", self.graph))
        self.position, self.finished = 0, False
        self.emit(ev.SessionStarted(command.spec, len(ORDER)))
        self._pause(ev.READY, None)

    def _run_one(self) -> str | None:
        """Run the next node; the breakpoint it hits, or "" when it raised."""
        node = ORDER[self.position]
        self.position += 1
        if node == self.fail_at:
            self.emit(ev.Failed(node, f"{node}: RuntimeError: scripted", "Traceback ..."))
            self.finished = True
            self._pause(ev.EXCEPTION, node, message=f"{node}: RuntimeError: scripted")
            return ""
        value = self.overrides.get(node, self.values[node])
        self.emit(ev.NodeStepped(node, self.position, (), (summarize(value),)))
        for bp in self.breakpoints:
            if bp.enabled and bp.node == node:
                bp.hits += 1
                self.emit(ev.BreakpointsChanged(self.breakpoints.to_items()))
                self._pause(ev.BREAKPOINT, node, breakpoint_id=bp.id, message=bp.describe())
                return node
        return None

    def _run(self, until: str | None = None, steps: int | None = None) -> None:
        ran = 0
        while self.position < len(ORDER):
            hit = self._run_one()
            if hit is not None:
                return
            ran += 1
            node = ORDER[self.position - 1]
            if node == until or (steps is not None and ran >= steps):
                self._pause(ev.STEP, node)
                return
        self.finished = True
        self._pause(ev.FINISHED, ORDER[-1])

    def _on_Step(self, _c: cmds.Step) -> None:  # noqa: N802
        self._run(steps=1)

    _on_StepOver = _on_Step  # noqa: N815 - a flat chain: over is into
    _on_StepOut = _on_Step  # noqa: N815

    def _on_Continue(self, _c: cmds.Continue) -> None:  # noqa: N802
        if self.finished:
            self.emit(ev.Message("info", "The run is over: restart to run again."))
            self._pause(ev.FINISHED, ORDER[-1])
            return
        self._run()

    def _on_RunTo(self, command: cmds.RunTo) -> None:  # noqa: N802
        self._run(until=command.node_id)

    def _on_Restart(self, command: cmds.Restart) -> None:  # noqa: N802
        self.position, self.finished = 0, False
        if command.inputs is not None:
            self.values["x"] = np.asarray(command.inputs[0])
        self.emit(ev.Restarted(command.inputs is not None))
        self._pause(ev.READY, None)

    def _on_SetBreakpoints(self, command: cmds.SetBreakpoints) -> None:  # noqa: N802
        self.breakpoints.set_items(command.items)
        self.emit(ev.BreakpointsChanged(self.breakpoints.to_items()))

    def _on_SetValue(self, command: cmds.SetValue) -> None:  # noqa: N802
        self.overrides[command.node_id] = command.array
        self.emit(
            ev.NodeStepped(command.node_id, self.position, (), (summarize(command.array),), True)
        )
        self._pause(ev.STEP, command.node_id)

    def _on_FetchValue(self, command: cmds.FetchValue) -> None:  # noqa: N802
        source = self.grads if command.gradient else self.values
        ran = command.node_id in ORDER[: self.position]
        array = source.get(command.node_id) if ran else None
        if not command.gradient and command.node_id in self.overrides:
            array = self.overrides[command.node_id]
        self.emit(ev.ValueReady(command.node_id, command.index, array, gradient=command.gradient))

    def _on_FetchInputs(self, _c: cmds.FetchInputs) -> None:  # noqa: N802
        x = self.values["x"]
        self.emit(ev.InputsReady((x,), (summarize(x),)))

    def _on_Backward(self, _c: cmds.Backward) -> None:  # noqa: N802
        nodes = {n: (summarize(g),) for n, g in self.grads.items()}
        self.emit(ev.GradientsReady(3.0, "sum of the first output", nodes, {}))
