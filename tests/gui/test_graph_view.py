"""GraphView driven through its API and through events on its viewport."""

import numpy as np
import pytest
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest

from bench.synthetic import layered_graph, subgraph_graph, transformer_graph
from gui.graph.graph_item import colormap


def _show(qtbot, view, graph):
    with qtbot.waitSignal(view.layout_finished, timeout=20000) as blocker:
        view.set_graph(graph)
    return blocker.args[0]


def _relayout(qtbot, view, action, *args):
    with qtbot.waitSignal(view.layout_finished, timeout=20000):
        action(*args)


def _view_point(view, node_id):
    return view.mapFromScene(view.node_rect(node_id).center())


def test_set_graph_lays_out_and_reports_boxes(qtbot, view):
    g = transformer_graph(layers=2)
    count = _show(qtbot, view, g)
    assert count == view.visible_node_count() > 40
    assert view.graph() is g
    assert view.node_rect("l0.attn.q_proj") is not None


def test_collapse_and_expand_change_the_box_count(qtbot, view):
    _show(qtbot, view, transformer_graph(layers=2))
    full = view.visible_node_count()
    _relayout(qtbot, view, view.collapse, ("layers", "0"))
    assert ("layers", "0") in view.collapsed_scopes()
    assert view.visible_node_count() < full
    _relayout(qtbot, view, view.expand, ("layers", "0"))
    assert view.visible_node_count() == full
    _relayout(qtbot, view, view.collapse_to_depth, 0)
    assert view.visible_node_count() < 10
    _relayout(qtbot, view, view.expand_all)
    assert view.visible_node_count() == full


def test_a_huge_graph_opens_collapsed_with_a_note(qtbot, view):
    notes = []
    view.note.connect(notes.append)
    _show(qtbot, view, layered_graph(8000, width=20, seed=2))
    assert view.visible_node_count() <= 3000
    assert view.collapsed_scopes()
    assert notes and "collapsed to depth" in notes[0]


def test_find_selects_and_cycles(qtbot, view):
    _show(qtbot, view, transformer_graph(layers=3))
    with qtbot.waitSignal(view.node_selected) as blocker:
        n = view.find("Q_PROJ")
    assert n == 3
    assert blocker.args == ["l0.attn.q_proj"]
    assert view.find_next() == "l1.attn.q_proj"
    assert view.find_next() == "l2.attn.q_proj"
    assert view.find_next() == "l0.attn.q_proj"
    assert view.find_previous() == "l2.attn.q_proj"
    assert view.selected() == "l2.attn.q_proj"
    assert view.find("no such thing") == 0


def test_select_emits_and_clears(qtbot, view):
    _show(qtbot, view, transformer_graph(layers=1))
    with qtbot.waitSignal(view.node_selected) as blocker:
        view.select("l0.mlp.fc1")
    assert blocker.args == ["l0.mlp.fc1"] and view.selected() == "l0.mlp.fc1"
    with qtbot.waitSignal(view.node_selected) as blocker:
        view.select(None)
    assert blocker.args == [""] and view.selected() is None


def test_click_on_a_node_selects_it(qtbot, view):
    _show(qtbot, view, transformer_graph(layers=1))
    view.center_on_node("l0.mlp.gelu")
    pos = _view_point(view, "l0.mlp.gelu")
    assert view.node_at(pos) == "l0.mlp.gelu"
    with qtbot.waitSignal(view.node_selected) as blocker:
        QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert blocker.args == ["l0.mlp.gelu"]
    assert "gelu" in view.tooltip_text(pos)


def test_double_click_toggles_a_scope(qtbot, view):
    _show(qtbot, view, transformer_graph(layers=1))
    full = view.visible_node_count()
    _relayout(qtbot, view, view.collapse, ("layers", "0", "mlp"))
    rect = view.current_layout().rects[view.current_layout().scope_box[("layers", "0", "mlp")]]
    view.centerOn(rect[0] + rect[2] / 2, rect[1] + rect[3] / 2)
    pos = view.mapFromScene(rect[0] + rect[2] / 2, rect[1] + rect[3] / 2)
    with qtbot.waitSignal(view.layout_finished, timeout=20000):
        QTest.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert view.visible_node_count() == full
    # double-click inside the expanded group, off any node, collapses it again
    lay = view.current_layout()
    g = lay.group_rects[lay.group_scopes.index(("layers", "0", "mlp"))]
    view.centerOn(g[0] + 4, g[1] + 4)
    pos = view.mapFromScene(g[0] + 4, g[1] + 4)
    with qtbot.waitSignal(view.layout_finished, timeout=20000):
        QTest.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert ("layers", "0", "mlp") in view.collapsed_scopes()


def test_open_subgraph_and_go_up(qtbot, view):
    g = subgraph_graph()
    _show(qtbot, view, g)
    with qtbot.waitSignals([view.breadcrumb_changed, view.layout_finished], timeout=20000):
        assert view.open_subgraph("loop")
    assert view.graph() is g.subgraphs["while_body"]
    assert len(view.breadcrumb()) == 2
    assert not view.open_subgraph("nope")
    with qtbot.waitSignal(view.breadcrumb_changed) as blocker:
        view.go_up()
    assert len(blocker.args[0]) == 1
    qtbot.waitUntil(lambda: not view.is_busy())
    assert view.graph() is g


def test_double_click_on_a_subgraph_node_opens_it(qtbot, view):
    g = subgraph_graph()
    _show(qtbot, view, g)
    pos = _view_point(view, "loop")
    with qtbot.waitSignal(view.layout_finished, timeout=20000):
        QTest.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert view.graph() is g.subgraphs["while_body"]


def test_exports_write_files(qtbot, view, tmp_path):
    _show(qtbot, view, transformer_graph(layers=1))
    png, svg = tmp_path / "g.png", tmp_path / "g.svg"
    view.export_png(str(png))
    view.export_svg(str(svg))
    assert png.stat().st_size > 1000
    text = svg.read_text()
    assert "<svg" in text and "q_proj" in text


def test_overlay_changes_the_picture(qtbot, view):
    g = transformer_graph(layers=1)
    _show(qtbot, view, g)
    before = view.grab().toImage()
    view.set_overlay({n: float(i) for i, n in enumerate(g.order)}, title="index")
    after = view.grab().toImage()
    assert before != after
    view.set_overlay(None)
    assert view.grab().toImage() == before


def test_the_minimap_takes_the_overlay_colours(qtbot, view):
    g = transformer_graph(layers=1)
    _show(qtbot, view, g)
    minimap = view._minimap

    def colours() -> set[tuple[int, int, int]]:
        image = minimap._image.convertToFormat(QImage.Format.Format_RGB32)
        pixels = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), -1, 4)
        return {tuple(int(c) for c in p[2::-1]) for p in pixels.reshape(-1, 4)}

    before = colours()
    view.set_overlay(dict.fromkeys(g.nodes, 1.0), "same everywhere")  # one mid colour
    shade = tuple(int(c) // 8 * 8 for c in colormap(np.array([0.5]))[0])
    assert shade in colours() and shade not in before
    view.set_overlay(None)
    assert colours() == before


def test_states_breakpoints_and_highlight(qtbot, view):
    g = transformer_graph(layers=1)
    _show(qtbot, view, g)
    view.select("l0.attn.softmax")
    before = view.grab().toImage()
    view.set_node_states({n: "pending" for n in g.order} | {"l0.attn.softmax": "current"})
    view.set_breakpoints({"l0.attn.softmax"})
    view.set_highlight_mode("ancestors")
    assert view.grab().toImage() != before
    mark = view._item.highlight
    lay = view.current_layout()
    assert mark[lay.boxes_of("l0.ln1")[0]] and not mark[lay.boxes_of("l0.mlp.fc1")[0]]
    with pytest.raises(ValueError):
        view.set_highlight_mode("sideways")


def test_zoom_controls(qtbot, view):
    _show(qtbot, view, transformer_graph(layers=2))
    QTest.keyClick(view, Qt.Key.Key_0)
    s0 = view.transform().m11()
    view.zoom_in()
    assert view.transform().m11() > s0
    view.zoom_out()
    view.zoom_out()
    assert view.transform().m11() < s0
    view.select("l1.add_2", center=False)
    view.zoom_to_selection()
    assert view.viewport().rect().contains(_view_point(view, "l1.add_2"))
    QTest.keyClick(view, Qt.Key.Key_0)
    assert np.isclose(view.transform().m11(), s0)


def test_incremental_growth_keeps_the_view(qtbot, view):
    g = transformer_graph(layers=1)
    _show(qtbot, view, g)
    g.add_node("extra", kind="op", op="relu")
    g.add_edge("output", "extra") if False else g.add_edge("l0.add_2", "extra")
    with qtbot.waitSignal(view.layout_finished, timeout=20000):
        view.add_nodes_incremental(g)
    assert view.node_rect("extra") is not None


def _pixels(image):
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    return np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.width(), 4)


def _difference(a, b):
    """Per pixel, the largest channel difference between two grabs."""
    return np.abs(_pixels(a).astype(int) - _pixels(b).astype(int)).max(axis=2)


def test_panning_reuses_the_picture(qtbot, view):
    """Frames built from the cached image match frames drawn afresh, decorations included.

    Not bit for bit: an antialiased line clipped at a different place rounds a level
    or two differently along its length.
    """
    g = layered_graph(1500, 20, 0)
    _show(qtbot, view, g)
    _relayout(qtbot, view, view.expand_all)
    item = view._item
    view.resetTransform()
    view.scale(0.8, 0.8)
    lay = view.current_layout()
    cx, cy = lay.width / 2, lay.height / 2
    view.centerOn(cx, cy)
    view.grab()
    for i in range(1, 8):  # past the cached margin, so strips get drawn
        view.centerOn(cx + 40 * i, cy + 60 * i)
        view.grab()
    panned = view.grab().toImage()
    item.invalidate()
    d = _difference(view.grab().toImage(), panned)
    assert d.mean() < 1.0 and (d > 32).mean() < 0.005
    centre = view.mapToScene(view.viewport().rect().center())
    mid = lay.rects[:, :2] + lay.rects[:, 2:] / 2
    dist = np.hypot(mid[:, 0] - centre.x(), mid[:, 1] - centre.y())
    nid = next(lay.ids[b] for b in np.argsort(dist).tolist() if lay.ids[b])
    view.select(nid, center=False)  # a decoration change redraws: no stale picture
    selected = view.grab().toImage()
    assert (_difference(selected, panned) > 64).sum() > 50
    item.invalidate()
    d = _difference(view.grab().toImage(), selected)
    assert d.mean() < 1.0 and (d > 32).mean() < 0.005


def _graph_on_screen(view):
    lay = view.current_layout()
    return view.mapFromScene(QRectF(0, 0, lay.width, lay.height)).boundingRect()


@pytest.mark.parametrize("graph", [transformer_graph(layers=1), layered_graph(60, width=30)])
def test_fit_shows_the_whole_graph_clear_of_the_legend(qtbot, view, graph):
    _show(qtbot, view, graph)  # a tall graph, then a wide one
    for size in ((900, 700), (520, 380)):
        view.resize(*size)
        QTest.keyClick(view, Qt.Key.Key_0)
        shown = QRectF(_graph_on_screen(view))
        assert QRectF(view.viewport().rect()).contains(shown)
        assert not shown.intersects(view.legend_rect())
        assert not view._minimap.isVisible()  # nothing out of view: no minimap over it


def test_a_fitted_view_stays_fitted_as_it_is_resized(qtbot, view):
    _show(qtbot, view, layered_graph(60, width=30))
    QTest.keyClick(view, Qt.Key.Key_0)
    view.resize(500, 360)
    qtbot.waitUntil(lambda: view.viewport().width() < 500)
    shown = QRectF(_graph_on_screen(view))
    assert QRectF(view.viewport().rect()).contains(shown)
    assert not shown.intersects(view.legend_rect())
    view.zoom_in()  # zoomed by hand: a resize leaves the zoom alone
    scale = view.transform().m11()
    view.resize(700, 500)
    qtbot.waitUntil(lambda: view.viewport().width() > 500)
    assert view.transform().m11() == scale


def test_the_minimap_shrinks_with_the_view_and_hides_when_it_is_small(qtbot, view):
    _show(qtbot, view, layered_graph(300, width=20))
    view.zoom_in()
    view.zoom_in()
    assert view._minimap.isVisible() and view._minimap.width() == 200
    view.resize(480, 360)
    qtbot.waitUntil(lambda: view._minimap.width() < 200)
    port = view.viewport().geometry()
    assert view._minimap.width() <= port.width() / 4
    assert port.contains(view._minimap.geometry())
    view.resize(260, 200)
    qtbot.waitUntil(lambda: not view._minimap.isVisible())


def test_a_big_graph_opens_readable_at_its_top_and_fit_shows_it_all(qtbot, view):
    from gui.graph.graph_view import READABLE_FIT, READABLE_SCALE

    view.resize(900, 700)
    _show(qtbot, view, layered_graph(400, width=30))
    lay = view.current_layout()
    assert view.transform().m11() == READABLE_SCALE  # a fit would be too small to read
    top = int(np.lexsort((lay.rects[:, 0], lay.rects[:, 1]))[0])
    x, y, w, h = (float(v) for v in lay.rects[top])
    first = QRectF(view.mapFromScene(QRectF(x, y, w, h)).boundingRect())
    assert QRectF(view.viewport().rect()).contains(first)
    assert not first.intersects(view.legend_rect())
    assert view._minimap.isVisible()  # where the rest is
    QTest.keyClick(view, Qt.Key.Key_0)
    assert view.transform().m11() < READABLE_FIT
    assert QRectF(view.viewport().rect()).contains(QRectF(_graph_on_screen(view)))


def _legend_swatch_drawn(view) -> bool:
    """Whether the legend's first colour swatch is on screen where the legend goes."""
    from gui.graph.colors import CATEGORIES

    lay = view._layout
    fill = CATEGORIES[int(np.unique(lay.cats)[0])][1]
    image = view.viewport().grab().toImage()
    return image.pixelColor(27, 22).name() == fill.lower()


def test_the_legend_gives_a_small_view_its_room(qtbot, view):
    _show(qtbot, view, transformer_graph(layers=1))
    assert not view.legend_too_big() and view.legend_rect() in view._covers()
    assert _legend_swatch_drawn(view)  # drawn in a large view
    view.resize(420, 300)
    qtbot.waitUntil(lambda: view.viewport().width() < 430)
    assert view.legend_too_big() and view.legend_rect() not in view._covers()
    assert not _legend_swatch_drawn(view)  # not drawn over the graph of a small view
