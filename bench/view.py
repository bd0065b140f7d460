"""Graph view figures: layout time, first paint, expand-all, frame times.

    .venv/bin/python bench/view.py [--sizes 1000,10000,50000,100000]

For the 24-layer transformer (a synthetic one shaped like a layer-level graph, and the
plain-op encoder of bench/capture.py captured with fx: 5,162 nodes) and synthetic
layered graphs: the layout of the fully
expanded graph (read + lay out), the time from a Graph to the first painted frame
(huge graphs open collapsed), the time to expand everything and paint it, the
median / worst frame over 50 frames of panning and zooming at reading scale on the
expanded graph (and the median of the 25 pan and of the 25 zoom frames apart: panning
mostly reuses the view's cached image, zooming draws afresh), and a zoom-to-fit frame
(first, then the median of five: repeats reuse the cache). Frames are rendered offscreen into the
viewport's pixmap. The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from bench.synthetic import layered_graph, transformer_graph  # noqa: E402
from gui.graph import layout as layout_mod  # noqa: E402
from gui.graph.graph_view import GraphView  # noqa: E402
from inspectors.graph import Graph  # noqa: E402


def _wait(view: GraphView, action) -> None:
    loop = QEventLoop()
    view.layout_finished.connect(loop.quit)
    QTimer.singleShot(300000, loop.quit)
    action()
    loop.exec()
    view.layout_finished.disconnect(loop.quit)


def _frame(view: GraphView) -> float:
    t = time.perf_counter()
    view.viewport().grab()
    return time.perf_counter() - t


def measure(name: str, make, view: GraphView) -> dict[str, float | int | str]:
    graph = make()
    n = len(graph)
    layout_mod._CACHE.clear()
    t = time.perf_counter()
    full = layout_mod.layout_graph(graph)
    t_layout = time.perf_counter() - t

    layout_mod._CACHE.clear()
    graph = make()  # a fresh object: nothing cached
    gc.collect()
    gc.freeze()  # as the app does once a model is loaded: no full collection mid-measure
    t = time.perf_counter()
    _wait(view, lambda: view.set_graph(graph))
    _frame(view)
    t_first = time.perf_counter() - t
    boxes_open = view.visible_node_count()

    t = time.perf_counter()
    _wait(view, view.expand_all)
    _frame(view)
    t_expand = time.perf_counter() - t

    # 50 frames at reading scale: 25 pan steps, then 25 zoom steps
    view.resetTransform()
    view.scale(0.8, 0.8)
    lay = view.current_layout()
    cx, cy = lay.width / 2, lay.height / 2
    view.centerOn(cx, cy)
    _frame(view)
    times = []
    for i in range(25):
        view.centerOn(cx + 40 * i, cy + 60 * i)
        times.append(_frame(view))
    for i in range(25):
        view.scale(0.9 if i < 12 else 1 / 0.9, 0.9 if i < 12 else 1 / 0.9)
        times.append(_frame(view))
    fit = []
    for _ in range(5):
        view.zoom_to_fit()
        fit.append(_frame(view))
    return {
        "graph": name,
        "nodes": n,
        "boxes": len(full),
        "dummies": full.stats["dummies"],
        "layout_s": t_layout,
        "first_paint_s": t_first,
        "boxes_on_open": boxes_open,
        "expand_all_s": t_expand,
        "frame_median_ms": statistics.median(times) * 1e3,
        "frame_worst_ms": max(times) * 1e3,
        "pan_median_ms": statistics.median(times[:25]) * 1e3,
        "zoom_median_ms": statistics.median(times[25:]) * 1e3,
        "fit_first_ms": fit[0] * 1e3,
        "fit_median_ms": statistics.median(fit) * 1e3,
    }


def captured_transformer():
    """The 24-layer plain-op transformer of bench/capture.py, captured with fx (5k nodes)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import torch
    from capture import BATCH, TOKENS, WIDTH, PlainEncoder

    from inspectors.capture import capture
    from inspectors.target import ModelTarget

    torch.manual_seed(0)
    model = PlainEncoder()
    inputs = (torch.randn(BATCH, TOKENS, WIDTH),)
    graph = capture(ModelTarget("bench:encoder", "encoder", "torch", model, inputs), "fx").graph
    return lambda: Graph.from_dict(graph.to_dict())  # a fresh object each call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000,100000")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    view = GraphView()
    view.resize(1600, 1000)
    view.show()
    app.processEvents()
    cases = [("transformer-24", transformer_graph)]
    try:
        cases.append(("fx transformer-24", captured_transformer()))
    except ImportError as exc:  # torch not installed: the synthetic rows still run
        print(f"captured transformer skipped: {exc}")
    for size in (int(s) for s in args.sizes.split(",") if s):
        cases.append((f"layered-{size // 1000}k", lambda size=size: layered_graph(size, 20, 0)))
    rows = []
    head = (
        f"{'graph':<18}{'nodes':>8}{'layout s':>10}{'1st paint s':>12}{'open boxes':>11}"
        f"{'expand s':>10}{'frame med':>10}{'worst':>8}{'pan med':>8}{'zoom med':>9}"
        f"{'fit ms':>8}{'fit 2nd':>8}"
    )
    print(head)
    print("-" * len(head))
    for name, make in cases:
        r = measure(name, make, view)
        rows.append(r)
        print(
            f"{r['graph']:<18}{r['nodes']:>8}{r['layout_s']:>10.3f}{r['first_paint_s']:>12.3f}"
            f"{r['boxes_on_open']:>11}{r['expand_all_s']:>10.3f}{r['frame_median_ms']:>10.1f}"
            f"{r['frame_worst_ms']:>8.1f}{r['pan_median_ms']:>8.1f}{r['zoom_median_ms']:>9.1f}"
            f"{r['fit_first_ms']:>8.1f}{r['fit_median_ms']:>8.1f}",
            flush=True,
        )
    print(
        "targets: layout 10k < 0.2 s, 100k < 2 s; first paint 10k < 1 s; "
        "expanded 10k frame median < 16 ms; 100k opens collapsed < 2 s"
    )
    print(json.dumps({r["graph"]: {k: v for k, v in r.items() if k != "graph"} for r in rows}))
    app.processEvents()


if __name__ == "__main__":
    main()
