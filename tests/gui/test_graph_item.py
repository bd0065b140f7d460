"""What GraphItem paints: text stays readable on whatever fill a box gets."""

import numpy as np
import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor

from bench.synthetic import transformer_graph
from gui.graph.graph_item import TEXT, TEXT_ON_DARK, colormap, text_colours


@pytest.mark.parametrize(
    ("fill", "dark_text"),
    [
        ("#ffffff", True),
        ("#f9c9c4", True),  # a node that raised
        ("#dbe7fb", True),  # a category fill
        ("#21918c", False),  # teal, the middle of the value colours
        ("#440154", False),  # the darkest value colour
        ("#fde725", True),  # the brightest
        ("#1f2933", False),
    ],
)
def test_text_colour_follows_the_fill_luminance(fill, dark_text):
    label, soft = text_colours(QColor(fill))
    assert (label == TEXT) == dark_text
    assert (label == TEXT_ON_DARK) != dark_text
    assert soft != label


def test_every_value_colour_gets_the_better_contrasting_text():
    for rgb in colormap(np.linspace(0, 1, 50)).tolist():
        fill = QColor(*rgb)
        label, _ = text_colours(fill)
        lum = 0.2126 * fill.redF() + 0.7152 * fill.greenF() + 0.0722 * fill.blueF()
        assert label == (TEXT_ON_DARK if lum < 0.35 else TEXT) or 0.35 <= lum <= 0.6


def test_a_collapsed_group_under_a_dark_overlay_writes_light_text(qtbot, view):
    """Both lines of a collapsed scope box ("layers", "N nodes +") are light on the
    darkest value colour, not the usual dark grey."""
    g = transformer_graph(layers=2)
    with qtbot.waitSignal(view.layout_finished, timeout=20000):
        view.set_graph(g)
    with qtbot.waitSignal(view.layout_finished, timeout=20000):
        view.collapse_to_depth(0)
    lay = view.current_layout()
    box = lay.scope_box[("layers",)]
    inside = {v for v, d in g.nx.nodes(data=True) if (d.get("scope") or ())[:1] == ("layers",)}
    view.set_overlay({v: (0.0 if v in inside else 1.0) for v in g.nx.nodes})
    r = QRectF(*lay.rects[box].tolist())
    view.resetTransform()
    view.scale(1.5, 1.5)
    view.centerOn(r.center())
    image = view.viewport().grab().toImage()
    for line in (
        QRectF(r.x() + 8, r.y() + 4, r.width() - 16, 18),
        QRectF(r.x() + 8, r.y() + 23, r.width() - 16, 14),
    ):
        area = view.mapFromScene(line).boundingRect().intersected(image.rect())
        assert not area.isEmpty()
        brightest = max(
            QColor(image.pixel(x, y)).lightness()
            for x in range(area.left(), area.right())
            for y in range(area.top(), area.bottom())
        )
        assert brightest > 200, line
