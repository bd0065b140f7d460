"""Teaching panels attached to a MainWindow: the Explain panel and a tf.function's traces.

`attach_explain(window)` docks the Explain panel next to Node and feeds it from what
the window and the debugger report: a model loaded (capture failures, static or
dynamic graph), the engine paused (a While run as one step, a loop iteration, the
first NaN), a retrace. Retracing and capturing another trace call TensorFlow, so they
run on a worker thread and come back through a queued signal; the new graph is then
shown through the window's own path for a loaded model.
"""

from __future__ import annotations

import contextlib
import threading
import traceback
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

from inspectors import events as ev
from inspectors import explain
from inspectors.graph import Graph

from .loader import LoadResult
from .panels.explain_panel import ExplainPanel


class ExplainController(QObject):
    """Turns window and engine signals into Explain entries; runs retraces off the GUI."""

    trace_shown = Signal(object)  # LoadResult of a retrace or a switch, once it is shown
    trace_failed = Signal(str)

    # Emitted on the worker thread; queued to the GUI thread.
    _job_done = Signal(int, object, object)  # job, Captured, (kind, detail)
    _job_failed = Signal(int, str, str)

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.panel = ExplainPanel()
        self.dock = window.add_panel("Explain", self.panel, Qt.DockWidgetArea.RightDockWidgetArea)
        window.node_dock.raise_()  # add_panel tabified it with the Node panel
        self.engine: Any = None
        self.summaries: dict[str, tuple[Any, ...]] = {}
        self._job = 0
        self._busy = False
        self._expected: Any = None  # the Captured whose load is a trace switch, not a new model
        self._expected_note: tuple[str, Any] | None = None
        queued = Qt.ConnectionType.QueuedConnection
        self._job_done.connect(self._on_job_done, queued)
        self._job_failed.connect(self._on_job_failed, queued)
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

    def _on_model_loaded(self, result: LoadResult) -> None:
        self.summaries.clear()
        captured = result.captured
        switched = captured is not None and captured is self._expected
        note = self._expected_note if switched else None
        self._expected, self._expected_note = None, None
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
        self.engine = engine
        self.summaries.clear()
        engine.nodes_stepped.connect(self._on_nodes_stepped)
        engine.paused.connect(self._on_paused)
        engine.restarted.connect(lambda _r: self.summaries.clear())

    def _on_nodes_stepped(self, stepped: list[ev.NodeStepped]) -> None:
        for step in stepped:
            self.summaries[step.node_id] = step.summaries

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
        captured = self.window.captured
        if captured is None or self._busy:
            return
        self._job += 1
        job = self._job
        self._busy = True
        text = "Tracing…" if kind == "retrace" else "Capturing that concrete function…"
        self.panel.functions.set_busy(True, text)
        thread = threading.Thread(
            target=self._work,
            args=(job, captured, kind, value),
            name=f"graphstep-retrace-{job}",
            daemon=True,
        )
        thread.start()

    def _work(self, job: int, captured: Any, kind: str, value: int) -> None:
        """Worker thread: all TensorFlow calls happen here."""
        from inspectors import retrace

        try:
            if kind == "retrace":
                inputs = retrace.inputs_with_batch(captured, value)
                new = retrace.capture_trace(captured, inputs)
            else:
                new = retrace.capture_trace(captured, value)
        except Exception as exc:
            with contextlib.suppress(RuntimeError):
                self._job_failed.emit(job, str(exc), traceback.format_exc())
            return
        with contextlib.suppress(RuntimeError):
            self._job_done.emit(job, new, (kind, value))

    def _on_job_done(self, job: int, captured: Any, note: tuple[str, Any]) -> None:
        if job != self._job:
            return
        self._busy = False
        old = self.window.result
        target = captured.target
        kind, value = note
        if kind == "switch":
            note = ("switch", captured.extra.get("trace_index", value))
        result = LoadResult(
            spec=old.spec if old is not None else target.spec,
            name=target.name,
            framework=target.framework,
            capture=captured.strategy,
            graph=captured.graph,
            captured=captured,
            description=target.description,
            source_path=target.source_path,
        )
        self._expected, self._expected_note = captured, note
        show = getattr(self.window, "show_captured", None) or self.window._on_loaded
        show(result)

    def _on_job_failed(self, job: int, message: str, details: str) -> None:
        if job != self._job:
            return
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
