"""The overlay table: each way of colouring the graph's nodes by a number, in one place.

An overlay has a key (`mode`), the label menus and legends show, where its numbers come
from (the graph itself, or the values of a run, which the debugger supplies) and whether
they read best on a log scale. `OverlayChooser` keeps the View menu's actions and the
toolbar's "Colour by" box in step; `apply_overlay` colours a view by a mode.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QComboBox, QWidget

from gui.graph.graph_view import GraphView
from gui.panels.node_panel import element_count
from gui.shell.widgets import make_action
from inspectors.graph import Graph

#: Per-node numbers of one run overlay, by mode (`MainWindow.overlay_source`).
RunSource = Callable[[str], dict[str, float]]


def parameter_counts(graph: Graph) -> dict[str, float]:
    """Parameters per node: a module's `params`, or a parameter node's own size."""
    values: dict[str, float] = {}
    for node_id, attrs in graph.nx.nodes(data=True):
        params = attrs.get("params") or ()
        if params:
            total = sum(int(p[3]) for p in params if len(p) > 3 and p[3])
        elif attrs.get("kind") == "param" and attrs.get("value"):
            total = element_count(attrs["value"][0]) or 0  # a TF variable: what it holds
        elif attrs.get("kind") == "param":
            total = sum(element_count(shape) or 0 for shape, _ in attrs.get("outputs") or ())
        else:
            continue
        if total:
            values[node_id] = float(total)
    return values


def output_sizes(graph: Graph) -> dict[str, float]:
    """Numbers a node produces: the summed element count of its outputs."""
    values: dict[str, float] = {}
    for node_id, outputs in graph.nx.nodes(data="outputs"):
        counts = [element_count(shape) for shape, _ in outputs or ()]
        if counts and all(c is not None for c in counts):
            values[node_id] = float(sum(counts))  # type: ignore[arg-type]
    return values


@dataclass(frozen=True)
class Overlay:
    """One way to colour the nodes: `graph_values` for an overlay of the graph itself,
    None for one fed by a run; `log` for a log colour scale."""

    mode: str
    label: str
    graph_values: Callable[[Graph], dict[str, float]] | None = None
    log: bool = True

    @property
    def from_run(self) -> bool:
        return self.graph_values is None and self.mode != "none"


#: Every overlay, in menu order. "none" colours by op category (no numbers).
OVERLAY_TABLE: tuple[Overlay, ...] = (
    Overlay("none", "Op category", log=False),
    Overlay("params", "Parameter count", parameter_counts),
    Overlay("size", "Output size", output_sizes),
    # fed by the debugger from the values of the current run; counts and signed numbers
    # read best on a linear scale
    Overlay("absmax", "|value| max"),
    Overlay("mean", "Value mean", log=False),
    Overlay("std", "Value std", log=False),
    Overlay("nan", "NaN / Inf count", log=False),
    Overlay("gradnorm", "Gradient norm"),
)
OVERLAY_BY_MODE = {o.mode: o for o in OVERLAY_TABLE}
#: mode -> label, in menu order.
OVERLAYS = {o.mode: o.label for o in OVERLAY_TABLE}
#: Overlays whose numbers come from a run (`MainWindow.overlay_source`), not the graph.
RUN_OVERLAYS = tuple(o.mode for o in OVERLAY_TABLE if o.from_run)
#: mode -> label of the run overlays only.
RUN_OVERLAY_LABELS = {mode: OVERLAYS[mode] for mode in RUN_OVERLAYS}


def overlay_values(
    mode: str, graph: Graph, run_source: RunSource | None = None
) -> dict[str, float]:
    """The per-node numbers of overlay `mode` for `graph` ({} for "none", or a run overlay
    without a run to read)."""
    overlay = OVERLAY_BY_MODE[mode]
    if overlay.graph_values is not None:
        return overlay.graph_values(graph)
    if overlay.from_run and run_source is not None:
        return run_source(mode)
    return {}


def apply_overlay(view: GraphView, mode: str, run_source: RunSource | None = None) -> str | None:
    """Colour `view`'s graph by overlay `mode` ("none": by op category). Returns a note
    for the user when no node has a value, else None."""
    graph = view.graph()
    if graph is None or mode == "none":
        view.set_overlay(None)
        return None
    overlay = OVERLAY_BY_MODE[mode]
    values = overlay_values(mode, graph, run_source)
    view.set_overlay(values, title=overlay.label, log=overlay.log)
    if not values:
        return f"No node of this graph has a {overlay.label.lower()}"
    return None


class OverlayChooser(QObject):
    """The overlay's two controls, kept in step: a checkable action per overlay (for the
    View menu) and the "Colour by" box (for a toolbar). Choosing in either calls
    `on_chosen(mode)`; `show_mode` sets both without calling it."""

    def __init__(self, owner: QWidget, on_chosen: Callable[[str], None]) -> None:
        super().__init__(owner)
        self.group = QActionGroup(owner)
        self.actions: dict[str, QAction] = {}
        self.combo = QComboBox()
        for overlay in OVERLAY_TABLE:
            action = make_action(
                owner,
                overlay.label,
                lambda m=overlay.mode: on_chosen(m),
                None,
                f"Colour nodes by {overlay.label.lower()}",
                checkable=True,
            )
            self.group.addAction(action)
            self.actions[overlay.mode] = action
            self.combo.addItem(overlay.label, overlay.mode)
        self.actions["none"].setChecked(True)
        self.combo.currentIndexChanged.connect(lambda i: on_chosen(self.combo.itemData(i)))

    def mode(self) -> str:
        checked = self.group.checkedAction()
        for mode, action in self.actions.items():
            if action is checked:
                return mode
        return "none"

    def show_mode(self, mode: str) -> None:
        self.actions[mode].setChecked(True)
        index = self.combo.findData(mode)
        if index != self.combo.currentIndex():
            self.combo.blockSignals(True)
            self.combo.setCurrentIndex(index)
            self.combo.blockSignals(False)


__all__ = [
    "OVERLAYS",
    "OVERLAY_TABLE",
    "RUN_OVERLAYS",
    "RUN_OVERLAY_LABELS",
    "Overlay",
    "OverlayChooser",
    "apply_overlay",
    "output_sizes",
    "overlay_values",
    "parameter_counts",
]
