"""The debugger half of the window: run controls, node states on the graph, and the
Tensor, Breakpoints, Watch and Inputs panels, all driven by the window's engine.

The controller sends commands to the engine (`Engine.send`) and reads the run from the
window's `RunModel`, which the engine's events keep; it never holds a Session or a
model, and never runs model code: values and gradients come as `ValueReady` answers,
the breakpoint list goes whole with `SetBreakpoints`.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QInputDialog, QLabel

from gui.debugging.engine import Engine, default_client
from gui.debugging.run_model import RunReader
from gui.graph.live_graph import add_recorded_nodes, empty_live_graph
from gui.graph.overlays import RUN_OVERLAY_LABELS
from gui.panels.breakpoints_panel import BreakpointsPanel
from gui.panels.inputs_panel import InputsPanel
from gui.panels.tensor_panel import TensorPanel
from gui.panels.tensor_summary import format_bytes
from gui.panels.watch_panel import WatchPanel
from gui.shell.widgets import make_action, text_toolbar
from inspectors import commands as cmds
from inspectors import events as ev
from inspectors.breakpoints import Breakpoints
from inspectors.graph import Graph, split_node_path
from inspectors.run_command import at_node
from inspectors.tensors import TensorSummary

BACKWARD_TIP = "Backward pass: gradient of the loss at every node and parameter"
LIVE_TIP = "Run the real model to this node and compare its value with the recording"


def model_at_hand(spec: str) -> bool:
    """Whether a recorded run's model spec names a model file (or sample) found here."""
    from inspectors.target import list_samples  # parses the files; imports no framework

    if not spec or spec.startswith("<"):  # a model given as an object: `<Net>`
        return False
    path = spec.rsplit(":", 1)[0] if ":" in spec[2:] else spec
    return Path(path).exists() or spec in {s.name for s in list_samples()}


def value_difference(recorded: tuple[Any, ...], live: tuple[Any, ...]) -> str:
    """How a live node's summaries differ from the recorded ones ("" when they agree:
    the same shapes, dtypes and health counts, min, max and mean equal to float32's
    precision)."""
    if len(recorded) != len(live):
        return f"{len(live)} outputs, the recording has {len(recorded)}"
    for index, (a, b) in enumerate(zip(recorded, live, strict=True)):
        where = f"output {index}: " if len(live) > 1 else ""
        if (a.shape, a.dtype) != (b.shape, b.dtype):
            return f"{where}{b.dtype}{list(b.shape)}, recorded {a.dtype}{list(a.shape)}"
        for field in ("nan", "pos_inf", "neg_inf"):
            if getattr(a, field) != getattr(b, field):
                return f"{where}{getattr(b, field)} {field}, recorded {getattr(a, field)}"
        for field in ("min", "max", "mean"):
            x, y = getattr(a, field), getattr(b, field)
            if not (math.isnan(x) and math.isnan(y)) and not math.isclose(
                x, y, rel_tol=1e-6, abs_tol=1e-12
            ):
                return f"{where}{field} {y:g}, recorded {x:g}"
    return ""


NO_GRADIENTS_YET = "Gradients need a finished run: continue to the end (F5) first."

#: Ops whose bodies are alternatives: finishing one does not run every body.
BRANCH_OPS = {"If", "StatelessIf", "Case", "StatelessCase"}

#: While a model runs, the graph's node states refresh at most this often.
VIEW_REFRESH_S = 0.2
#: A Pause not answered within this many seconds offers to end the engine.
PAUSE_ANSWER_S = 2.0
#: A Stop not answered within this many seconds (one long call) ends the engine.
STOP_ANSWER_S = 1.5

PAUSE_WORDS = {
    ev.READY: "ready",
    ev.STEP: "paused",
    ev.BREAKPOINT: "breakpoint",
    ev.EXCEPTION: "exception",
    ev.FINISHED: "finished",
    ev.PAUSED_BY_USER: "paused by you",
    ev.GRADIENT: "gradient",
}


def human_bytes(n: int) -> str:
    """Bytes in binary units, as the Tensor panel writes them (KiB, MiB, GiB)."""
    return format_bytes(n)


def gradient_norm(summary: TensorSummary | None) -> float:
    """The L2 norm from a summary: sqrt(size * (std^2 + mean^2)), without squaring
    (tiny gradients must not read 0, huge ones must not overflow)."""
    if summary is None or not summary.is_tensor or not summary.size:
        return math.nan
    return math.sqrt(summary.size) * math.hypot(summary.std, summary.mean)


class DebugController(RunReader, QObject):
    """Connects a MainWindow's graph view to a Session running on its engine thread."""

    session_started = Signal(object)  # the Engine, once a session runs on a new model

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.view = window.view
        self.run = window.run_model  # the run, as the engine's events told it
        self._engine: Engine = window.engine
        self.engine: Engine | None = None  # the engine while a session runs, else None
        self.spec = ""
        self.live_graph: Graph | None = None  # eager: the graph grown from NodeAdded events
        self._template: Graph | None = None  # eager: the laid-out graph the run reveals
        self.breakpoints = Breakpoints()  # the panel's list; sent whole to the engine
        self._unanswered = False  # a Pause the model has not answered in time
        self._stop_asked = 0  # Stops sent while running; a timer checks the last one
        self._dead = False  # the engine's process ended on its own
        # "re-run live from here": the node to reach and its recorded summaries
        self._live_to: tuple[str, tuple[TensorSummary, ...]] | None = None
        self._last_view_refresh = 0.0
        self._view_dirty = False
        self._graph_dirty = False
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setInterval(int(VIEW_REFRESH_S * 1000))
        self._refresh_timer.timeout.connect(self._refresh_if_dirty)
        self._refresh_timer.start()

        self.tensor_panel = TensorPanel()
        self.breakpoints_panel = BreakpointsPanel()
        self.breakpoints_panel.title = self.title
        self.watch_panel = WatchPanel()
        self.inputs_panel = InputsPanel()
        right = Qt.DockWidgetArea.RightDockWidgetArea
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.tensor_dock = window.add_panel("Tensor", self.tensor_panel, right)
        self.breakpoints_dock = window.add_panel("Breakpoints", self.breakpoints_panel, bottom)
        self.watch_dock = window.add_panel("Watch", self.watch_panel, bottom)
        self.inputs_dock = window.add_panel("Inputs", self.inputs_panel, bottom)
        window.log_dock.raise_()  # add_panel tabified them with the Log

        self._build_actions()
        self._build_toolbar()
        self.position_label = QLabel()
        self.position_label.setObjectName("debugPosition")
        window.statusBar().addPermanentWidget(self.position_label)

        engine = self._engine
        engine.subscribe(self)  # each signal `x` to `self._on_x`
        window.model_loaded.connect(self._on_model_loaded)
        engine.send(cmds.SetBudget(window.settings.value_budget()))
        engine.send(cmds.SetStepPlumbing(window.settings.step_plumbing()))
        window.closing.connect(self.shutdown)
        window.overlay_source = self.overlay_values
        self.view.node_selected.connect(self._on_node_selected)
        self.view.layout_finished.connect(self._on_layout_finished)
        self._auto_opened: str | None = None  # a body the run opened in the view
        self._select_after_layout: str | None = None
        self.tensor_panel.value_edited.connect(self._on_value_edited)
        self.tensor_panel.fetch_requested.connect(self._on_fetch_requested)
        self.breakpoints_panel.changed.connect(self._on_panel_breakpoints)
        self.breakpoints_panel.node_activated.connect(window.select_node)
        self.watch_panel.node_activated.connect(window.select_node)
        self.watch_panel.changed.connect(self._save_model_state)
        self.inputs_panel.restart_requested.connect(self.restart_with_inputs)
        self._update_actions()

    # ------------------------------------------------------------------ controls

    def _build_actions(self) -> None:
        def act(text: str, slot: Any, keys: str | None, tip: str) -> QAction:
            return make_action(self.window, text, slot, keys, tip, keys_in_tip=True)

        self.act_continue = act(
            "Continue", self._sends(cmds.Continue()), "F5", "Run to the next breakpoint or the end"
        )
        self.act_pause = act(
            "Pause",
            self.pause,
            "F6",
            "Pause the running model after the current node",
        )
        self.act_step_over = act(
            "Step over",
            self._sends(cmds.StepOver()),
            "F10",
            "Run the next node at this level; a module, loop or call met there runs whole",
        )
        self.act_step_into = act(
            "Step into",
            self._sends(cmds.Step()),
            "F11",
            "Run exactly one node, into modules, loop bodies and calls",
        )
        self.act_step_out = act(
            "Step out",
            self._sends(cmds.StepOut()),
            "Shift+F11",
            "Finish the enclosing module, loop or call: pause on its last node",
        )
        self.act_step_back = act(
            "Step back",
            self._sends(cmds.StepBack()),
            "Ctrl+Shift+F11",
            "Back one node in time: the model runs again to the node before (a recording "
            "rewinds); values are as they were there",
        )
        self.act_step_plumbing = QAction("Step into plumbing", self.window)
        self.act_step_plumbing.setCheckable(True)
        self.act_step_plumbing.setChecked(self.window.settings.step_plumbing())
        self.act_step_plumbing.setStatusTip(
            "Also pause on nodes that only move a value: parameters, constants, Identity, "
            "ReadVariableOp, a loop's counter and test"
        )
        self.act_step_plumbing.toggled.connect(self.set_step_plumbing)
        self.act_run_to = act(
            "Run to selected",
            self.run_to_selected,
            "Ctrl+F10",
            "Run until the selected node has run",
        )
        self.act_restart = act(
            "Restart",
            self.restart,
            "Ctrl+Shift+F5",
            "Start the run again and continue to the first breakpoint",
        )
        self.act_stop = act(
            "Stop", self.stop, "Shift+F5", "End the run: back to before the first node"
        )
        self.act_live = act(
            "Re-run live from here",
            self.rerun_live,
            "Ctrl+Shift+L",
            LIVE_TIP,
        )
        self.act_breakpoint = act(
            "Toggle breakpoint", self.toggle_breakpoint, "F9", "Break after the selected node runs"
        )
        self.act_break_nan = act(
            "Stop at first NaN",
            self.toggle_nan_breakpoint,
            "Ctrl+F9",
            "Break on the first node whose output has a NaN (the Breakpoints panel's switch)",
        )
        self.act_break_nan.setCheckable(True)
        self.act_backward = act("Gradients", self._sends(cmds.Backward()), "Ctrl+G", BACKWARD_TIP)
        # The action's shortcut is off while it is disabled; this one then says why.
        self._backward_refused = QShortcut(QKeySequence("Ctrl+G"), self.window)
        self._backward_refused.setContext(Qt.ShortcutContext.WindowShortcut)
        self._backward_refused.activated.connect(self._refuse_backward)
        self.act_grad_step = act(
            "Step back (gradients)",
            self._sends(cmds.GradStep()),
            "Shift+F10",
            "Walk the gradients backwards, node by node",
        )
        self.act_watch = act(
            "Watch selected",
            self.watch_selected,
            "Ctrl+W",
            "Pin the selected node in the Watch panel",
        )

        menu = self.window.menuBar().addMenu("&Debug")
        for a in (
            self.act_continue,
            self.act_pause,
            self.act_step_over,
            self.act_step_into,
            self.act_step_out,
            self.act_step_back,
            self.act_run_to,
        ):
            menu.addAction(a)
        menu.addAction(self.act_step_plumbing)
        menu.addSeparator()
        for a in (self.act_restart, self.act_stop, self.act_live):
            menu.addAction(a)
        menu.addSeparator()
        for a in (self.act_breakpoint, self.act_break_nan, self.act_watch):
            menu.addAction(a)
        menu.addSeparator()
        menu.addAction(self.act_backward)
        menu.addAction(self.act_grad_step)
        menu.addSeparator()
        self.act_budget = QAction("Memory for values…", self.window)
        self.act_budget.setStatusTip(
            "How much memory full values may use; past it the oldest are dropped (summaries stay)"
        )
        self.act_budget.triggered.connect(self.ask_value_budget)
        menu.addAction(self.act_budget)
        self.menu = menu
        # Keep Help last in the menu bar.
        help_menu = self.window.menus.get("help")
        if help_menu is not None:
            self.window.menuBar().removeAction(help_menu.menuAction())
            self.window.menuBar().addAction(help_menu.menuAction())

    def _build_toolbar(self) -> None:
        buttons = (
            (self.act_continue, "▶ Continue"),
            (self.act_pause, "‖ Pause"),
            (self.act_step_over, "↷ Over"),
            (self.act_step_into, "↓ Into"),
            (self.act_step_out, "↑ Out"),
            (self.act_step_back, "← Back"),
            (self.act_restart, "⟲ Restart"),
            (self.act_stop, "■ Stop"),
            (self.act_break_nan, "NaN stop"),
            (self.act_backward, "∇ Gradients"),
            (self.act_grad_step, "∇ Back"),
        )
        bar = text_toolbar("Debug", "debugToolBar", buttons)
        bar.addActions([a for a, _text in buttons])
        self.window.addToolBarBreak(Qt.ToolBarArea.TopToolBarArea)
        self.window.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        self.toolbar = bar

    def _on_running_changed(self, _running: bool) -> None:
        self._update_actions()

    def _update_actions(self) -> None:
        has = self.engine is not None
        running = has and self.engine.running  # type: ignore[union-attr]
        over = self.last_pause is not None and self.last_pause.reason in (
            ev.FINISHED,
            ev.EXCEPTION,
            ev.GRADIENT,
        )
        for a in (
            self.act_continue,
            self.act_step_over,
            self.act_step_into,
            self.act_step_out,
            self.act_run_to,
        ):
            a.setEnabled(has and not running and not over)
        pause = self.last_pause
        self.act_step_back.setEnabled(has and not running and bool(pause and pause.position))
        self.act_pause.setEnabled(running)
        self.act_restart.setEnabled(has or self._dead)
        why_not_live = self.why_not_live()
        self.act_live.setEnabled(not why_not_live)
        self.act_live.setToolTip(
            f"{LIVE_TIP} (Ctrl+Shift+L)" if not why_not_live else f"Disabled: {why_not_live}"
        )
        for a in (
            self.act_stop,
            self.act_breakpoint,
            self.act_break_nan,
            self.act_watch,
        ):
            a.setEnabled(has)
        finished = self.last_pause is not None and self.last_pause.reason in (
            ev.FINISHED,
            ev.GRADIENT,
        )
        can_backward = has and not running and finished
        self.act_backward.setEnabled(can_backward)
        self.act_backward.setToolTip(
            f"{BACKWARD_TIP} (Ctrl+G)" if can_backward else f"Disabled: {self.why_no_gradients()}"
        )
        self._backward_refused.setEnabled(not can_backward)
        self.act_grad_step.setEnabled(has and not running and bool(self.grad_summaries))

    # ------------------------------------------------------------------ commands

    def _sends(self, command: cmds.Command) -> Any:
        """The slot of an action that sends `command`."""
        return lambda: self.send(command)

    def send(self, command: cmds.Command) -> None:
        """Send a command to the engine (nothing while no session runs)."""
        if self.engine is None:
            return
        if self.eager and self.live_graph is None and isinstance(command, cmds.RUN_COMMANDS):
            self._start_live_graph()
        self.engine.send(command)
        self._update_actions()

    def set_step_plumbing(self, show: bool) -> None:
        """Kept in the settings; sent to the engine now and to every engine started later."""
        self.window.settings.set_step_plumbing(show)
        self._engine.send(cmds.SetStepPlumbing(show))  # the engine keeps it for every session

    def run_to_selected(self) -> None:
        node = self.view.selected()
        if not node:
            self.window.statusBar().showMessage("Select a node to run to", 4000)
        elif node in self.marks.executed and not (self.engine and self.engine.running):
            self.window.statusBar().showMessage(
                f"{self.title(node)} has already run: restart (Shift+F5) to run to it again", 6000
            )
        else:
            self.send(cmds.RunTo(node))

    def restart(self) -> None:
        """Restart and continue to the first breakpoint (or the end). After the engine
        died, open the model in a new engine instead (paused before the first node)."""
        if self._dead:
            if self._attached():
                text = (
                    "The engine this window attached to has ended: start it again where it "
                    "ran (graphstep serve, graphstep.debug), then attach."
                )
                self.window.log_panel.info(text)
                self.window.statusBar().showMessage(text, 10000)
                return
            self.window.reload()
            return
        self.send(cmds.Restart())
        self.send(cmds.Continue())

    def why_not_live(self) -> str:
        """Why "Re-run live from here" cannot run now ("" when it can)."""
        if not self._replaying():
            return "the window shows a live run, not a recording"
        if self.engine is None or self.engine.running:
            return "the recording is playing"
        if self.last_pause is None or not self.last_pause.node_id:
            return "step the recording to a node first"
        if not model_at_hand(self.spec):
            return f"the recorded model ({self.spec}) is not a file or sample at hand"
        return ""

    def rerun_live(self) -> None:
        """Open the recorded model for real (in an engine process) and run it to the
        node the recording is paused at; the Log then says whether the live value there
        matches the recorded one."""
        why = self.why_not_live()
        if why:
            self.window.statusBar().showMessage(f"Cannot re-run live: {why}", 6000)
            return
        node = self.last_pause.node_id  # type: ignore[union-attr]
        self._live_to = (node, self.summaries.get(node, ()))
        capture = self.window.result.capture if self.window.result is not None else None
        spec = self.spec
        self.window.log_panel.info(f"Re-running {spec} live, to {self.title(node)}")
        self._engine.replace_client(default_client())
        self.engine = None
        self._update_actions()
        self.window.open_model(spec, capture)

    def _arrive_live(self, pause: ev.Paused) -> None:
        """The live run asked for by `rerun_live` paused: say whether it is where the
        recording was, with the recorded value."""
        node, recorded = self._live_to  # type: ignore[misc]
        self._live_to = None
        if pause.node_id != node:
            self.window.log_panel.warning(
                f"The live run paused at {self.title(pause.node_id or '')} "
                f"({pause.reason}) before reaching {self.title(node)}"
            )
            return
        differs = value_difference(recorded, self.summaries.get(node, ()))
        if differs:
            self.window.log_panel.warning(
                f"Live at {self.title(node)}, but its value differs from the recording: "
                f"{differs} (other inputs or weights than the recorded run's?)"
            )
        else:
            self.window.log_panel.info(
                f"Live at {self.title(node)}: its value matches the recording"
            )

    def replaying(self) -> bool:
        """Whether this window shows a recorded run (`graphstep open FILE.gsrec`)."""
        return self._replaying()

    def _replaying(self) -> bool:
        """Whether this window shows a recorded run (`graphstep open FILE.gsrec`)."""
        from inspectors.recording import ReplayEngine

        return isinstance(self._engine.client, ReplayEngine)

    def _attached(self) -> bool:
        """Whether this window shows an engine it did not start (`graphstep attach`)."""
        from inspectors.remote import RemoteClient

        return isinstance(self._engine.client, RemoteClient)

    def restart_with_inputs(self, arrays: Any) -> None:
        self.send(cmds.Restart(tuple(arrays)))
        self.window.log_panel.info("Restarted with new inputs")

    def stop(self) -> None:
        """End the run: back to before the first node (values and states cleared). A model
        that did not answer Pause, or does not answer this Stop within `STOP_ANSWER_S`
        (it is inside one long call), has its engine ended instead."""
        if self._unanswered and self.engine is not None and self.engine.running:
            self._end_engine()
            return
        running = self.engine is not None and self.engine.running
        self.send(cmds.Restart())
        if running:
            self._stop_asked += 1
            asked = self._stop_asked
            QTimer.singleShot(int(STOP_ANSWER_S * 1000), lambda: self._check_stop_answered(asked))

    def _check_stop_answered(self, asked: int) -> None:
        if asked != self._stop_asked or self.engine is None or not self.engine.running:
            return  # answered, or a later Stop / another model since
        self.window.log_panel.info(
            f"The model did not stop within {STOP_ANSWER_S:.1f} s (it is inside one long call)"
        )
        self._end_engine()

    def _end_engine(self) -> None:
        if self.engine is None:
            return
        self.window.log_panel.info("Ending the engine of a model that does not answer")
        self.engine.send(cmds.EndEngine())

    def pause(self) -> None:
        """Pause after the current node; a model that does not pause within
        `PAUSE_ANSWER_S` (one long call) is offered Stop, which ends its engine."""
        self.send(cmds.Pause())
        QTimer.singleShot(int(PAUSE_ANSWER_S * 1000), self._check_pause_answered)

    def _check_pause_answered(self) -> None:
        if self.engine is None or not self.engine.running or self._unanswered:
            return
        self._unanswered = True
        text = (
            f"The model has not paused within {PAUSE_ANSWER_S:.0f} s (it is inside one long "
            "call): Stop (Shift+F5) ends its engine."
        )
        self.window.log_panel.warning(text)
        self.window.statusBar().showMessage(text, 15000)
        self.act_stop.setText("End engine")
        self.act_stop.setIconText("■ End engine")

    def _on_engine_died(self, died: ev.EngineDied) -> None:
        """The engine's process ended: the window stays, the graph keeps its last state.
        (Ended while loading, there is no session: the loader's failure says so.)"""
        had_session = self.engine is not None
        counted = ""
        if had_session:
            self._update_status()  # "node k of n" as the run left it
            counted = self.position_label.text().split(" · ")[0]
        self.engine = None
        self._unanswered = False
        self.act_stop.setText("Stop")
        self.act_stop.setIconText("■ Stop")
        if not had_session:
            self._update_actions()
            return
        self._dead = True
        if died.last_node:
            self._show_ran_up_to(died.last_node)
        where = f" after {self.title(died.last_node)}" if died.last_node else ""
        if died.in_one_call:
            where = " while TensorFlow ran the whole graph as one call"
        self.position_label.setText(f"{counted} · engine ended{where}".lstrip(" ·"))
        asked = died.how == "ended by you"
        say = self.window.log_panel.info if asked else self.window.log_panel.error
        then = (
            "start it again where it ran (graphstep serve, graphstep.debug), then attach."
            if self._attached()
            else "Restart (Ctrl+Shift+F5) opens the model in a new engine, paused before "
            "the first node."
        )
        if died.in_one_call:
            then += " It runs op by op from now on, so a crash stops on the op that causes it."
        say(f"The engine process ended: {died.how}{where}. The graph keeps its last state; {then}")
        if died.in_breakpoint:
            self._disable_expressions(died.last_node)
        self.window.log_dock.show()
        self.window.log_dock.raise_()
        self.window.statusBar().showMessage(f"The engine process ended: {died.how}{where}", 15000)
        self._update_actions()

    def _show_ran_up_to(self, last: str) -> None:
        """After the engine died: the nodes up to `last` (the last it finished, in the
        graph's order) as run, so the graph shows where the model was."""
        graph = self._template if self._template is not None else self.view.graph()
        if graph is None or last not in graph:
            return
        order = list(graph.nodes)
        ran = order[: order.index(last) + 1]
        for node in ran:
            self.marks.executed.setdefault(node, None)
        self.marks.current = last
        if self._template is not None:
            live = set(self.live_graph.nodes) if self.live_graph is not None else set()
            self.view.set_shown(live | set(ran))
        self._refresh_view(force=True)

    def _disable_expressions(self, node: str | None) -> None:
        """A breakpoint expression never finished (the engine was ended while it ran):
        disable the expressions, so a restart does not hang on them again."""
        off = [bp for bp in self.breakpoints if bp.enabled and bp.condition == "expression"]
        for bp in off:
            bp.enabled = False
        if not off:
            return
        self.breakpoints_panel.set_breakpoints(self.breakpoints)
        self._save_model_state(force=True)
        where = f" after {self.title(node)}" if node else ""
        names = "; ".join(bp.describe(self.title) for bp in off)
        self.window.log_panel.warning(
            f"A breakpoint expression did not finish{where}: disabled {names} (enable it "
            "again in the Breakpoints panel)."
        )

    def _on_receiving(self, part: ev.Receiving) -> None:
        """A large value crossing from an engine process: its progress, in the status bar."""
        if part.received >= part.total:
            self.window.statusBar().clearMessage()
            return
        percent = 100 * part.received // max(part.total, 1)
        self.window.statusBar().showMessage(
            f"Receiving a {'value' if part.what == 'ValueReady' else part.what} from the "
            f"engine: {human_bytes(part.received)} of {human_bytes(part.total)} ({percent}%)"
        )

    def why_no_gradients(self) -> str:
        """Why Gradients cannot run now."""
        if self.engine is None:
            return "Gradients need a model: open one first."
        if self.engine.running:
            return "Gradients need a finished run: wait for this one to end."
        return NO_GRADIENTS_YET

    def _refuse_backward(self) -> None:
        """Ctrl+G while Gradients is disabled: say why instead of doing nothing."""
        reason = self.why_no_gradients()
        self.window.statusBar().showMessage(reason, 6000)
        self.window.log_panel.info(reason)

    def toggle_breakpoint(self) -> None:
        node = self.view.selected()
        if not node:
            self.window.statusBar().showMessage("Select a node to put a breakpoint on", 4000)
            return
        self.breakpoints_panel.toggle_node(node)

    def toggle_nan_breakpoint(self) -> None:
        """Switch the "Stop at first NaN" breakpoint, the one the Breakpoints panel shows."""
        if self.engine is None:
            self._sync_nan_action()
            return
        switch = self.breakpoints_panel.stop_at_nan
        switch.setChecked(not switch.isChecked())  # adds or removes the breakpoint

    def _sync_nan_action(self) -> None:
        """The toolbar's NaN stop is checked exactly when the panel's switch is."""
        self.act_break_nan.blockSignals(True)
        self.act_break_nan.setChecked(self.breakpoints_panel.stop_at_nan.isChecked())
        self.act_break_nan.blockSignals(False)

    def ask_value_budget(self) -> None:
        """Ask for the memory budget of full values (MiB); kept in the settings."""
        settings = self.window.settings
        mib, ok = QInputDialog.getInt(
            self.window,
            "Memory for values",
            "Keep full values of node outputs up to (MiB):",
            settings.value_budget() >> 20,
            16,
            1 << 20,
            256,
        )
        if ok:
            self.set_value_budget(mib << 20)

    def set_value_budget(self, nbytes: int) -> None:
        self.window.settings.set_value_budget(nbytes)
        # from the next value on, and for every session the engine starts later
        self._engine.send(cmds.SetBudget(int(nbytes)))
        self.window.log_panel.info(f"Full values are kept up to {human_bytes(nbytes)}")

    def watch_selected(self) -> None:
        node = self.view.selected()
        if not node:
            self.window.statusBar().showMessage("Select a node to watch", 4000)
        else:
            graph = self.view.graph()
            label = (
                graph.node(node).get("label", node) if graph is not None and node in graph else node
            )
            self.watch_panel.add_watch(node, str(label))
            self.watch_panel.update_summary(node, (self.summaries.get(node) or (None,))[0])
            self.watch_dock.show()
            self.watch_dock.raise_()

    # --------------------------------------------------------------- model life

    # the run, as the window's RunModel keeps it (read-only here)

    @property
    def grad_summaries(self) -> dict[str, tuple[TensorSummary | None, ...]]:
        return self.run.grad_summaries

    @property
    def param_grads(self) -> dict[str, TensorSummary]:
        return self.run.param_grads

    @property
    def errors(self) -> dict[str, str]:
        return self.run.errors

    # --------------------------------------------------------------- model life

    def _on_model_loaded(self, _result: Any) -> None:
        """A new model: the engine ends the old session and starts one on it
        (`_on_session_started`); nothing of the old run stays visible meanwhile."""
        self._save_model_state()
        self.engine = None
        self.live_graph = None
        self._template = None
        self.tensor_panel.clear("Step the model to see values here.")
        self._update_actions()

    def _on_session_unavailable(self, unavailable: ev.SessionUnavailable) -> None:
        self.engine = None
        self.window.log_panel.error(unavailable.message, unavailable.details)
        self._update_actions()

    def _on_session_started(self, started: ev.SessionStarted) -> None:
        engine = self._engine
        self._dead = self._unanswered = False
        self.act_stop.setText("Stop")
        self.act_stop.setIconText("■ Stop")
        self.spec = started.spec
        self.tensor_panel.read_only = self._replaying()  # a recording's values stay as they were
        self.live_graph = None
        self._template = None
        self.engine = engine
        self._load_model_state()
        self.breakpoints_panel.set_breakpoints(self.breakpoints)
        engine.send(cmds.SetBreakpoints(self.breakpoints.to_items()))
        self._sync_nan_action()
        graph = self.window.result.graph if self.window.result is not None else None
        if graph is not None:
            self.breakpoints_panel.set_known_ops(
                sorted({str(graph.node(n).get("op")) for n in graph.nodes})
            )
            self.breakpoints_panel.set_known_scopes(
                sorted(s.path for s in graph.scope_tree().walk() if s.path)
            )
        self.view.set_breakpoints(self.breakpoints.on_nodes())
        self.tensor_panel.clear("Step the model to see values here.")
        engine.send(cmds.FetchInputs())  # the Inputs panel: read on the engine thread
        if self._live_to is not None and not self._replaying():
            self.send(cmds.RunTo(self._live_to[0]))  # "re-run live from here"
        self.session_started.emit(engine)
        self._update_actions()

    def shutdown(self) -> None:
        """The window is closing: keep the model's breakpoints and watches, end the engine."""
        self._save_model_state()
        self.engine = None
        self._engine.shutdown(timeout=5.0)
        self._update_actions()

    def _start_live_graph(self) -> None:
        """Eager mode: from the first run on, the view shows the graph as it grows.

        The graph of the last whole run (at first, the capture's) stays laid out, and
        the run reveals it node by node, each where it will stay: nothing drawn jumps.
        Only a run that takes another path (a node that graph lacks) is laid out anew
        as it grows."""
        base = self.window.result.graph if self.window.result is not None else None
        graph = empty_live_graph(base)
        self.live_graph = graph
        shown = self.view.graph()
        if shown is not None and shown.meta.get("capture") == "eager":
            self._template = shown
            self.view.set_shown(set())
        else:
            self._template = None
            self.view.set_graph(graph)

    # ------------------------------------------------------------------- events

    def _on_nodes_added(self, added: list[ev.NodeAdded]) -> None:
        if self.live_graph is None:
            self._start_live_graph()
        graph = self.live_graph
        assert graph is not None
        add_recorded_nodes(graph, added)
        template = self._template
        if template is not None and any(e.node_id not in template for e in added):
            # another path than the graph on screen: lay out what this run grows
            self._template = None
            self.view.set_graph(graph)
        self._graph_dirty = True

    def _on_nodes_stepped(self, stepped: list[ev.NodeStepped]) -> None:
        watched = set(self.watch_panel.watched())
        for event in stepped:
            if event.node_id in watched:
                self.watch_panel.update_summary(
                    event.node_id, event.summaries[0] if event.summaries else None
                )
        self._view_dirty = True
        shown = self.tensor_panel.property("node_id")
        if (
            shown
            and any(e.node_id == shown for e in stepped)
            and not (self.engine and self.engine.running)
        ):
            self._show_tensor(shown)

    def _on_paused(self, pause: ev.Paused) -> None:
        if self._live_to is not None and pause.reason != ev.READY and not self._replaying():
            self._arrive_live(pause)
        if pause.reason == ev.FINISHED:
            self.watch_panel.run_finished()
        self._refresh_view(force=True)
        node = pause.node_id
        if node:
            self._follow(node)
            self._show_tensor(node)
        self.breakpoints_panel.set_hit(
            pause.breakpoint_id if pause.reason == ev.BREAKPOINT else None
        )
        if pause.reason == ev.BREAKPOINT:
            self.window.log_panel.log(
                *self.breakpoints_panel.describe_hit(pause.breakpoint_id, node, pause.message)
            )
        if pause.reason == ev.GRADIENT:
            self.tensor_panel.set_mode("gradient")
        self._update_status()
        self._update_actions()
        if self.window.overlay_mode() in VALUE_OVERLAYS:
            self.window.set_overlay(self.window.overlay_mode())

    def _follow(self, node_id: str) -> None:
        """Keep the paused node in view: open a loop body / call the run has entered, and
        come back up when it leaves."""
        top, frame, inner = split_node_path(node_id)
        view = self.view
        if inner is not None and frame is not None and not frame.startswith("cond"):
            if top not in self._subgraph_parents():
                if view.graph() is not (self.window.result.graph if self.window.result else None):
                    return  # the user is looking at another body: leave the view alone
                if not view.open_subgraph(top):
                    return
                self._auto_opened = top
            self._select_when_laid_out(inner)
            return
        if self._auto_opened is not None and self._subgraph_parents():
            self._auto_opened = None
            view.go_up()
            self._select_when_laid_out(top)
            return
        graph = view.graph()
        if graph is not None and top in graph:
            self._select_and_reveal(top)

    def title(self, node_id: str) -> str:
        """How text names a node: `conv1 (op_0002)` where the label is the user's name."""
        graph = self.view.graph()
        for candidate in (
            graph,
            self.live_graph,
            self.window.result.graph if self.window.result else None,
        ):
            if candidate is not None and node_id in candidate:
                return candidate.title(node_id)
        return node_id

    def _select_and_reveal(self, node_id: str) -> None:
        """Select the paused node; the view moves only when it is not fully in view."""
        self.view.select(node_id, center=False)
        self.view.reveal_node(node_id)

    def _select_when_laid_out(self, node_id: str) -> None:
        if self.view.is_busy():
            self._select_after_layout = node_id
        elif self.view.graph() is not None and node_id in self.view.graph():
            self._select_and_reveal(node_id)

    def _on_layout_finished(self, _count: int) -> None:
        node, self._select_after_layout = self._select_after_layout, None
        if node and self.view.graph() is not None and node in self.view.graph():
            self._select_and_reveal(node)
        self._refresh_view(force=True)

    def _on_failed(self, failed: ev.Failed) -> None:
        message = at_node(failed.node_id, failed.message)
        if failed.node_id and self.title(failed.node_id) != failed.node_id:
            message = f"{self.title(failed.node_id)}: {message[len(failed.node_id) + 2 :]}"
        self.window.log_panel.error(f"Exception in the model at {message}", failed.traceback)
        self.window.log_dock.show()
        self.window.log_dock.raise_()
        self._view_dirty = True

    def _on_restarted(self, restarted: ev.Restarted) -> None:
        self.watch_panel.run_restarted()
        if self.eager:
            self._start_live_graph()
        self.tensor_panel.clear("Restarted: step the model to see values here.")
        if restarted.new_inputs and self.engine is not None:
            self.engine.send(cmds.FetchInputs())
        self._refresh_view(force=True)

    def _on_gradients_ready(self, ready: ev.GradientsReady) -> None:
        self.window.log_panel.info(
            f"Gradients of loss {ready.loss:.6g} ({ready.loss_source}) at {len(ready.nodes)} nodes and {len(ready.params)} parameters"
            + (f"; {len(ready.absent)} without a gradient" if ready.absent else "")
        )
        node = self.view.selected()
        if node:
            self._show_tensor(node)
        self._update_actions()
        if self.window.overlay_mode() == "gradnorm":
            self.window.set_overlay("gradnorm")

    def _on_message(self, message: ev.Message) -> None:
        self.window.log_panel.log(message.level, message.text)
        if message.level != "info" or "restart" in message.text:
            self.window.statusBar().showMessage(message.text, 6000)  # where the eyes are

    def _on_inputs_ready(self, ready: ev.InputsReady) -> None:
        if ready.message:
            self.window.log_panel.warning(ready.message)
        else:
            self.inputs_panel.set_inputs(ready.arrays, summaries=list(ready.summaries))

    def _on_value_ready(self, ready: ev.ValueReady) -> None:
        if ready.message and ready.message != "" and not ready.gradient:
            self.window.log_panel.info(f"{self.title(ready.node_id)}: {ready.message}")
        if self.tensor_panel.property("node_id") == ready.node_id:
            self._show_tensor(ready.node_id)

    # ------------------------------------------------------------------- views

    def _refresh_if_dirty(self) -> None:
        if self._view_dirty or self._graph_dirty:
            self._refresh_view()
        if self.engine is not None and self.engine.running:
            self._update_status()

    def _refresh_view(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last_view_refresh < VIEW_REFRESH_S:
            return
        self._last_view_refresh = now
        if self._graph_dirty and self.live_graph is not None:
            self._graph_dirty = False
            if self._template is not None:
                self.view.set_shown(set(self.live_graph.nodes))
            else:
                self.view.add_nodes_incremental(self.live_graph)
        self._view_dirty = False
        graph = self.view.graph()
        if graph is None:
            return
        parents = self._subgraph_parents()

        def shown(node_id: str) -> str:
            return self._shown_as(node_id, parents)

        ran = graph.nodes if self._body_ran_whole(parents) else ()
        states = self.marks.states(graph.nodes, shown, ran)
        self.view.set_node_states(states)

    def _body_ran_whole(self, parents: set[str]) -> bool:
        """Whether the body on screen belongs to a loop or call that has finished: a run
        that steps over it names none of its nodes, yet every one of them ran."""
        root = self.window.result.graph if self.window.result is not None else None
        if root is None:
            return False
        return any(
            p in self.marks.executed and root.node(p).get("op") not in BRANCH_OPS for p in parents
        )

    @staticmethod
    def _shown_as(node_id: str, parents: set[str]) -> str:
        """The id under which a run's node appears in the graph the view shows.

        Inside a loop body or a call the stepper names nodes `while/body[2]/op`: in the
        main graph that is the `while` node; with the body open it is `op`.
        """
        top, _frame, inner = split_node_path(node_id)
        if inner is None:
            return node_id
        return inner if top in parents else top

    def _subgraph_parents(self) -> set[str]:
        """Main-graph nodes whose body the view shows now (empty at the top level)."""
        root = self.window.result.graph if self.window.result is not None else None
        shown = self.view.graph()
        if root is None or shown is None or shown is root:
            return set()
        keys = {k for k, g in root.all_subgraphs() if g is shown}
        return {
            n
            for n in root.nodes
            if root.node(n).get("subgraph") in keys
            or keys & set((root.node(n).get("subgraphs") or {}).values())
        }

    def _update_status(self) -> None:
        if self.engine is None:
            self.position_label.setText("")
            return
        pause = self.last_pause
        k = sum(1 for n in self.marks.executed if split_node_path(n)[1] is None)
        inside = len(self.marks.executed) - k  # nodes run inside loop bodies and calls
        failed = self.marks.error_node
        if pause and pause.reason == ev.EXCEPTION and failed and failed not in self.marks.executed:
            # the run stands at the node that raised, as the Node panel's order counts it
            if split_node_path(failed)[1] is None:
                k += 1
            else:
                inside += 1
        n = len(self.view.graph() or []) if self.eager else self.run.total
        reason = (
            "running…"
            if self.engine.running
            else (PAUSE_WORDS.get(pause.reason, pause.reason) if pause else "")
        )
        where = (
            f" at {self.title(pause.node_id)}"
            if pause and pause.node_id and not self.engine.running
            else ""
        )
        memory = human_bytes(self.run.memory)
        engine_memory = pause.process_memory if pause is not None else 0
        live = getattr(self._engine.client, "resident_memory", None)  # an engine process
        if self.engine.running and callable(live):
            engine_memory = live() or engine_memory  # live while it runs
        if engine_memory:
            memory += f" · engine {human_bytes(engine_memory)}"
        inner = f" (+{inside} inside bodies)" if inside else ""
        # an eager graph grows while the model runs; once the run is over it is whole
        over = pause is not None and pause.reason in (ev.FINISHED, ev.GRADIENT, ev.EXCEPTION)
        grow = " (growing)" if self.eager and not over else ""
        text = f"node {k} of {n}{grow}{inner} · {reason}{where} · values {memory}"
        if pause and pause.reason == ev.EXCEPTION and pause.message:
            message = pause.message
            if pause.node_id and message.startswith(f"{pause.node_id}: "):
                message = message[len(pause.node_id) + 2 :]  # named just before
            text += f" · {message[:80]}"
        self.position_label.setText(text)

    def _on_node_selected(self, node_id: str) -> None:
        self.breakpoints_panel.set_selected_node(node_id)
        if node_id:
            self._show_tensor(self._run_id(node_id))

    def _run_id(self, node_id: str) -> str:
        """The id the run gave the node the view shows as `node_id`: inside an open loop
        body or call, its latest iteration (`while/body[2]/op` for `op`)."""
        if node_id in self.summaries:
            return node_id
        parents = self._subgraph_parents()
        if not parents:
            return node_id
        for run_id in reversed(list(self.summaries)):
            if self._shown_as(run_id, parents) == node_id and run_id != node_id:
                return run_id
        return node_id

    def _show_tensor(self, node_id: str) -> None:
        """Show `node_id`'s value (and gradient) in the Tensor panel; values not fetched
        yet are asked for, and shown when the engine's answer comes."""
        summaries = self.summaries.get(node_id)
        self.tensor_panel.setProperty("node_id", node_id)
        if self.engine is None or summaries is None:
            message = "Not run yet: step or continue to see its value."
            if node_id in self.errors:
                message = f"Raised: {self.errors[node_id]}"
            self.tensor_panel.clear(message)
            return
        run = self.run
        running = self.engine.running
        grads = self.grad_summaries.get(node_id)
        count = len(summaries)
        if not running:
            run.fetch(node_id, count)
            if grads:
                run.fetch(node_id, count, gradient=True)
        values: list[np.ndarray | None] = [
            None if running else run.value(node_id, i) for i in range(count)
        ]
        dropped = [(node_id, i, False) in run.dropped for i in range(count)]
        grad_values = (
            [None if running else run.value(node_id, i, gradient=True) for i in range(count)]
            if grads
            else None
        )
        graph = self.view.graph()
        label = (
            str(graph.node(node_id).get("label", node_id))
            if graph is not None and node_id in graph
            else node_id
        )
        self.tensor_panel.show_node(node_id, label, summaries, values, grads, grad_values, dropped)

    def _on_value_edited(self, node_id: str, index: int, array: Any) -> None:
        if self.engine is None:
            return
        self.window.log_panel.info(
            f"Override {self.title(node_id)} output {index}: {array.shape} {array.dtype}"
        )
        self.engine.send(cmds.SetValue(node_id, array, index))

    def _on_fetch_requested(self, node_id: str, index: int) -> None:
        if self.engine is not None:
            self.engine.send(cmds.FetchValue(node_id, index))  # recomputed when dropped

    def _on_panel_breakpoints(self) -> None:
        """The panel changed its list: the engine gets the whole of it."""
        if self.engine is None:
            return
        self.engine.send(cmds.SetBreakpoints(self.breakpoints.to_items()))
        self.view.set_breakpoints(self.breakpoints.on_nodes())
        self._sync_nan_action()
        self._save_model_state()

    def _on_breakpoints_changed(self, changed: ev.BreakpointsChanged) -> None:
        """The engine counted a hit or disabled a broken expression: the panel shows it."""
        differs = False
        for item in changed.items:
            try:
                bp = self.breakpoints.get(int(item["id"]))
            except KeyError:
                continue
            hits, enabled = int(item.get("hits", 0)), bool(item.get("enabled", True))
            if (bp.hits, bp.enabled) != (hits, enabled):
                bp.hits, bp.enabled = hits, enabled
                differs = True
        if differs:
            self.breakpoints_panel.refresh()
            self.view.set_breakpoints(self.breakpoints.on_nodes())
            self._save_model_state()

    # ------------------------------------------------------------------ overlays

    def overlay_values(self, mode: str) -> dict[str, float]:
        """Per-node numbers for the value overlays (first output of each executed node)."""
        out: dict[str, float] = {}
        if mode == "gradnorm":
            for node, grads in self.grad_summaries.items():
                if grads:
                    v = gradient_norm(grads[0])
                    if not math.isnan(v):
                        out[node] = v
            return out
        for node, summaries in self.summaries.items():
            s = summaries[0] if summaries else None
            if s is None or not s.is_tensor or not s.size:
                continue
            if mode == "nan":
                out[node] = float(s.nonfinite)
            elif mode == "absmax":
                out[node] = s.abs_max
            else:
                out[node] = s.stat(mode)
            if not math.isfinite(out[node]):
                del out[node]
        return out

    # ------------------------------------------------------------- persistence

    def _load_model_state(self) -> None:
        """Restore the model's breakpoints and watches; a malformed entry is skipped and
        named in the Log (a hand-edited or older settings file must not stop debugging)."""
        state = self.window.settings.model_state(self.spec)
        self.breakpoints = Breakpoints()
        ignored = self.breakpoints.load_list(state.get("breakpoints", []))
        for node in self.watch_panel.watched():
            self.watch_panel.remove_watch(node)
        watches = state.get("watches", [])
        if not isinstance(watches, list):
            ignored.append(f"the watches ({watches!r:.40}: not a list)")
            watches = []
        for node in watches:
            if isinstance(node, str) and node:
                self.watch_panel.add_watch(node)
            else:
                ignored.append(f"a watch on {node!r:.40} (not a node id)")
        if ignored:
            self.window.log_panel.warning(
                f"Saved breakpoints and watches of {self.spec}: ignored {'; '.join(ignored)}"
            )
        if len(self.breakpoints):  # said, so a saved expression never runs unseen
            kept = "; ".join(
                bp.describe(self.title) + ("" if bp.enabled else " (disabled)")
                for bp in self.breakpoints
            )
            self.window.log_panel.info(f"Breakpoints kept from the last session: {kept}")

    def _save_model_state(self, force: bool = False) -> None:
        if (self.engine is None and not force) or not self.spec:
            return
        state = {
            "breakpoints": self.breakpoints.to_list(),
            "watches": self.watch_panel.watched(),
        }
        self.window.settings.set_model_state(self.spec, state)


VALUE_OVERLAYS = RUN_OVERLAY_LABELS
