"""Teaching panels attached to a MainWindow: the Explain panel and a tf.function's traces.

`attach_explain(window)` docks the Explain panel next to Node and feeds it from what
the window and the debugger report: a model loaded (capture failures, static or
dynamic graph), the engine paused (a While run as one step, a loop iteration, the
first NaN), a retrace. Retracing and capturing another trace are engine commands
(`Retrace`, `SwitchTrace`, sent through the window's loader); the new graph comes
back as a load of that origin and is shown through the window's own path.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

from gui.debugging.loader import LoadResult
from gui.panels.explain_panel import ExplainPanel
from inspectors import events as ev
from inspectors import explain
from inspectors.graph import Graph


class ExplainController(QObject):
    """Turns window and engine signals into Explain entries; asks the engine to retrace."""

    trace_shown = Signal(object)  # LoadResult of a retrace or a switch, once it is shown
    trace_failed = Signal(str)

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.panel = ExplainPanel()
        self.dock = window.add_panel("Explain", self.panel, Qt.DockWidgetArea.RightDockWidgetArea)
        window.node_dock.raise_()  # add_panel tabified it with the Node panel
        self.engine: Any = None
        self.run = window.run_model  # the run's summaries, as the engine's events told them
        self._busy = False
        window.loader.retrace_failed.connect(self._on_job_failed)
        window.model_loaded.connect(self._on_model_loaded)
        window.debugger.session_started.connect(self._on_session_started)
        self.panel.functions.trace_selected.connect(self.show_trace)
        self.panel.functions.retrace_requested.connect(self.retrace_with_batch)

    # ------------------------------------------------------------------ model

    def _graph(self) -> Graph | None:
        live = getattr(self.window.debugger, "live_graph", None)
        if live is not None:
            return live
        return self.window.result.graph if self.window.result is not None else None

    @property
    def summaries(self) -> dict[str, tuple[Any, ...]]:
        return self.run.summaries

    def _on_model_loaded(self, result: LoadResult) -> None:
        switched = result.origin in ("retrace", "switch")
        note = (result.origin, result.detail) if switched else None
        self._busy = False
        if not switched:
            self.panel.new_model()
            for item in explain.on_load(result.graph, result.capture, result.failures):
                self.panel.add(item, f"loaded {result.name}")
            if result.failures:
                self.dock.raise_()
            self._suggest_batch(result.graph)
        elif note is not None:
            kind, detail = note
            signatures = list(result.graph.meta.get("traces", []))
            signature = str(result.graph.meta.get("signature", ""))
            if kind == "retrace":
                item = explain.retraced(signatures, signature, result.name)
            else:
                item = explain.switched_trace(signature, int(detail), len(signatures))
            self.panel.add(item, result.name)
            self.dock.raise_()
        self._update_functions(result)
        if switched:
            self.trace_shown.emit(result)

    def _update_functions(self, result: LoadResult) -> None:
        box = self.panel.functions
        traces = list(result.graph.meta.get("traces", []))
        is_tf = result.framework == "tensorflow" and bool(traces)
        box.setVisible(is_tf)
        if not is_tf:
            return
        signature = result.graph.meta.get("signature")
        box.set_traces(traces, traces.index(signature) if signature in traces else 0)
        box.set_busy(False, "")

    def _suggest_batch(self, graph: Graph) -> None:
        """Offer twice the current leading dimension as the new batch size."""
        shapes = [s for s in _input_shapes(graph) if s]
        lead = shapes[0][0] if shapes and shapes[0][0] else 1
        self.panel.functions.batch.setValue(int(lead) * 2)

    # ----------------------------------------------------------------- engine

    def _on_session_started(self, engine: Any) -> None:
        if self.engine is None:  # the window's engine: connected once
            engine.paused.connect(self._on_paused)
        self.engine = engine

    def _on_paused(self, pause: ev.Paused) -> None:
        node = pause.node_id
        graph = self._graph()
        if node is None or graph is None:
            return
        summaries = self.summaries.get(node, ())
        if pause.reason in (ev.BREAKPOINT, ev.EXCEPTION, ev.STEP) and any(
            getattr(s, "nan", 0) for s in summaries
        ):
            first = explain.first_nan(graph, node, summaries)
            if pause.reason != ev.STEP or not self._seen_nan_before(node):
                self.panel.add(first, "paused")
                return
        if pause.reason != ev.STEP:
            return
        item = explain.step_over(graph, node, summaries) if node in graph else None
        if item is None:
            item = explain.iteration(node)
        if item is not None:
            self.panel.add(item, "paused")

    def _seen_nan_before(self, node: str) -> bool:
        """While stepping, only the first node with NaN gets the NaN text."""
        for other, summaries in self.summaries.items():
            if other == node:
                return False
            if any(getattr(s, "nan", 0) for s in summaries):
                return True
        return False

    # ------------------------------------------------------------- retracing

    def show_trace(self, index: int) -> None:
        """Show concrete function `index` of the current model (captured off the GUI)."""
        self._start("switch", index)

    def retrace_with_batch(self, batch: int) -> None:
        """Call the model's tf.function with inputs of batch size `batch` (may retrace)."""
        self._start("retrace", batch)

    def _start(self, kind: str, value: int) -> None:
        """Ask the engine for another trace; it arrives as a load of origin `kind`."""
        loader = self.window.loader
        if self.window.result is None or self._busy or loader.is_busy():
            return
        self._busy = True
        text = "Tracing…" if kind == "retrace" else "Capturing that concrete function…"
        self.panel.functions.set_busy(True, text)
        if kind == "retrace":
            loader.retrace(value)
        else:
            loader.switch_trace(value)

    def _on_job_failed(self, message: str, details: str) -> None:
        self._busy = False
        self.panel.functions.set_busy(False, message.splitlines()[0] if message else "")
        self.window.log_panel.error(message, details)
        self.panel.add(
            explain.Explanation("TensorFlow could not trace these inputs", message, details)
        )
        self.trace_failed.emit(message)


def _input_shapes(graph: Graph) -> list[tuple[Any, ...]]:
    shapes = []
    for node_id in graph.order:
        attrs = graph.node(node_id)
        if attrs.get("kind") == "input" and attrs.get("outputs"):
            shapes.append(tuple(attrs["outputs"][0][0]))
    return shapes


def attach_explain(window: Any) -> ExplainController:
    """Dock the Explain panel on `window` and keep it fed; the controller is `window.explain`."""
    controller = ExplainController(window)
    window.explain = controller
    return controller
