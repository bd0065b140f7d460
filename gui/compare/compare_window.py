"""Two models side by side: linked selection and zoom, lockstep stepping, graph diff.

Typical pairs: the PyTorch and Keras versions of one model (layers linked: `fc1`
with the first `Dense`), or one dynamic model on two inputs (eager capture on both
sides, so each side draws the graph its own input produced). Each side is a
`ComparePane` with its own loader and engine; this window links them and never
touches a Session from another thread.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QMainWindow,
    QSplitter,
    QToolBar,
    QWidget,
)

from gui.compare.compare_links import (
    DIFF_COLOURS,
    IN_BOTH,
    LINK_COLOURS,
    ONLY_HERE,
    PARTS_HERE,
    Links,
    lockstep_layer,
    node_label,
)
from gui.compare.compare_pane import ComparePane
from gui.debugging.debugger import PAUSE_WORDS
from gui.shell.widgets import flush_column, make_action
from inspectors import commands as cmds
from inspectors import events as ev

#: Colour modes of both panes.
COLOUR_MODES = {
    "type": "Node type",
    "links": "Linked pairs",
    "diff": "Diff: only here / in both",
    "values": "Diff: values |A−B|",
}

RUNS_OVER = "Both runs are over: Restart both (Ctrl+Shift+F5) to step them again."

PRESETS = {
    "feedforward": (("feedforward_torch", "fx"), ("feedforward_keras", "auto")),
    "dynamic": (("dynamic_torch", "eager"), ("dynamic_torch@other_inputs", "eager")),
}


class CompareWindow(QMainWindow):
    """Side A and side B, each a model with its own run, compared in one window."""

    links_changed = Signal()  # both sides loaded and their nodes linked
    diff_changed = Signal()  # the diff colouring or its counts changed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Graphstep: compare side by side")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        self.panes = (ComparePane("A"), ComparePane("B"))
        self.links: Links | None = None
        self.diff: Any = None  # inspectors.diff.GraphDiff of the two captured graphs
        self.numeric: dict[str, tuple[float, float]] = {}
        self._recolour_due = False
        self.layer_status = ""  # where the last layer step left both sides
        self._layer_head = ""  # its first part: `Layer 1 of 3: fc1 ↔ fc1/MatMul`
        self._layer_step: int | None = None  # the layer a layer step is running to
        self._syncing = False
        self._selected: tuple[int, str] | None = None  # the side and node last clicked
        self._patch_due: tuple[int, str, str] | None = None  # (side, node, source node)
        self._sweep: Any = None  # the patch sweep under way (gui.compare.patch_sweep)
        self.sweep_dialog: Any = None  # its ranked result

        splitter = QSplitter(Qt.Orientation.Horizontal)
        for pane in self.panes:
            splitter.addWidget(pane)
        splitter.setSizes([1, 1])
        self.diff_label = QLabel("")
        self.diff_label.setObjectName("compareDiff")
        self.diff_label.setWordWrap(True)
        self.diff_label.setTextFormat(Qt.TextFormat.RichText)
        self.diff_label.setContentsMargins(8, 4, 8, 4)
        # shown while the two graphs are linked layer by layer: what Step layer did last
        self.layer_label = QLabel("")
        self.layer_label.setObjectName("compareLayer")
        self.layer_label.setWordWrap(True)
        self.layer_label.setTextFormat(Qt.TextFormat.RichText)
        self.layer_label.setContentsMargins(8, 0, 8, 4)
        self.layer_label.setStyleSheet("color: #1a5fb4;")
        self.layer_label.hide()
        self.setCentralWidget(flush_column(self.diff_label, self.layer_label, splitter))
        self.statusBar().showMessage("Open a model on each side, or pick a preset pair.")

        self._build_actions()
        for side, pane in enumerate(self.panes):
            pane.loaded.connect(lambda _r, s=side: self._on_loaded(s))
            other = self.panes[1 - side]
            pane.must_wait = other.loader.is_busy
            pane.loader.busy_changed.connect(
                lambda busy, o=other: None if busy else QTimer.singleShot(0, o.load_pending)
            )
            pane.graph_replaced.connect(self._apply_colours)
            pane.run.engine.value_ready.connect(self._on_value_ready)
            pane.paused.connect(lambda p, s=side: self._on_paused(s, p))
            pane.running_changed.connect(lambda _r: self._update_actions())
            pane.user_selected.connect(lambda n, s=side: self._on_selected(s, n))
            pane.view.layout_finished.connect(lambda _n, s=side: self._on_layout(s))
            for bar in (pane.view.horizontalScrollBar(), pane.view.verticalScrollBar()):
                bar.valueChanged.connect(lambda _v, s=side: self._sync_view(s))
                bar.rangeChanged.connect(lambda _a, _b, s=side: self._sync_view(s))
        try:
            from inspectors.target import list_samples

            samples = list_samples()
        except Exception:  # noqa: BLE001 - the combo just stays empty
            samples = []
        for pane in self.panes:
            pane.set_samples(samples)
        self.resize(1500, 900)
        self._update_actions()
        self._update_diff_label()

    # ------------------------------------------------------------------ controls

    def _build_actions(self) -> None:
        def act(text: str, slot: Any, keys: str | None, tip: str) -> QAction:
            return make_action(self, text, slot, keys, tip, keys_in_tip=True)

        self.act_step = act("↓ Step both", self.step_both, "F11", "Run one node on each side")
        self.act_layer = act(
            "⇊ Step layer",
            self.step_layer_both,
            "Ctrl+F11",
            "Run both sides to the end of the next linked layer (one node each when the "
            "graphs are not linked layer by layer)",
        )
        self.act_over = act(
            "↷ Over both", self.step_over_both, "F10", "Step over on each side: scopes run whole"
        )
        self.act_continue = act(
            "▶ Continue both", self.continue_both, "F5", "Run both sides to the end"
        )
        self.act_restart = act(
            "⟲ Restart both", self.restart_both, "Ctrl+Shift+F5", "Start both runs again"
        )
        self.act_patch = act(
            "⇄ Patch from other",
            self.patch_from_other,
            "Ctrl+Shift+P",
            "Activation patching: set the selected node's output on this side to its value "
            "on the other side, and run this side on to its end",
        )
        self.act_sweep = act(
            "Patch sweep…",
            self.patch_sweep,
            "Ctrl+Shift+W",
            "Patch each node of the selected node's layer in turn from the other side, and "
            "rank them by how far each brings this side's output back to the other's",
        )
        self.act_sync = act(
            "Sync", self._on_sync_toggled, None, "Zoom, pan and selection follow on the other side"
        )
        self.act_sync.setCheckable(True)
        self.act_sync.setChecked(True)
        self.act_diff = act(
            "Show diff",
            self._on_diff_toggled,
            "Ctrl+D",
            "Colour nodes only on this side / in both, on both sides",
        )
        self.act_diff.setCheckable(True)
        self.colour_combo = QComboBox()
        self.colour_combo.setObjectName("compareColours")
        self.colour_combo.setToolTip("What the node colours show on both sides")
        for key, text in COLOUR_MODES.items():
            self.colour_combo.addItem(text, key)
        self.colour_combo.currentIndexChanged.connect(lambda _i: self._on_colour_mode())

        bar = QToolBar("Compare")
        bar.setObjectName("compareToolBar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for action in (
            self.act_step,
            self.act_layer,
            self.act_over,
            self.act_continue,
            self.act_restart,
            self.act_patch,
            self.act_sweep,
        ):
            bar.addAction(action)
        bar.addSeparator()
        bar.addAction(self.act_sync)
        bar.addAction(self.act_diff)
        bar.addWidget(QLabel(" Colour by: "))
        bar.addWidget(self.colour_combo)
        self.addToolBar(bar)
        self.toolbar = bar

    # ------------------------------------------------------------------ opening

    def open_pair(
        self,
        spec_a: str,
        spec_b: str,
        strategy_a: str | None = None,
        strategy_b: str | None = None,
    ) -> None:
        """Load `spec_a` on the left and `spec_b` on the right (both off the GUI thread)."""
        self.links = None
        self.diff = None
        self.numeric = {}
        self._clear_layer_status()
        self.panes[0].open(spec_a, strategy_a or "auto")
        self.panes[1].open(spec_b, strategy_b or "auto")
        self._update_diff_label()

    def open_preset(self, name: str) -> None:
        (spec_a, strat_a), (spec_b, strat_b) = PRESETS[name]
        self.open_pair(spec_a, spec_b, strat_a, strat_b)

    def both_loaded(self) -> bool:
        return all(
            p.result is not None and not p.loader.is_busy() and not p.waiting() for p in self.panes
        )

    def _on_loaded(self, _side: int) -> None:
        self.links, self.diff, self.numeric = None, None, {}
        self._clear_layer_status()
        self._update_actions()
        if not self.both_loaded():
            self._update_diff_label()
            return
        a, b = (p.full_graph() for p in self.panes)
        assert a is not None and b is not None
        from inspectors.diff import diff_graphs

        try:
            self.links = Links(a, b)
            self.diff = diff_graphs(a, b)
        except Exception as exc:  # noqa: BLE001 - compare what can be compared
            self.statusBar().showMessage(f"Could not link the graphs: {type(exc).__name__}: {exc}")
        how = "layer by layer" if self.links and self.links.by_layer else "by structure and scope"
        if self.links is not None:
            self.statusBar().showMessage(
                f"{len(self.links.pairs)} linked pairs, matched {how}. "
                "Click a node: its counterpart is selected on the other side."
            )
        self._apply_colours()
        self._update_diff_label()
        self._update_layer_label()
        self.links_changed.emit()

    # ------------------------------------------------------------------ running

    def step_both(self) -> None:
        self._clear_layer_status()
        for pane in self.panes:
            pane.send(cmds.Step())

    def running(self) -> bool:
        """True while either side's model runs."""
        return any(p.running() for p in self.panes)

    def step_layer_both(self) -> None:
        """Run each side to the end of the next linked layer, so both pause on one link.

        Without layer links this is one node per side. Ignored while either side runs;
        a side without a session or whose run is over stays where it is.
        """
        if self.running():
            return
        links = self.links
        if links is None or not links.by_layer:
            self.step_both()
            return
        live = [s for s, p in enumerate(self.panes) if p.engine is not None and not p.run_over()]
        if not live:
            self.statusBar().showMessage(RUNS_OVER)
            return
        ends = [links.layer_ends(s) for s in live]
        executed = [self.panes[s].marks.executed for s in live]
        at = [self._paused_at(s) for s in live]
        layer = lockstep_layer(ends, executed, at)
        total = len(links.pairs)
        self._layer_step = layer
        for side, side_ends, done, here in zip(live, ends, executed, at, strict=True):
            pane = self.panes[side]
            if layer >= total:
                pane.send(cmds.Continue())
            elif side_ends[layer] != here and side_ends[layer] not in done:
                pane.send(cmds.RunTo(side_ends[layer]))
        self.statusBar().showMessage(self._layer_running_text(layer))
        self._update_layer_label()
        if not self.running():  # every side was already there
            self._finish_layer_step()

    def step_over_both(self) -> None:
        self._clear_layer_status()
        for pane in self.panes:
            pane.send(cmds.StepOver())

    def continue_both(self) -> None:
        self._clear_layer_status()
        for pane in self.panes:
            pane.send(cmds.Continue())

    def restart_both(self) -> None:
        self.numeric = {}
        self._clear_layer_status()
        for pane in self.panes:
            pane.send(cmds.Restart())

    def _on_paused(self, side: int, pause: Any) -> None:
        if self.colour_mode() == "values":
            self._apply_colours()
        self._show_link(side, pause.node_id)
        if self._layer_step is not None:
            if not self.running():
                self._finish_layer_step()
        elif self.layer_status:  # stepped some other way: the layer line is stale
            self._clear_layer_status()
        else:
            self._update_layer_label()

    def _paused_at(self, side: int) -> str | None:
        pause = self.panes[side].last_pause
        return pause.node_id if pause is not None and pause.reason != ev.READY else None

    def _layer_name(self, layer: int) -> str:
        """`layer 2 of 3: relu ↔ fc1/Relu`."""
        assert self.links is not None
        a, b = self.links.pairs[layer]
        graphs = [p.full_graph() for p in self.panes]
        return (
            f"layer {layer + 1} of {len(self.links.pairs)}: "
            f"{_short(graphs[0], a)} ↔ {_short(graphs[1], b)}"
        )

    def _finish_layer_step(self) -> None:
        """Both sides stopped after a layer step: say where, on the status and layer lines."""
        layer, self._layer_step = self._layer_step, None
        if layer is None or self.links is None:
            return
        places = []
        for pane in self.panes:
            pause = pane.last_pause
            if pane.engine is None or pause is None:
                places.append(f"{pane.title}: no session")
                continue
            word = PAUSE_WORDS.get(pause.reason, pause.reason)
            where = _short(pane.full_graph(), pause.node_id) if pause.node_id else ""
            if pause.reason == ev.FINISHED or not where:
                places.append(f"{pane.title} {word}")
            else:
                places.append(f"{pane.title} {word} at {where}")
        if layer >= len(self.links.pairs):
            head = "After the last linked layer"
        else:
            name = self._layer_name(layer)
            head = name[0].upper() + name[1:]
        self._layer_head = head
        self.layer_status = f"{head} · {' · '.join(places)}"
        self.statusBar().showMessage(self.layer_status)
        self._update_layer_label()

    def _clear_layer_status(self) -> None:
        self._layer_step = None
        self.layer_status = self._layer_head = ""
        self._update_layer_label()

    def _layer_running_text(self, layer: int) -> str:
        if self.links is None or layer >= len(self.links.pairs):
            return "Step layer: no linked layer left, both sides run to the end…"
        return f"Step layer: both sides run to the end of {self._layer_name(layer)}…"

    def _update_layer_label(self) -> None:
        """The Step layer line: where the last press left both sides, or how to use it."""
        links = self.links
        if links is None or not links.by_layer or not links.pairs:
            self.layer_label.hide()
            return
        live = [p for p in self.panes if p.engine is not None]
        if self._layer_step is not None:
            text = html.escape(self._layer_running_text(self._layer_step))
        elif self.layer_status:
            rest = self.layer_status[len(self._layer_head) :]
            text = f"<b>{html.escape(self._layer_head)}</b>{html.escape(rest)}"
        elif live and all(p.run_over() for p in live):
            text = html.escape(RUNS_OVER)
        else:
            first = self._layer_name(0).split(": ", 1)[1]
            text = (
                f"Step layer (Ctrl+F11) runs both sides to the end of the next linked layer: "
                f"{len(links.pairs)} layers, the first {html.escape(first)}."
            )
        self.layer_label.setText(f"⇊ {text}")
        self.layer_label.show()

    def _update_actions(self) -> None:
        """Step layer waits until both sides are paused, and needs a session on one."""
        has = any(p.engine is not None for p in self.panes)
        self.act_layer.setEnabled(has and not self.running())

    # ------------------------------------------------------------------ linking

    def sync(self) -> bool:
        return self.act_sync.isChecked()

    def _on_sync_toggled(self) -> None:
        if self.sync():
            self._sync_view(0)

    def counterpart(self, side: int, node_id: str) -> str | None:
        return self.links.counterpart(side, node_id) if self.links and node_id else None

    def patch_from_other(self) -> None:
        """Put the other side's value of the selected node into this side's run (an
        override), then run this side on: the value colours show what it changed."""
        if self._selected is None:
            self.statusBar().showMessage("Select the node to patch on the side to patch.", 8000)
            return
        side, node = self._selected
        source, target = self.panes[1 - side], self.panes[side]
        partner = self.counterpart(side, node) or node
        if target.engine is None or source.engine is None:
            self.statusBar().showMessage("Patching needs a model running on each side.", 8000)
            return
        if partner not in source.run.summaries:
            self.statusBar().showMessage(
                f"{partner} has not run on side {source.title}: run it there first.", 8000
            )
            return
        self._patch_due = (side, node, partner)
        source.run.fetch(partner, 1)
        self._apply_patch()

    def patch_sweep(self) -> None:
        """Sweep the selected node's layer: see `gui.compare.patch_sweep`."""
        from gui.compare.patch_sweep import PatchSweep, SweepDialog, layer_nodes, layer_of

        if self._selected is None:
            self.statusBar().showMessage(
                "Select a node of the layer to sweep, on the side to patch.", 8000
            )
            return
        side, node = self._selected
        clean, corrupted = self.panes[1 - side], self.panes[side]
        graph = corrupted.full_graph()
        if clean.engine is None or corrupted.engine is None or graph is None:
            self.statusBar().showMessage("A patch sweep needs a model running on each side.", 8000)
            return
        outputs = [n for n in graph.nodes if graph.node(n).get("kind") == "output"]
        ran = clean.run.summaries
        nodes = [
            n
            for n in layer_nodes(graph, node)
            if n in ran and ran[n] and ran[n][0].is_tensor and (self.counterpart(side, n) or n) == n
        ]
        if not outputs or not nodes or outputs[0] not in ran:
            self.statusBar().showMessage(
                f"Run side {clean.title} to its end first: its values are what is patched in.",
                8000,
            )
            return
        sweep = PatchSweep(clean, corrupted, nodes, outputs[0])
        self._sweep = sweep
        sweep.progress.connect(lambda text: self.statusBar().showMessage(text))
        sweep.failed.connect(lambda text: self.statusBar().showMessage(text, 15000))

        def show(rows: list[Any]) -> None:
            scope = " › ".join(layer_of(graph, node)) or "the top level"
            self.statusBar().showMessage(
                f"Patch sweep of {scope}: {len(rows)} nodes, best {rows[0].node_id} "
                f"({rows[0].restored:+.0%} of the way back to side {clean.title})",
                15000,
            )
            corrupted.view.overlay_from_zero = True
            corrupted.view.set_overlay(
                {r.node_id: r.restored for r in rows if r.restored == r.restored},
                "restored by the patch",
            )
            self.sweep_dialog = SweepDialog(
                rows,
                f"Each node of {scope} patched from side {clean.title} into side "
                f"{corrupted.title}: the share of the distance between their outputs it "
                "removes (100%: the patched run gives side "
                f"{clean.title}'s output).",
                self,
            )
            self.sweep_dialog.show()

        sweep.finished.connect(show)
        sweep.start()

    def _apply_patch(self) -> None:
        if self._patch_due is None:
            return
        side, node, partner = self._patch_due
        source, target = self.panes[1 - side], self.panes[side]
        value = source.run.value(partner)
        if value is None:
            return  # asked for: `_on_value_ready` comes back here
        self._patch_due = None
        target.send(cmds.SetValue(node, value))
        target.send(cmds.Continue())
        if self.colour_mode() != "values":
            self.colour_combo.setCurrentIndex(self.colour_combo.findData("values"))
        self.statusBar().showMessage(
            f"Patched {node} on side {target.title} with its value from side "
            f"{source.title}; side {target.title} runs on",
            10000,
        )

    def _on_selected(self, side: int, node_id: str) -> None:
        self._selected = (side, node_id) if node_id else None
        other = self.panes[1 - side]
        partner = self.counterpart(side, node_id)
        self._show_link(side, node_id)
        if not self.sync() or not node_id:
            return
        if partner is not None and other.view.graph() is not None and partner in other.view.graph():
            other.select(partner, center=True)
        self._show_link(1 - side, partner)

    def _show_link(self, side: int, node_id: str | None) -> None:
        """`linked: fc1 ↔ B: MatMul (…/fc1/MatMul)` in the pane's header."""
        pane = self.panes[side]
        if not node_id or self.links is None:
            pane.set_link_text("")
            return
        graph = pane.view.graph()
        here = node_label(graph, node_id)
        partner = self.counterpart(side, node_id)
        other = "B" if side == 0 else "A"
        if partner is None:
            only = self.diff is not None and node_id in (
                self.diff.only_a if side == 0 else self.diff.only_b
            )
            why = f"only in {pane.title}" if only else "no counterpart"
            pane.set_link_text(f"{here}: {why}")
            return
        there = node_label(self.panes[1 - side].full_graph(), partner)
        pane.set_link_text(f"linked: {here} ↔ {other}: {there}")

    def _on_layout(self, side: int) -> None:
        self._apply_colours_to(side)

    def _sync_view(self, side: int) -> None:
        """The other side follows proportionally: the same zoom relative to its fit, the
        centre at the same fraction of its graph."""
        if self._syncing or not self.sync():
            return
        src, dst = self.panes[side], self.panes[1 - side]
        if src.moving_itself():  # centring on its own current node: each side its own
            return
        if src.view.current_layout() is None or dst.view.current_layout() is None:
            return
        self._syncing = True
        try:
            dst.set_relative_view(*src.relative_view())
        finally:
            self._syncing = False

    # ------------------------------------------------------------------ colours

    def colour_mode(self) -> str:
        return str(self.colour_combo.currentData())

    def set_colour_mode(self, mode: str) -> None:
        index = self.colour_combo.findData(mode)
        if index < 0:
            raise ValueError(f"colour mode {mode!r}: use one of {', '.join(COLOUR_MODES)}")
        self.colour_combo.setCurrentIndex(index)

    def _on_diff_toggled(self) -> None:
        wanted = "diff" if self.act_diff.isChecked() else "type"
        if (self.colour_mode() in ("diff", "values")) != self.act_diff.isChecked():
            self.set_colour_mode(wanted)

    def _on_colour_mode(self) -> None:
        mode = self.colour_mode()
        self.act_diff.blockSignals(True)
        self.act_diff.setChecked(mode in ("diff", "values"))
        self.act_diff.blockSignals(False)
        self._apply_colours()
        self._update_diff_label()

    def _apply_colours(self) -> None:
        if self.colour_mode() == "values":
            self._compute_numeric()
        for side in (0, 1):
            self._apply_colours_to(side)
        self._update_diff_label()
        self.diff_changed.emit()

    def _apply_colours_to(self, side: int) -> None:
        view = self.panes[side].view
        mode = self.colour_mode()
        if mode == "type" or self.links is None:
            if view.categories() or view._overlay is not None:
                view.set_overlay(None)
            return
        if mode == "links":
            view.set_categories(*self.link_categories(side))
            return
        if mode == "diff":
            view.set_categories(*self.diff_categories(side))
            return
        values = {n: v[0] for n, v in self.numeric.items()}
        if side == 1 and self.links is not None:
            values = {p: values[a] for a, p in self.links.pairs if a in values}
        view.overlay_from_zero = True  # no difference is the darkest colour
        view.set_overlay(values or None, "max |A−B|")

    def link_categories(
        self, side: int
    ) -> tuple[dict[str, int], list[tuple[str, tuple[int, int, int]]]]:
        """Linked nodes share a colour on both sides; the legend names the pairs."""
        if self.links is None:
            return {}, []
        pair_of = self.links.link_pairs()[side]
        n = len(LINK_COLOURS)
        graphs = [p.full_graph() for p in self.panes]
        names: list[list[str]] = [[] for _ in range(n)]
        for i, (x, y) in enumerate(self.links.pairs):
            names[i % n].append(f"{_short(graphs[0], x)} ↔ {_short(graphs[1], y)}")
        legend = [
            (names[c][0] + (" …" if len(names[c]) > 1 else ""), LINK_COLOURS[c])
            for c in range(min(n, len(self.links.pairs)))
        ]
        return {node: i % n for node, i in pair_of.items()}, legend

    def diff_categories(
        self, side: int
    ) -> tuple[dict[str, int], list[tuple[str, tuple[int, int, int]]]]:
        """Each node's diff category on `side`, and the legend."""
        diff = self.diff
        if diff is None:
            return {}, []
        title = self.panes[side].title
        cats: dict[str, int] = {}
        for a, b in diff.common:
            cats[a if side == 0 else b] = IN_BOTH
        for n in diff.only_a if side == 0 else diff.only_b:
            cats[n] = ONLY_HERE
        first = diff.first_divergence()[side]
        if first is not None:
            cats[first] = PARTS_HERE
        legend = [
            ("in both", DIFF_COLOURS[IN_BOTH]),
            (f"only in {title} (here)", DIFF_COLOURS[ONLY_HERE]),
            ("first node only here: they part", DIFF_COLOURS[PARTS_HERE]),
        ]
        return cats, legend

    def _compute_numeric(self) -> None:
        """Max abs / relative difference of linked nodes' values (both sides paused).

        The values come from each side's engine: those not fetched yet are asked for,
        and the colours are applied again as they arrive."""
        self.numeric = {}
        if self.links is None or any(p.engine is None or p.engine.running for p in self.panes):
            return
        from inspectors.diff import numeric_diff

        values: list[dict[str, Any]] = []
        for side, pane in enumerate(self.panes):
            run, kept = pane.run, {}
            for pair in self.links.pairs:
                node = pair[side]
                if node not in run.summaries:
                    continue  # not run (yet) on this side
                run.fetch(node, 1)
                value = run.value(node)
                if value is not None:
                    kept[node] = value
            values.append(kept)
        self.numeric = numeric_diff(values[0], values[1], self.links.pairs)

    def _on_value_ready(self, _ready: Any) -> None:
        """A side's value arrived: the value colours take it in (once per burst)."""
        if self._patch_due is not None:
            QTimer.singleShot(0, self._apply_patch)  # after the pane's model has kept it
        if self.colour_mode() == "values" and not self._recolour_due:
            self._recolour_due = True
            QTimer.singleShot(50, self._recolour)

    def _recolour(self) -> None:
        self._recolour_due = False
        if self.colour_mode() == "values":
            self._apply_colours()

    def parting(self) -> tuple[str | None, str | None, str | None, str | None]:
        """Where the two executions part: (last common node in A, its partner in B,
        A's next node, B's next node); all None when neither run has a node of its own.

        The parting point is the earliest, over both sides, of the last common node
        before that side's first node of its own.
        """
        if self.diff is None:
            return None, None, None, None
        diff = self.diff
        firsts = diff.first_divergence()
        if firsts == (None, None):
            return None, None, None, None
        orders = (diff.order_a, diff.order_b)
        rank = [{pair[side]: i for i, pair in enumerate(diff.common)} for side in (0, 1)]
        best = -1
        found = False
        for side in (0, 1):
            first, order = firsts[side], orders[side]
            if first is None or first not in order:
                continue
            before = [rank[side][n] for n in order[: order.index(first)] if n in rank[side]]
            k = max(before) if before else -1
            best = k if not found else min(best, k)
            found = True
        if best < 0:
            return None, None, _first(diff.order_a), _first(diff.order_b)
        pa, pb = diff.common[best]
        return pa, pb, _after(diff.order_a, pa), _after(diff.order_b, pb)

    def _update_diff_label(self) -> None:
        diff = self.diff
        if diff is None:
            waiting = any(p.loader.is_busy() or p.waiting() for p in self.panes)
            self.diff_label.setText("Loading…" if waiting else "Open a model on each side.")
            return
        a, b = (p.full_graph() for p in self.panes)
        counts = (
            f"<b>A</b> {len(a or [])} nodes · <b>B</b> {len(b or [])} nodes · "
            f"<b>{len(diff.common)}</b> in both · <b>{len(diff.only_a)}</b> only in A · "
            f"<b>{len(diff.only_b)}</b> only in B · edges: {len(diff.edges_common)} in both, "
            f"{len(diff.edges_only_a)} only in A, {len(diff.edges_only_b)} only in B"
        )
        links = self.links
        if links is not None and links.by_layer:
            names = ", ".join(
                f"<b>{_short(a, x)}</b> ↔ <b>{_short(b, y)}</b>" for x, y in links.pairs[:8]
            )
            text = (
                f"<b>A</b> {a.framework if a else ''} {len(a or [])} nodes · "
                f"<b>B</b> {b.framework if b else ''} {len(b or [])} nodes · "
                f"{len(links.pairs)} layers linked in order: {names}"
                f"<br><span style='color:#5f6b7a'>Node by node the two frameworks' graphs "
                f"differ (other names, other ops): {len(diff.common)} in both, "
                f"{len(diff.only_a)} only in A, {len(diff.only_b)} only in B.</span>"
            )
        else:
            text = counts
            pa, _pb, next_a, next_b = self.parting()
            if diff.first_divergence() == (None, None):
                text += " · the two graphs have the same structure"
            else:
                where = f"after <b>{node_label(a, pa)}</b>" if pa else "from the start"
                text += (
                    f"<br>The executions part {where}: A goes on with "
                    f"<b>{node_label(a, next_a)}</b>, B with <b>{node_label(b, next_b)}</b>"
                )
        if self.colour_mode() == "values":
            if self.numeric:
                worst = max(self.numeric.items(), key=lambda kv: kv[1][0])
                text += (
                    f"<br>Values: {len(self.numeric)} linked nodes compared; largest "
                    f"|A−B| {worst[1][0]:.3g} (relative {worst[1][1]:.3g}) at "
                    f"<b>{node_label(a, worst[0])}</b>"
                )
            else:
                text += "<br>Values: run both sides (continue both) to compare their values."
        self.diff_label.setText(text)

    def diff_counts(self) -> dict[str, int]:
        """The counts the diff line shows (tests and scripts)."""
        if self.diff is None:
            return {}
        return {
            "only_a": len(self.diff.only_a),
            "only_b": len(self.diff.only_b),
            "common": len(self.diff.common),
        }

    # ------------------------------------------------------------------ closing

    def shutdown(self) -> None:
        for pane in self.panes:
            pane.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        for pane in self.panes:
            pane.close()  # also drops a model still loading
        super().closeEvent(event)


def _first(order: list[str]) -> str | None:
    return order[0] if order else None


def _after(order: list[str], node: str) -> str | None:
    i = order.index(node) if node in order else -1
    return order[i + 1] if 0 <= i < len(order) - 1 else None


def _short(graph: Any, node_id: str) -> str:
    """`fc1` or `fc1/MatMul`: a node's label, after its innermost scope when that differs."""
    if graph is None or node_id not in graph:
        return node_id
    data = graph.node(node_id)
    label = str(data.get("label") or node_id)
    scope = data.get("scope") or ()
    return f"{scope[-1]}/{label}" if scope and scope[-1] != label else label


def attach_compare(window: Any) -> None:
    """Add the Teaching menu to the main window: compare side by side, and presets."""
    menu = window.menus.get("teaching")
    if menu is None:
        menu = window.menuBar().addMenu("&Teaching")
        window.menus["teaching"] = menu
    help_menu = window.menus.get("help")
    if help_menu is not None:  # keep Help last
        window.menuBar().removeAction(help_menu.menuAction())
        window.menuBar().addAction(help_menu.menuAction())

    def compare_window() -> CompareWindow:
        existing = getattr(window, "compare_window", None)
        if existing is None:
            existing = CompareWindow()
            window.compare_window = existing
            window.closing.connect(existing.close)
        existing.show()
        if QGuiApplication.platformName() != "offscreen":  # offscreen Qt warns on raise()
            existing.raise_()
        existing.activateWindow()
        return existing

    def side_by_side() -> None:
        compare = compare_window()
        result = getattr(window, "result", None)
        if result is not None:
            compare.open_pair(result.spec, result.spec, result.capture, result.capture)

    def preset(name: str) -> None:
        compare_window().open_preset(name)

    actions = []
    for text, slot, keys, tip in (
        (
            "Compare side by side…",
            side_by_side,
            "Ctrl+Shift+C",
            "Open the current model on both sides of a compare window",
        ),
        (
            "Compare PyTorch and Keras feed-forward",
            lambda: preset("feedforward"),
            None,
            "feedforward_torch (fx) and feedforward_keras, layers linked",
        ),
        (
            "Compare two inputs of dynamic_torch",
            lambda: preset("dynamic"),
            None,
            "One dynamic model, two inputs, two recorded graphs and their diff",
        ),
    ):
        action = QAction(text, window)
        if keys:
            action.setShortcut(QKeySequence(keys))
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        actions.append(action)
    window.compare_actions = actions
