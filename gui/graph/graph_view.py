"""GraphView: the interactive picture of a Graph.

Layouts run on a QThreadPool worker (`gui.graph.layout` is pure numpy), one generation
at a time: a result from an older request is dropped. The picture is one
`GraphItem`; this class owns the state the user changes (collapsed scopes,
selection, search, highlight, the subgraph breadcrumb) and the state the
debugger feeds in (node states, breakpoints, overlay values).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import (
    QObject,
    QPoint,
    QPointF,
    QRectF,
    QRunnable,
    QSize,
    Qt,
    QThreadPool,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QKeyEvent,
    QLinearGradient,
    QMouseEvent,
    QPainter,
    QPen,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QFrame, QGraphicsScene, QGraphicsView, QToolTip, QWidget

from gui.graph.colors import CATEGORIES
from gui.graph.graph_item import BACKGROUND, STATE_CODES, GraphItem, colormap
from gui.graph.layout import (
    SCOPE,
    Layout,
    Scope,
    count_boxes,
    layout_graph,
    prepare,
    scopes_deeper_than,
)
from gui.graph.minimap import Minimap
from inspectors.graph import Graph, shape_text

#: Search jumps zoom in to at least this scale, where labels are drawn.
READABLE_SCALE = 0.5

#: The minimap's colour for a box the value overlay has no number for.
NO_VALUE_RGB = (214, 218, 224)

#: Above this many boxes a graph opens collapsed to the deepest level that fits.
DRAWABLE_BOXES = 3000


@dataclass
class _Level:
    """One entry of the subgraph breadcrumb."""

    graph: Graph
    name: str
    collapsed: set[Scope] = field(default_factory=set)
    center: QPointF | None = None
    scale: float = 1.0


class _LayoutDone(QObject):
    done = Signal(int, object)  # generation, (Layout, collapsed, note) or Exception


class _LayoutTask(QRunnable):
    """Lays a graph out off the GUI thread; reports through a queued signal."""

    def __init__(self, emitter, gen, graph, collapsed, auto, hint_x) -> None:
        super().__init__()
        self.emitter, self.gen, self.graph = emitter, gen, graph
        self.collapsed, self.auto, self.hint_x = collapsed, auto, hint_x

    def run(self) -> None:
        try:
            prep = prepare(self.graph)
            collapsed, note = self.collapsed, ""
            if self.auto:
                collapsed, note = _auto_collapse(self.graph)
            layout = layout_graph(prep, collapsed, hint_x=self.hint_x)
            self.emitter.done.emit(self.gen, (layout, collapsed, note))
        except Exception as exc:  # shown as a note; the view stays usable
            self.emitter.done.emit(self.gen, exc)


def _auto_collapse(graph: Graph) -> tuple[set[Scope], str]:
    """Everything expanded if it is drawable, else collapsed to the deepest level that is."""
    prep = prepare(graph)
    max_depth = int(prep.scope_depth.max()) if len(prep.scope_depth) else 0
    if count_boxes(graph, max_depth) <= DRAWABLE_BOXES:
        return set(), ""
    depth = 0
    for d in range(max_depth):
        if count_boxes(graph, d) <= DRAWABLE_BOXES:
            depth = d
        else:
            break
    n = len(graph)
    if max_depth == 0:
        return set(), f"Graph has {n:,} nodes and no scopes to collapse: drawn in full"
    return (
        scopes_deeper_than(graph, depth),
        f"Graph has {n:,} nodes: opened collapsed to depth {depth}",
    )


#: Below this zoom a fit leaves labels too small to read: the first view zooms in.
READABLE_FIT = 0.5
#: The zoom of a first view that does not fit (labels and shapes drawn in full).
READABLE_SCALE = 0.8


class GraphView(QGraphicsView):
    """Pan, zoom, collapse, search and select over a laid-out Graph."""

    node_selected = Signal(str)  # node id; "" when cleared (or a collapsed scope is picked)
    scope_selected = Signal(tuple)  # a collapsed scope box was clicked
    node_activated = Signal(str)  # double-click on a plain node
    layout_started = Signal()
    layout_finished = Signal(int)  # number of drawn boxes
    breadcrumb_changed = Signal(list)  # graph names, root first
    note = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._scene = QGraphicsScene(self)
        self._scene.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self._scene.setBackgroundBrush(BACKGROUND)
        self.setScene(self._scene)
        self._item = GraphItem()
        self._item.shape_of = self._shape_of_box
        self._scene.addItem(self._item)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setOptimizationFlags(
            QGraphicsView.OptimizationFlag.DontSavePainterState
            | QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing
        )
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
        self.setMouseTracking(True)

        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._emitter = _LayoutDone(self)
        self._emitter.done.connect(self._on_layout)
        self._gen = 0
        self._busy = False

        self._stack: list[_Level] = []
        self._layout: Layout | None = None
        self._collapsed: set[Scope] = set()
        self._selected: str | None = None
        self._pending_center: str | None = None
        self._fit_after_layout = True
        self._matches: list[str] = []
        self._match_pos = -1
        self._highlight_mode = "none"
        self._states: dict[str, str] = {}
        self._shown: set[str] | None = None
        self._breakpoints: set[str] = set()
        self._overlay: tuple[dict[str, float], str, bool] | None = None
        # the colour scale starts at 0, not at the smallest value (a difference: 0 is none)
        self.overlay_from_zero = False
        #: said in the middle of the view while `set_shown` shows no node at all
        self.empty_hint = (
            "Nothing has run yet: this graph is drawn node by node as the model runs "
            "(F11 steps into the first node, F5 continues)."
        )
        self._overlay_range: tuple[float, float] = (0.0, 1.0)
        self._adjacency: tuple[list[list[int]], list[list[int]]] | None = None
        self._press: QPoint | None = None
        self.show_legend = True

        self._minimap = Minimap(self)
        self._minimap.jumped.connect(self.centerOn)
        self._minimap.hide()
        self._minimap_wanted = True
        self._minimap_fits = True
        self._fitted: tuple[float, QPointF] | None = None  # scale and centre of the last fit
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.horizontalScrollBar().valueChanged.connect(self._sync_minimap)
        self.verticalScrollBar().valueChanged.connect(self._sync_minimap)

    # -- graph and layout ------------------------------------------------------------------

    def set_graph(self, graph: Graph) -> None:
        """Show `graph` (asynchronously); huge graphs open collapsed with a `note`."""
        self._stack = [_Level(graph, graph.name or "graph")]
        self._selected = None
        self._matches, self._match_pos = [], -1
        self._states, self._breakpoints, self._overlay = {}, set(), None
        self._shown = None
        self._fit_after_layout = True
        self._relayout(auto=True)
        self.breadcrumb_changed.emit(self.breadcrumb())

    def graph(self) -> Graph | None:
        return self._stack[-1].graph if self._stack else None

    def root_graph(self) -> Graph | None:
        return self._stack[0].graph if self._stack else None

    def current_layout(self) -> Layout | None:
        return self._layout

    def is_busy(self) -> bool:
        """True while a layout is being computed."""
        return self._busy

    def breadcrumb(self) -> list[str]:
        return [level.name for level in self._stack]

    def add_nodes_incremental(self, graph: Graph) -> None:
        """The graph grew (eager capture): relayout, keeping known nodes where they were."""
        if not self._stack:
            self.set_graph(graph)
            return
        if self._stack[-1].graph is not graph:
            self._stack[-1].graph = graph
        hint = None
        lay = self._layout
        if lay is not None and len(lay):
            xs = (lay.rects[:, 0] + lay.rects[:, 2] / 2).tolist()
            hint = {nid: x for nid, x in zip(lay.ids, xs, strict=True) if nid}
        self._fit_after_layout = False
        self._relayout(hint_x=hint)

    def _relayout(self, auto: bool = False, hint_x: dict[str, float] | None = None) -> None:
        graph = self.graph()
        if graph is None:
            return
        self._gen += 1
        self._busy = True
        self.layout_started.emit()
        task = _LayoutTask(self._emitter, self._gen, graph, set(self._collapsed), auto, hint_x)
        self._pool.start(task)

    def _on_layout(self, gen: int, result: object) -> None:
        if gen != self._gen:
            return  # superseded by a newer request
        self._busy = False
        if isinstance(result, Exception):
            self.note.emit(f"Layout failed: {type(result).__name__}: {result}")
            self.layout_finished.emit(0)
            return
        layout, collapsed, note = result  # type: ignore[misc]
        self._collapsed = set(collapsed)
        self._stack[-1].collapsed = set(collapsed)
        old_center = self.mapToScene(self.viewport().rect().center())
        self._layout = layout
        self._adjacency = None
        self._item.set_layout(layout)
        margin = 400.0
        self._scene.setSceneRect(
            QRectF(-margin, -margin, layout.width + 2 * margin, layout.height + 2 * margin)
        )
        graph = self.graph()
        if graph is not None:
            subs = np.zeros(len(layout), bool)
            for b, nid in enumerate(layout.ids):
                if nid and graph.nx.nodes[nid].get("subgraph"):
                    subs[b] = True
            self._item.subgraph_boxes = subs
        self._minimap.set_layout(None)  # not redrawn with the old layout by the next line
        self._apply_decorations()
        self._minimap.set_layout(layout)
        self._place_minimap()
        if self._fit_after_layout:
            self._fit_after_layout = False
            level = self._stack[-1]
            if level.center is not None:
                self.resetTransform()
                self.scale(level.scale, level.scale)
                self.centerOn(level.center)
            else:
                self.first_view()
        else:
            self.centerOn(old_center)
        if self._pending_center:
            target, self._pending_center = self._pending_center, None
            self.center_on_node(target)
        if note:
            self.note.emit(note)
        self._sync_minimap()
        self.viewport().update()
        self.layout_finished.emit(layout.visible_count)

    # -- collapsing -------------------------------------------------------------------------

    def collapsed_scopes(self) -> set[Scope]:
        """Scopes drawn as one box right now (outermost only)."""
        lay = self._layout
        return set(lay.scope_box) if lay is not None else set()

    def visible_node_count(self) -> int:
        return self._layout.visible_count if self._layout is not None else 0

    def _child_scopes(self, scope: Scope) -> set[Scope]:
        graph = self.graph()
        if graph is None:
            return set()
        k = len(scope)
        return {s for s in prepare(graph).scopes if len(s) == k + 1 and s[:k] == scope}

    def expand(self, scope: Scope) -> None:
        """Draw `scope` as a group of its members (and open every scope around it)."""
        scope = tuple(scope)
        changed = False
        for k in range(1, len(scope) + 1):
            prefix = scope[:k]
            if prefix in self._collapsed:
                self._collapsed.discard(prefix)
                changed = True
                if k < len(scope):  # opening a parent on the way: keep its other children shut
                    self._collapsed |= self._child_scopes(prefix) - {scope[: k + 1]}
        if changed:
            self._relayout()
        else:
            self._unchanged()

    def collapse(self, scope: Scope) -> None:
        scope = tuple(scope)
        if scope and scope not in self.collapsed_scopes():
            self._collapsed.add(scope)
            self._relayout()
        else:
            self._unchanged()

    def _unchanged(self) -> None:
        """Every expand / collapse answers with one `layout_finished`, even a no-op."""
        if self._busy or self._layout is None:
            return  # the pending layout will report
        QTimer.singleShot(0, lambda: self.layout_finished.emit(self.visible_node_count()))

    def toggle(self, scope: Scope) -> None:
        if tuple(scope) in self.collapsed_scopes():
            self.expand(scope)
        else:
            self.collapse(scope)

    def expand_all(self) -> None:
        self._collapsed = set()
        self._relayout()

    def collapse_to_depth(self, depth: int) -> None:
        """Collapse every scope deeper than `depth` (0: each top-level scope is one box)."""
        graph = self.graph()
        if graph is None:
            return
        self._collapsed = scopes_deeper_than(graph, max(0, depth))
        self._relayout()

    # -- selection and search -------------------------------------------------------------

    def select(self, node_id: str | None, center: bool = True) -> None:
        node_id = node_id or None
        lay = self._layout
        if node_id is not None and lay is not None and not lay.boxes_of(node_id):
            graph = self.graph()
            if graph is None or node_id not in graph:
                node_id = None
        self._selected = node_id
        self._update_selection()
        if node_id and center:
            self.center_on_node(node_id)
        self.node_selected.emit(node_id or "")

    def selected(self) -> str | None:
        return self._selected

    def _update_selection(self) -> None:
        lay = self._layout
        if lay is None:
            return
        boxes = lay.boxes_of(self._selected) if self._selected else []
        self._item.selected_boxes = np.asarray(boxes, np.int64)
        self._update_highlight()
        self.viewport().update()

    def center_on_node(self, node_id: str) -> None:
        """Centre on the node's box; a node inside a collapsed scope opens it first."""
        lay = self._layout
        graph = self.graph()
        if lay is None or graph is None or node_id not in graph:
            return
        boxes = lay.boxes_of(node_id)
        if boxes and lay.kinds[boxes[0]] == SCOPE:
            self._pending_center = node_id
            self.expand(graph.nx.nodes[node_id].get("scope") or ())
            if not self._busy:
                self._pending_center = None
                self.centerOn(self._box_rect(boxes[0]).center())
            return
        if boxes:
            self.centerOn(self._box_rect(boxes[0]).center())

    def reveal_node(self, node_id: str) -> bool:
        """`_reveal_once`, again when the move brought the minimap up over the node."""
        moved = self._reveal_once(node_id)
        if moved and self._reveal_once(node_id):
            return True
        return moved

    def _reveal_once(self, node_id: str) -> bool:
        """Bring the node's box fully into view with the least scroll, clear of the
        legend and the minimap; a box already in view leaves the view where it is (a
        pause must not move the picture the user is reading). True when it moved."""
        lay = self._layout
        if lay is None or not lay.boxes_of(node_id):
            return False
        self._sync_minimap()
        box = QRectF(self.mapFromScene(self.node_rect(node_id)).boundingRect())
        whole = QRectF(self.viewport().rect())
        if whole.adjusted(3, 3, -3, -3).contains(box) and not any(
            box.intersects(cover) for cover in self._covers()
        ):
            return False  # in view (a pixel of rounding either way is still in view)
        port = whole.adjusted(8, 8, -8, -8)
        dx = _shift_into(box.left(), box.right(), port.left(), port.right())
        dy = _shift_into(box.top(), box.bottom(), port.top(), port.bottom())
        moved = QRectF(box).translated(dx, dy)
        for cover in self._covers():
            if moved.intersects(cover):
                # past the cover's nearer edge, by whichever way is shorter
                options = [
                    (cover.bottom() + 6 - moved.top(), "y"),
                    (cover.top() - 6 - moved.bottom(), "y"),
                    (cover.right() + 6 - moved.left(), "x"),
                    (cover.left() - 6 - moved.right(), "x"),
                ]
                fits = [
                    (d, axis)
                    for d, axis in options
                    if port.contains(
                        moved.translated(d if axis == "x" else 0, d if axis == "y" else 0)
                    )
                ]
                if fits:
                    d, axis = min(fits, key=lambda o: abs(o[0]))
                    moved.translate(d if axis == "x" else 0, d if axis == "y" else 0)
                    dx, dy = moved.left() - box.left(), moved.top() - box.top()
        if abs(dx) < 1 and abs(dy) < 1:
            return False
        # a positive shift moves the box right / down on screen: the centre goes the other way
        scale = self.transform().m11()
        port_rect = self.viewport().rect()
        target = self.mapToScene(port_rect.center()) - QPointF(dx / scale, dy / scale)
        shown = QRectF(0, 0, port_rect.width() / scale, port_rect.height() / scale)
        shown.moveCenter(target)
        self._scene.setSceneRect(self._scene.sceneRect().united(shown))
        self.centerOn(target)
        self._fitted = None
        self._sync_minimap()
        return True

    def _covers(self) -> list[QRectF]:
        """What is drawn over the graph, in viewport pixels: the legend, the minimap."""
        covers = []
        legend = self.legend_rect()
        if not legend.isEmpty() and (self._overlay is not None or not self.legend_too_big()):
            covers.append(legend)
        if self._minimap.isVisible():
            covers.append(
                QRectF(self._minimap.geometry()).translated(
                    -self.viewport().x(), -self.viewport().y()
                )
            )
        return covers

    def find(self, text: str) -> int:
        """Nodes whose id, label or op contain `text` (any case); selects the first."""
        graph = self.graph()
        needle = text.strip().lower()
        self._matches, self._match_pos = [], -1
        if graph is None or not needle:
            self._item.match_boxes = np.zeros(0, np.int64)
            self.viewport().update()
            return 0
        placed = set(graph.order)
        order = graph.order + [n for n in graph.nx.nodes if n not in placed]
        nodes = graph.nx.nodes
        for nid in order:
            d = nodes[nid]
            if d.get("hidden"):
                continue
            if (
                needle in nid.lower()
                or needle in str(d.get("label") or "").lower()
                or needle in str(d.get("op") or "").lower()
            ):
                self._matches.append(nid)
        self._update_matches()
        if self._matches:
            self._match_pos = 0
            self._reveal(self._matches[0])
        return len(self._matches)

    def matches(self) -> list[str]:
        return list(self._matches)

    def _update_matches(self) -> None:
        lay = self._layout
        if lay is None:
            return
        boxes = [b for nid in self._matches for b in lay.boxes_of(nid)]
        self._item.match_boxes = np.unique(np.asarray(boxes, np.int64))
        self.viewport().update()

    def find_next(self) -> str | None:
        return self._step_match(1)

    def find_previous(self) -> str | None:
        return self._step_match(-1)

    def _step_match(self, step: int) -> str | None:
        if not self._matches:
            return None
        self._match_pos = (self._match_pos + step) % len(self._matches)
        nid = self._matches[self._match_pos]
        self._reveal(nid)
        return nid

    def _reveal(self, node_id: str) -> None:
        """Select a search match: zoomed out too far to read it, zoom in on it; else
        scroll only if it is not in view (a graph that fits stays put)."""
        self.select(node_id, center=False)
        rect = self.node_rect(node_id)
        if rect is not None and self.transform().m11() < READABLE_SCALE:
            self.resetTransform()
            self.scale(1.0, 1.0)
            self.centerOn(rect.center())
            self._sync_minimap()
        elif rect is not None:
            self.reveal_node(node_id)

    # -- highlight --------------------------------------------------------------------------

    def set_highlight_mode(self, mode: str) -> None:
        if mode not in ("none", "ancestors", "descendants"):
            raise ValueError(f"highlight mode {mode!r}: use none, ancestors or descendants")
        self._highlight_mode = mode
        self._update_highlight()
        self.viewport().update()

    def _update_highlight(self) -> None:
        lay = self._layout
        sel = self._item.selected_boxes
        if lay is None or self._highlight_mode == "none" or len(sel) == 0:
            self._item.highlight = None
            return
        if self._adjacency is None:
            n = len(lay)
            succ: list[list[int]] = [[] for _ in range(n)]
            pred: list[list[int]] = [[] for _ in range(n)]
            for s, d in zip(lay.edge_src.tolist(), lay.edge_dst.tolist(), strict=True):
                succ[s].append(d)
                pred[d].append(s)
            self._adjacency = (succ, pred)
        nbrs = self._adjacency[1] if self._highlight_mode == "ancestors" else self._adjacency[0]
        mark = np.zeros(len(lay), bool)
        queue = deque(sel.tolist())
        mark[sel] = True
        while queue:
            for v in nbrs[queue.popleft()]:
                if not mark[v]:
                    mark[v] = True
                    queue.append(v)
        self._item.highlight = mark

    # -- subgraphs ----------------------------------------------------------------------------

    def open_subgraph(self, node_id: str) -> bool:
        """Step into the body of a control-flow / call node; False if it has none."""
        graph = self.graph()
        if graph is None or node_id not in graph:
            return False
        key = graph.nx.nodes[node_id].get("subgraph")
        sub = graph.subgraphs.get(key) if key else None
        if sub is None and key:
            root = self.root_graph()
            sub = dict(root.all_subgraphs()).get(key) if root is not None else None
        if sub is None:
            return False
        level = self._stack[-1]
        level.collapsed = set(self._collapsed)
        level.center = self.mapToScene(self.viewport().rect().center())
        level.scale = self.transform().m11()
        label = graph.nx.nodes[node_id].get("label") or node_id
        self._stack.append(_Level(sub, f"{label} ({sub.name or key})"))
        self._collapsed = set()
        self._selected = None
        self._fit_after_layout = True
        self._relayout(auto=True)
        self.breadcrumb_changed.emit(self.breadcrumb())
        return True

    def go_up(self) -> None:
        """Back to the graph that holds the current subgraph."""
        if len(self._stack) <= 1:
            return
        self._stack.pop()
        level = self._stack[-1]
        self._collapsed = set(level.collapsed)
        self._selected = None
        self._fit_after_layout = True
        self._relayout()
        self.breadcrumb_changed.emit(self.breadcrumb())

    def go_to_level(self, index: int) -> None:
        """Back to breadcrumb entry `index` (0 is the root graph)."""
        while len(self._stack) > max(1, index + 1):
            self.go_up()

    # -- debugger decorations -------------------------------------------------------------

    def set_shown(self, node_ids: set[str] | None) -> None:
        """Draw only these nodes (and the edges between them); None: all. Positions stay
        those of the whole graph's layout, so a graph revealed node by node never moves."""
        self._shown = None if node_ids is None else set(node_ids)
        self._apply_shown()
        self.viewport().update()

    @staticmethod
    def _boxes_mask(lay: Layout, node_ids: set[str]) -> np.ndarray:
        """Per box of `lay`: whether it draws one of `node_ids`."""
        mask = np.zeros(len(lay), bool)
        for nid in node_ids:
            mask[lay.boxes_of(nid)] = True
        return mask

    def _apply_shown(self) -> None:
        lay = self._layout
        if lay is None:
            return
        self._item.shown = None if self._shown is None else self._boxes_mask(lay, self._shown)

    def set_node_states(self, states: dict[str, str]) -> None:
        self._states = dict(states)
        self._apply_states()
        self.viewport().update()

    def set_breakpoints(self, node_ids: set[str]) -> None:
        self._breakpoints = set(node_ids)
        self._apply_breakpoints()
        self.viewport().update()

    def set_overlay(
        self, values: dict[str, float] | None, title: str = "", log: bool = False
    ) -> None:
        """Colour every node by a number (None clears); a colour bar explains the scale."""
        self._overlay = (dict(values), title, log) if values else None
        self._apply_overlay()
        self.viewport().update()

    def _apply_decorations(self) -> None:
        self._apply_shown()
        self._apply_states()
        self._apply_breakpoints()
        self._apply_overlay()
        self._update_selection()
        self._update_matches()

    def _apply_states(self) -> None:
        lay = self._layout
        if lay is None:
            return
        state = np.zeros(len(lay), np.int8)
        for nid, s in self._states.items():
            code = STATE_CODES.get(s, 0)
            for b in lay.boxes_of(nid):
                # a collapsed box shows its most telling member state
                if code > state[b] or state[b] == 1:
                    state[b] = code if not (state[b] > 1 and code == 1) else state[b]
        self._item.state = state

    def _apply_breakpoints(self) -> None:
        lay = self._layout
        if lay is None:
            return
        self._item.breakpoint = self._boxes_mask(lay, self._breakpoints)

    def _apply_overlay(self) -> None:
        lay = self._layout
        if lay is None:
            return
        if self._overlay is None:
            self._item.overlay = None
            self._item.overlay_has = np.zeros(len(lay), bool)
            self._minimap.set_colours(None)
            return
        values, _, log = self._overlay
        vals = np.full(len(lay), np.nan)
        # On a log scale zeros sit one decade below the smallest non-zero value, not at
        # an arbitrary 1e-12 that would squash every real value into the top colours.
        positive = [abs(float(v)) for v in values.values() if v and math.isfinite(float(v))]
        floor = min(positive) / 10 if positive else 1.0
        for nid, v in values.items():
            for b in lay.boxes_of(nid):
                if v is None or not math.isfinite(float(v)):
                    continue
                x = math.log10(max(abs(float(v)), floor)) if log else float(v)
                vals[b] = x if math.isnan(vals[b]) else max(vals[b], x)
        has = ~np.isnan(vals)
        lo = float(np.nanmin(vals)) if has.any() else 0.0
        hi = float(np.nanmax(vals)) if has.any() else 1.0
        if self.overlay_from_zero and not log:
            lo = min(lo, 0.0)
        self._overlay_range = (lo, hi)
        flat = 0.0 if self.overlay_from_zero else 0.5  # every value the same
        t = (vals - lo) / (hi - lo) if hi > lo else np.full(len(vals), flat)
        self._item.overlay = colormap(t)
        self._item.overlay_has = has
        shown = self._item.overlay.copy()
        shown[~has] = NO_VALUE_RGB  # the minimap in the overlay's colours too
        self._minimap.set_colours(shown)

    # -- geometry -----------------------------------------------------------------------------

    def _box_rect(self, b: int) -> QRectF:
        assert self._layout is not None
        return QRectF(*self._layout.rects[b].tolist())

    def node_rect(self, node_id: str) -> QRectF | None:
        lay = self._layout
        if lay is None:
            return None
        boxes = lay.boxes_of(node_id)
        return self._box_rect(boxes[0]) if boxes else None

    def _box_at_scene(self, p: QPointF) -> int | None:
        lay = self._layout
        if lay is None or len(lay) == 0:
            return None
        hit = _rects_at(lay.rects, p)
        return int(hit[-1]) if len(hit) else None

    def _group_at_scene(self, p: QPointF) -> Scope | None:
        lay = self._layout
        if lay is None or len(lay.group_rects) == 0:
            return None
        hit = _rects_at(lay.group_rects, p)
        if len(hit) == 0:
            return None
        return lay.group_scopes[int(hit[np.argmax(lay.group_depth[hit])])]

    def node_at(self, view_pos: QPoint) -> str | None:
        """The node under a viewport position (None over empty space or a collapsed box)."""
        b = self._box_at_scene(self.mapToScene(view_pos))
        if b is None or self._layout is None:
            return None
        return self._layout.ids[b] or None

    def scope_at(self, view_pos: QPoint) -> Scope | None:
        """The collapsed scope box or the innermost group under a viewport position."""
        p = self.mapToScene(view_pos)
        b = self._box_at_scene(p)
        if b is not None and self._layout is not None and self._layout.kinds[b] == SCOPE:
            return self._layout.scopes[b]
        return self._group_at_scene(p) if b is None else None

    def _shape_of_box(self, b: int) -> str:
        lay, graph = self._layout, self.graph()
        if lay is None or graph is None or not lay.ids[b] or lay.ids[b] not in graph:
            return ""
        outs = graph.nx.nodes[lay.ids[b]].get("outputs") or ()
        return shape_text(outs[0][0]) if outs else ""

    # -- zoom ----------------------------------------------------------------------------------

    def zoom_to_fit(self) -> None:
        """Show the whole graph, clear of the legend (beside or below it, whichever is
        larger); a tiny graph stops at a readable 1.5x."""
        lay = self._layout
        if lay is None or len(lay) == 0:
            return
        rect = QRectF(0, 0, lay.width, lay.height)
        vw, vh = self.viewport().width(), self.viewport().height()
        pad = 8.0
        legend = self.legend_rect()
        areas = [QRectF(pad, pad, vw - 2 * pad, vh - 2 * pad)]
        if not legend.isEmpty():
            areas = [
                QRectF(pad, legend.bottom() + pad, vw - 2 * pad, vh - legend.bottom() - 2 * pad),
                QRectF(legend.right() + pad, pad, vw - legend.right() - 2 * pad, vh - 2 * pad),
            ]

        def scale_in(area: QRectF) -> float:
            w, h = max(area.width(), 1.0), max(area.height(), 1.0)
            return min(w / max(rect.width(), 1.0), h / max(rect.height(), 1.0))

        area = max(areas, key=scale_in)
        scale = min(1.5, max(0.002, scale_in(area)))
        self.resetTransform()
        self.scale(scale, scale)
        # The scene point to put at the viewport's centre so the graph sits in `area`.
        shift = area.center() - QPointF(vw / 2, vh / 2)
        center = rect.center() - shift / scale
        shown = QRectF(0, 0, vw / scale, vh / scale)
        shown.moveCenter(center)
        self._scene.setSceneRect(self._scene.sceneRect().united(shown))
        self.centerOn(center)
        self._fitted = (scale, self.mapToScene(self.viewport().rect().center()))
        self._sync_minimap()

    def first_view(self) -> None:
        """A graph's first view: the whole of it when its labels can still be read so;
        else readable (the zoom of `READABLE_SCALE`) at its top, where execution
        starts, the first node clear of the legend; the minimap shows the rest."""
        self.zoom_to_fit()
        lay = self._layout
        if self._fitted is None or self._fitted[0] >= READABLE_FIT or lay is None:
            return
        scale = READABLE_SCALE
        self.resetTransform()
        self.scale(scale, scale)
        rects = lay.rects
        first = int(np.lexsort((rects[:, 0], rects[:, 1]))[0])  # topmost, then leftmost
        x, y, w, _h = (float(v) for v in rects[first])
        port_w, port_h = self.viewport().width(), self.viewport().height()
        vw, vh = port_w / scale, port_h / scale
        legend = self.legend_rect()
        # the node sits centred near the top; lower when that would be under the legend
        under_legend = (port_w - w * scale) / 2 < legend.right() + 8
        margin = (legend.bottom() + 16.0) if under_legend else 24.0
        center = QPointF(x + w / 2, y - margin / scale + vh / 2)
        shown = QRectF(0, 0, vw, vh)
        shown.moveCenter(center)
        self._scene.setSceneRect(self._scene.sceneRect().united(shown))
        self.centerOn(center)
        self._fitted = None
        self._sync_minimap()

    def legend_rect(self) -> QRectF:
        """Where the legend (or an overlay's colour bar) is drawn, in viewport pixels."""
        lay = self._layout
        if lay is None or len(lay) == 0:
            return QRectF()
        if self._overlay is not None:
            return QRectF(10, 10, 190, 52)
        if not self.show_legend:
            return QRectF()
        return QRectF(10, 10, 150, 10 + 17 * len(np.unique(lay.cats)))

    def _zoom(self, factor: float, anchor: QGraphicsView.ViewportAnchor | None = None) -> None:
        current = self.transform().m11()
        target = min(4.0, max(0.002, current * factor))
        if anchor is not None:
            old = self.transformationAnchor()
            self.setTransformationAnchor(anchor)
            self.scale(target / current, target / current)
            self.setTransformationAnchor(old)
        else:
            self.scale(target / current, target / current)
        self._sync_minimap()

    def zoom_in(self) -> None:
        self._zoom(1.25, QGraphicsView.ViewportAnchor.AnchorViewCenter)

    def zoom_out(self) -> None:
        self._zoom(0.8, QGraphicsView.ViewportAnchor.AnchorViewCenter)

    def zoom_to_selection(self) -> None:
        rect = self.node_rect(self._selected) if self._selected else None
        if rect is None:
            return
        self.resetTransform()
        self.scale(1.2, 1.2)
        self.centerOn(rect.center())
        self._sync_minimap()

    # -- export ----------------------------------------------------------------------------------

    def render_graph(self, painter: QPainter, target: QRectF, full_detail: bool = False) -> None:
        """Draw the whole laid-out graph into `target` (device units of `painter`), as
        the view draws it: labels by the zoom this makes, or every label with
        `full_detail`. Used by the exports and `graphstep render`."""
        lay = self._layout
        if lay is None:
            raise RuntimeError("no graph to export")
        source = QRectF(0, 0, lay.width, lay.height)
        self._item.force_lod = 2 if full_detail else None
        try:
            painter.fillRect(target, BACKGROUND)
            self._scene.render(painter, target, source)
        finally:
            self._item.force_lod = None

    def export_png(self, path: str, max_side: int = 8000) -> None:
        """The whole graph as a PNG, at up to 2x scale and at most `max_side` pixels."""
        lay = self._layout
        if lay is None:
            raise RuntimeError("no graph to export")
        scale = min(2.0, max_side / max(lay.width, lay.height, 1.0))
        size = QSize(max(1, int(lay.width * scale)), max(1, int(lay.height * scale)))
        img = QImage(size, QImage.Format.Format_ARGB32)
        img.fill(BACKGROUND)
        p = QPainter(img)
        p.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.render_graph(p, QRectF(0, 0, size.width(), size.height()))
        p.end()
        if not img.save(path, "PNG"):
            raise OSError(f"could not write {path}")

    def export_svg(self, path: str) -> None:
        """The whole graph as SVG, every label included."""
        from PySide6.QtSvg import QSvgGenerator

        lay = self._layout
        if lay is None:
            raise RuntimeError("no graph to export")
        gen = QSvgGenerator()
        gen.setFileName(path)
        gen.setSize(QSize(int(lay.width), int(lay.height)))
        gen.setViewBox(QRectF(0, 0, lay.width, lay.height))
        gen.setTitle(self.graph().name if self.graph() is not None else "graph")
        p = QPainter(gen)
        try:
            self.render_graph(p, QRectF(0, 0, lay.width, lay.height), full_detail=True)
        finally:
            p.end()

    # -- events ----------------------------------------------------------------------------------

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        delta = event.angleDelta().y()
        if delta:
            self._zoom(1.0015**delta)
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        key = event.key()
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_in()
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
            self.zoom_out()
        elif key in (Qt.Key.Key_0, Qt.Key.Key_F):
            self.zoom_to_fit()
        elif key == Qt.Key.Key_Backspace:
            self.go_up()
        elif key == Qt.Key.Key_Escape:
            self.select(None)
        else:
            super().keyPressEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._press = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        super().mouseReleaseEvent(event)
        self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
        pos = event.position().toPoint()
        if (
            event.button() == Qt.MouseButton.LeftButton
            and self._press is not None
            and (pos - self._press).manhattanLength() < 5
        ):
            p = self.mapToScene(pos)
            b = self._box_at_scene(p)
            lay = self._layout
            if b is not None and lay is not None and lay.kinds[b] == SCOPE:
                self._selected = None
                self._item.selected_boxes = np.asarray([b], np.int64)
                self._update_highlight()
                self.viewport().update()
                self.node_selected.emit("")
                self.scope_selected.emit(lay.scopes[b])
            else:
                self.select(self.node_at(pos), center=False)
        self._press = None
        event.accept()  # the view handled the click (Qt warns about unaccepted releases)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position().toPoint()
        p = self.mapToScene(pos)
        b = self._box_at_scene(p)
        lay = self._layout
        if lay is None:
            return
        if b is not None:
            if lay.kinds[b] == SCOPE:
                self.expand(lay.scopes[b])
            elif lay.ids[b]:
                nid = lay.ids[b]
                if not self.open_subgraph(nid):
                    self.node_activated.emit(nid)
        else:
            group = self._group_at_scene(p)
            if group is not None:
                self.collapse(group)
        event.accept()

    def viewportEvent(self, event) -> bool:  # noqa: N802
        if event.type() == event.Type.ToolTip:
            text = self._tooltip(event.pos())
            if text:
                QToolTip.showText(event.globalPos(), text, self.viewport())
            else:
                QToolTip.hideText()
            return True
        return super().viewportEvent(event)

    def tooltip_text(self, view_pos: QPoint) -> str:
        return self._tooltip(view_pos)

    def _tooltip(self, view_pos: QPoint) -> str:
        lay, graph = self._layout, self.graph()
        if lay is None or graph is None:
            return ""
        p = self.mapToScene(view_pos)
        b = self._box_at_scene(p)
        if b is None:
            group = self._group_at_scene(p)
            return f"<b>{'/'.join(group)}</b><br>double-click to collapse" if group else ""
        if lay.kinds[b] == SCOPE:
            return (
                f"<b>{'/'.join(lay.scopes[b])}</b><br>{int(lay.members[b]):,} nodes"
                "<br>double-click to expand"
            )
        nid = lay.ids[b]
        d = graph.nx.nodes[nid]
        rows = [f"<b>{d.get('label') or nid}</b> <span style='color:#5f6b7a'>({nid})</span>"]
        rows.append(f"op: {d.get('op')} &nbsp; kind: {d.get('kind')}")
        for i, (shape, dtype) in enumerate(d.get("outputs") or ()):
            rows.append(f"out{i}: {shape_text(shape)} {dtype or ''}")
        if d.get("scope"):
            rows.append("scope: " + "/".join(d["scope"]))
        if d.get("source"):
            rows.append(f"source: {d['source']}")
        if d.get("subgraph"):
            rows.append("double-click to open its subgraph")
        state = self._states.get(nid)
        if state:
            rows.append(f"state: {state}")
        if self._overlay is not None and nid in self._overlay[0]:
            rows.append(f"{self._overlay[1] or 'value'}: {self._overlay[0][nid]:.4g}")
        return "<br>".join(rows)

    # -- overlays drawn on the viewport ----------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        old = event.oldSize()
        fitted = old.isValid() and self._is_fitted(QRectF(0, 0, old.width(), old.height()))
        super().resizeEvent(event)
        if fitted:
            self.zoom_to_fit()  # a view left as fitted stays fitted as the window changes
        self._place_minimap()
        self._sync_minimap()

    def _is_fitted(self, port: QRectF | None = None) -> bool:
        """Whether the view is as the last zoom-to-fit left it (not zoomed or panned since);
        `port` is the viewport's rect when it is being resized."""
        if self._fitted is None:
            return False
        scale, center = self._fitted
        port = port if port is not None else QRectF(self.viewport().rect())
        now = self.mapToScene(port.center().toPoint())
        tolerance = 2.0 / scale
        return (
            abs(self.transform().m11() - scale) < 1e-9
            and abs(now.x() - center.x()) <= tolerance
            and abs(now.y() - center.y()) <= tolerance
        )

    def _place_minimap(self) -> None:
        """A quarter of the view at most (4:3, up to 200 x 150), in its bottom-right corner;
        none in a view too small to spare the room."""
        m = self._minimap
        port = self.viewport().geometry()
        w = int(min(200, port.width() / 4, port.height() / 4 * 4 / 3))
        self._minimap_fits = w >= 80
        if self._minimap_fits:
            m.set_size(w, w * 3 // 4)
        m.move(port.right() - m.width() - 8, port.bottom() - m.height() - 8)

    def _sync_minimap(self, *_: object) -> None:
        """Show the minimap only when part of the graph is out of view."""
        lay = self._layout
        if lay is None or len(lay) == 0 or not self._minimap_wanted or not self._minimap_fits:
            self._minimap.hide()
            return
        visible = self.mapToScene(self.viewport().rect()).boundingRect()
        needed = not visible.contains(QRectF(0, 0, lay.width, lay.height))
        if needed != self._minimap.isVisible():
            self._minimap.setVisible(needed)
        if needed:
            self._minimap.set_visible_rect(visible)

    def set_minimap_visible(self, visible: bool) -> None:
        self._minimap_wanted = visible
        self._sync_minimap()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        lay = self._layout
        if lay is None:
            return
        if self._shown is not None and not self._shown and self.empty_hint:
            # a graph revealed as the model runs, before its first node: say so
            painter.save()
            painter.resetTransform()
            painter.setPen(QColor("#5f6b7a"))
            port = self.viewport().rect()
            painter.drawText(
                QRectF(port).adjusted(40, 40, -40, -40),
                int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap),
                self.empty_hint,
            )
            painter.restore()
        if self._overlay is None and self.legend_too_big():
            return  # a small view keeps its room for the graph (View > Legend still says on)
        painter.save()
        painter.resetTransform()
        self.paint_legend(painter)
        painter.restore()

    def legend_too_big(self) -> bool:
        """Whether the category legend would take too much of this view: it is then not
        drawn on screen (exports still draw it)."""
        legend = self.legend_rect()
        port = self.viewport().rect()
        return legend.width() * legend.height() > 0.08 * port.width() * port.height()

    def paint_legend(self, painter: QPainter) -> None:
        """Draw the legend (or the overlay's colour bar) at `legend_rect()`, in the
        painter's coordinates: the view's corner, or a place an export chose."""
        lay = self._layout
        if lay is None:
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        font = QFont()
        font.setPixelSize(11)
        painter.setFont(font)
        if self._overlay is not None:
            self._draw_colour_bar(painter)
        elif self.show_legend and len(lay):
            self._draw_legend(painter, lay)

    def _draw_legend(self, painter: QPainter, lay: Layout) -> None:
        cats = np.unique(lay.cats).tolist()
        row = 17
        box = self.legend_rect()
        w = box.width()
        painter.setPen(QPen(QColor("#d5dce5"), 1))
        painter.setBrush(QColor(255, 255, 255, 200))  # nodes under it still show through
        painter.drawRoundedRect(box, 6, 6)
        for i, c in enumerate(cats):
            name, fill, border = CATEGORIES[c]
            y = 15 + i * row
            painter.setPen(QPen(QColor(border), 1))
            painter.setBrush(QColor(fill))
            painter.drawRoundedRect(QRectF(18, y + 2, 18, 11), 3, 3)
            painter.setPen(QColor("#33404d"))
            painter.drawText(QRectF(44, y, w - 40, 15), Qt.AlignmentFlag.AlignVCenter, name)

    def _draw_colour_bar(self, painter: QPainter) -> None:
        assert self._overlay is not None
        _, title, log = self._overlay
        lo, hi = self._overlay_range
        box = self.legend_rect()
        x, y, w, h = box.x(), box.y(), box.width(), box.height()
        painter.setPen(QPen(QColor("#d5dce5"), 1))
        painter.setBrush(QColor(255, 255, 255, 235))
        painter.drawRoundedRect(QRectF(x, y, w, h), 6, 6)
        grad = QLinearGradient(x + 10, 0, x + w - 10, 0)
        stops = colormap(np.linspace(0, 1, 9))
        for i, c in enumerate(stops.tolist()):
            grad.setColorAt(i / 8, QColor(*c))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(grad)
        painter.drawRect(QRectF(x + 10, y + 20, w - 20, 10))
        painter.setPen(QColor("#33404d"))
        label = title + (" (log10)" if log else "")
        painter.drawText(QRectF(x + 10, y + 3, w - 20, 15), Qt.AlignmentFlag.AlignVCenter, label)
        painter.drawText(QRectF(x + 10, y + 32, 80, 15), Qt.AlignmentFlag.AlignLeft, f"{lo:.3g}")
        painter.drawText(
            QRectF(x + w - 90, y + 32, 80, 15), Qt.AlignmentFlag.AlignRight, f"{hi:.3g}"
        )


def _shift_into(lo: float, hi: float, port_lo: float, port_hi: float) -> float:
    """The least shift that puts [lo, hi] inside [port_lo, port_hi] (its start when it
    is too long to fit)."""
    if hi - lo > port_hi - port_lo or lo < port_lo:
        return port_lo - lo
    if hi > port_hi:
        return port_hi - hi
    return 0.0


def _rects_at(rects: np.ndarray, p: QPointF) -> np.ndarray:
    """The rows of `rects`, (x, y, width, height) each, whose rectangle holds `p`."""
    x, y = p.x(), p.y()
    left, top = rects[:, 0], rects[:, 1]
    inside = (left <= x) & (x <= left + rects[:, 2]) & (top <= y) & (y <= top + rects[:, 3])
    return np.nonzero(inside)[0]
