"""A patch sweep in the compare window: each node of a layer, in turn, patched from the
clean side (A) into the corrupted side (B), ranked by how far it moves B's output back
toward A's.

Driven by the two sides' engines as any client drives them: A's values are fetched,
then for each node B is restarted (its own inputs, no overrides), the node set to A's
value (`SetValue`), continued to its end, and its output fetched. The effect of a
patch is the share of the distance ‖B − A‖ between the outputs it removes: 100% when
the patched run gives A's output, 0% when it changes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from inspectors import commands as cmds
from inspectors import events as ev


@dataclass
class SweepRow:
    node_id: str
    distance: float  # ‖B − A‖ of the outputs with this node patched
    restored: float  # the share of the unpatched distance removed


def layer_of(graph: Any, node_id: str) -> tuple[str, ...]:
    """The module or name scope `node_id` is in (a module's own node: the module that
    holds it)."""
    attrs = graph.node(node_id)
    scope = tuple(attrs.get("scope") or ())
    return scope[:-1] if attrs.get("kind") == "module" and scope else scope


def layer_nodes(graph: Any, node_id: str) -> list[str]:
    """The nodes of `node_id`'s layer (`layer_of`), nested ones included, in the graph's
    order; inputs and the output node aside."""
    layer = layer_of(graph, node_id)
    return [
        n
        for n in graph.nodes
        if tuple(graph.node(n).get("scope") or ())[: len(layer)] == layer
        and graph.node(n).get("kind") not in ("input", "output")
    ]


class PatchSweep(QObject):
    """One sweep: a small state machine over the two panes' engine signals."""

    progress = Signal(str)
    finished = Signal(list)  # [SweepRow], ranked
    failed = Signal(str)

    def __init__(self, clean: Any, corrupted: Any, nodes: list[str], output: str) -> None:
        super().__init__(corrupted)
        self.clean, self.corrupted = clean, corrupted
        self.nodes, self.output = nodes, output
        self.rows: list[SweepRow] = []
        self._index = -1
        self._stage = "values"  # values -> baseline -> patch (per node) -> done
        self._base = math.nan
        self._waiting = False  # B finished a run: its output is asked for
        corrupted.paused.connect(self._on_paused)
        clean.run.engine.value_ready.connect(self._on_value)
        corrupted.run.engine.value_ready.connect(self._on_value)

    def start(self) -> None:
        for node in [*self.nodes, self.output]:
            if self._clean_value(node) is None:  # recomputed where the budget dropped it
                self.clean.send(cmds.FetchValue(node, 0))
        self._on_value(None)

    def _clean_value(self, node: str) -> np.ndarray | None:
        return self.clean.run.value(node)

    def _on_value(self, ready: Any) -> None:
        mine = ready is not None and (ready.node_id in self.nodes or ready.node_id == self.output)
        if mine and ready.array is None and not ready.gradient:
            if self._stage != "done":
                self._stage = "done"
                self.failed.emit(f"Patch sweep: no value for {ready.node_id}: {ready.message}")
            return
        if self._stage == "values":
            if all(self._clean_value(n) is not None for n in [*self.nodes, self.output]):
                self._stage = "baseline"
                self._run(None)
        elif self._stage in ("baseline", "patch") and self._awaiting_output():
            value = self.corrupted.run.value(self.output)
            if value is None:
                return
            self._took(np.asarray(value))

    def _awaiting_output(self) -> bool:
        return self._waiting

    def _run(self, node: str | None) -> None:
        """Restart B, patch `node` (none for the baseline), continue to its end."""
        self._waiting = False
        engine = self.corrupted
        engine.send(cmds.Restart())
        if node is not None:
            value = self._clean_value(node)
            engine.send(cmds.SetValue(node, np.asarray(value)))
        engine.send(cmds.Continue())
        what = f"patching {node}" if node else "the corrupted run"
        done = max(self._index, 0)
        self.progress.emit(f"Patch sweep: {what} ({done} of {len(self.nodes)} done)")

    def _on_paused(self, pause: ev.Paused) -> None:
        if self._stage not in ("baseline", "patch") or pause.reason == ev.READY:
            return
        if pause.reason != ev.FINISHED:
            self._stage = "done"
            self.failed.emit(
                f"Patch sweep stopped: side {self.corrupted.title} paused ({pause.reason}) "
                f"at {pause.node_id}; clear its breakpoints and sweep again."
            )
            return
        self._waiting = True
        self.corrupted.run.fetch(self.output, 1)
        self._on_value(None)

    def _took(self, output: np.ndarray) -> None:
        self._waiting = False
        clean = np.asarray(self._clean_value(self.output), dtype=np.float64)
        distance = float(np.linalg.norm(output.astype(np.float64) - clean))
        if self._stage == "baseline":
            self._base = distance
        else:
            node = self.nodes[self._index]
            restored = 1.0 - distance / self._base if self._base > 0 else math.nan
            self.rows.append(SweepRow(node, distance, restored))
        self._index += 1
        if self._index < len(self.nodes):
            self._stage = "patch"
            self._run(self.nodes[self._index])
            return
        self._stage = "done"
        self.corrupted.send(cmds.Restart())  # B as it was: its own run, no patch
        self.corrupted.send(cmds.Continue())
        ranked = sorted(
            self.rows, key=lambda r: -abs(r.restored) if r.restored == r.restored else 0
        )
        self.finished.emit(ranked)


class SweepDialog(QDialog):
    """The ranked result of a sweep."""

    def __init__(self, rows: list[SweepRow], title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Patch sweep")
        self.setObjectName("patchSweep")
        layout = QVBoxLayout(self)
        note = QLabel(title)
        note.setWordWrap(True)
        layout.addWidget(note)
        table = QTableWidget(len(rows), 3, self)
        table.setHorizontalHeaderLabels(["node", "restored", "‖B − A‖ after"])
        for i, row in enumerate(rows):
            cells = [
                row.node_id,
                f"{row.restored:+.1%}" if row.restored == row.restored else "—",
                f"{row.distance:.4g}",
            ]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if j:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                table.setItem(i, j, item)
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table = table
        layout.addWidget(table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(520, 360)


__all__ = ["PatchSweep", "SweepDialog", "SweepRow", "layer_nodes", "layer_of"]
