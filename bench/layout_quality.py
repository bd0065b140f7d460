"""Layout quality: defects, crossings and bends of our layout, against graphviz dot.

    .venv/bin/python bench/layout_quality.py [--only NAME,...] [--no-dot] [--dot-timeout 60]

Lays out every sample, real architectures built at run time (bench/quality_graphs.py)
and the synthetic graphs of bench/view.py at every collapse depth (View > Collapse to
depth d: every scope deeper than d drawn as one box) and fully expanded, the way the
app does (`layout_graph(prepare(graph), scopes_deeper_than(graph, d))`), and prints
for each the figures of gui/graph/layout_metrics.py: backward edges, node-node overlaps,
group-box overlaps, boxes outside their group, edges through boxes (these five must
be 0), crossings and bends. Beside them, dot's crossings on the same boxes, edges and
clusters, counted by the same function on the layout dot returns (`dot -Tjson`), where
dot finishes within the timeout. graphviz is used by this script only; run as root
without `dot`, the script installs it with apt-get. The last line is one JSON object
with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.quality_graphs import all_sources  # noqa: E402
from gui.graph.layout import Layout, layout_graph, prepare, scopes_deeper_than  # noqa: E402
from gui.graph.layout_metrics import (  # noqa: E402
    Quality,
    edge_crossings,
    group_of_boxes,
    group_parents,
    measure,
)
from inspectors.graph import Graph  # noqa: E402

#: Above this many boxes dot is not asked (10k boxes take it about 20 s).
DOT_MAX_BOXES = 20000
PT = 72.0  # dot measures in inches; our scene units are taken as points


def find_dot() -> str | None:
    """The `dot` executable; installed with apt-get when missing and running as root."""
    dot = shutil.which("dot")
    if dot or os.name != "posix" or os.geteuid() != 0 or not shutil.which("apt-get"):
        return dot
    print("dot not found: apt-get install -y graphviz", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "graphviz"]):
        if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
            break
    return shutil.which("dot")


def to_dot(layout: Layout) -> str:
    """The layout's boxes (same sizes), edges and nested clusters, for dot to lay out."""
    groups = group_of_boxes(layout)
    parents = group_parents(layout.group_scopes)
    members: dict[int, list[int]] = {}
    for b, g in enumerate(groups.tolist()):
        members.setdefault(g, []).append(b)
    children: dict[int, list[int]] = {}
    for g, p in enumerate(parents.tolist()):
        children.setdefault(p, []).append(g)
    w, h = layout.rects[:, 2] / PT, layout.rects[:, 3] / PT
    lines = [
        "digraph G {",
        f"  rankdir=TB; nodesep={22 / PT:.3f}; ranksep={34 / PT:.3f};",
        '  node [shape=box, fixedsize=true, label=""];',
    ]

    def emit(g: int, indent: str) -> None:
        for b in members.get(g, []):
            lines.append(f"{indent}n{b} [width={w[b]:.3f}, height={h[b]:.3f}];")
        for c in children.get(g, []):
            lines.append(f"{indent}subgraph cluster_{c} {{")
            emit(c, indent + "  ")
            lines.append(f"{indent}}}")

    emit(-1, "  ")
    for s, d in zip(layout.edge_src.tolist(), layout.edge_dst.tolist(), strict=True):
        lines.append(f"  n{s} -> n{d};")
    lines.append("}")
    return "\n".join(lines)


def dot_crossings(layout: Layout, dot: str, timeout: float) -> tuple[int | None, float, str]:
    """dot's crossings on the same graph (None when it fails or times out), its seconds."""
    t0 = time.perf_counter()
    try:
        out = subprocess.run(
            [dot, "-Tjson"], input=to_dot(layout), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return None, time.perf_counter() - t0, f"timeout {timeout:.0f}s"
    secs = time.perf_counter() - t0
    if out.returncode != 0:
        return None, secs, "failed: " + out.stderr.strip().splitlines()[-1][:60]
    data = json.loads(out.stdout)
    n = len(layout)
    rects = np.zeros((n, 4))
    gvid: dict[int, int] = {}
    for obj in data.get("objects", []):
        name = obj.get("name", "")
        if name.startswith("n") and "pos" in obj:
            b = int(name[1:])
            x, y = (float(v) for v in obj["pos"].split(","))
            bw, bh = float(obj["width"]) * PT, float(obj["height"]) * PT
            rects[b] = (x - bw / 2, -y - bh / 2, bw, bh)
            gvid[int(obj["_gvid"])] = b
    src, dst, polys = [], [], []
    for e in data.get("edges", []):
        src.append(gvid[int(e["tail"])])
        dst.append(gvid[int(e["head"])])
        polys.append(_spline_points(e.get("pos", "")))
    off = np.zeros(len(polys) + 1, np.int64)
    np.cumsum([len(p) for p in polys], out=off[1:])
    pts = np.concatenate(polys) if polys else np.zeros((0, 2))
    c = edge_crossings(rects, np.asarray(src, np.int64), np.asarray(dst, np.int64), off, pts)
    return c, secs, ""


def _spline_points(pos: str) -> np.ndarray:
    """A dot edge `pos` (cubic B-spline control points; `e,` / `s,` arrow ends) sampled."""
    ctrl = [
        tuple(float(v) for v in tok.split(","))
        for tok in pos.split()
        if not tok.startswith(("e,", "s,"))
    ]
    if not ctrl:
        return np.zeros((0, 2))
    c = np.asarray(ctrl)
    c[:, 1] = -c[:, 1]
    out = [c[:1]]
    t = np.linspace(0, 1, 9)[1:, None]
    for i in range(0, len(c) - 3, 3):
        p0, p1, p2, p3 = c[i], c[i + 1], c[i + 2], c[i + 3]
        out.append(
            (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3
        )
    return np.concatenate(out)


def depths(graph: Graph) -> list[int | None]:
    """Collapse depths 1 .. max - 1 (depth max expands everything) and None: expanded."""
    top = int(prepare(graph).scope_depth.max())
    return [*range(1, top), None]


def row(name: str, graph: Graph, depth: int | None, dot: str | None, timeout: float) -> dict:
    collapsed = scopes_deeper_than(graph, depth) if depth is not None else set()
    t = time.perf_counter()
    layout = layout_graph(prepare(graph), collapsed)
    secs = time.perf_counter() - t
    q: Quality = measure(layout)
    out: dict[str, Any] = {
        "graph": name,
        "depth": "full" if depth is None else depth,
        "boxes": len(layout),
        "edges": len(layout.edge_src),
        "layout_ms": secs * 1e3,
        **q.as_dict(),
        "dot_crossings": None,
        "dot_s": None,
        "dot_note": "",
    }
    if dot is None:
        out["dot_note"] = "no dot"
    elif len(layout) > DOT_MAX_BOXES:
        out["dot_note"] = f"> {DOT_MAX_BOXES} boxes"
    else:
        c, dsecs, note = dot_crossings(layout, dot, timeout)
        out.update(dot_crossings=c, dot_s=dsecs, dot_note=note)
    return out


HEAD = (
    f"{'graph':<26}{'depth':>6}{'boxes':>7}{'back':>6}{'n-ovl':>6}{'b-ovl':>6}{'outside':>8}"
    f"{'thru':>6}{'cross':>7}{'dot':>7}{'ratio':>7}{'bends':>7}{'ms':>7}  note"
)


def print_row(r: dict) -> None:
    dc = r["dot_crossings"]
    ratio = "" if dc is None else ("-" if dc == 0 and r["crossings"] == 0 else "")
    if dc is not None and dc > 0:
        ratio = f"{r['crossings'] / dc:.2f}"
    elif dc == 0 and r["crossings"] > 0:
        ratio = "inf"
    print(
        f"{r['graph'][:25]:<26}{r['depth']!s:>6}{r['boxes']:>7}{r['backward_edges']:>6}"
        f"{r['node_overlaps']:>6}{r['box_overlaps']:>6}{r['outside_box']:>8}"
        f"{r['edges_through_nodes']:>6}{r['crossings']:>7}{'' if dc is None else dc:>7}"
        f"{ratio:>7}{r['bends']:>7}{r['layout_ms']:>7.0f}  {r['dot_note']}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated graph names (substrings)")
    parser.add_argument("--no-dot", action="store_true")
    parser.add_argument("--dot-timeout", type=float, default=60.0)
    args = parser.parse_args()
    dot = None if args.no_dot else find_dot()
    if dot is None and not args.no_dot:
        print("graphviz dot not available: dot columns left empty")
    wanted = [w for w in args.only.split(",") if w]
    t_all = time.perf_counter()
    rows: list[dict] = []
    print(HEAD)
    print("-" * len(HEAD))
    for name, make in all_sources():
        if wanted and not any(w in name for w in wanted):
            continue
        try:
            graph = make()
        except Exception as exc:  # a framework that cannot build this model here
            print(f"{name}: skipped ({type(exc).__name__}: {str(exc)[:80]})", flush=True)
            continue
        for depth in depths(graph):
            r = row(name, graph, depth, dot, args.dot_timeout)
            rows.append(r)
            print_row(r)
    defects = sum(
        r[k]
        for r in rows
        for k in ("backward_edges", "node_overlaps", "box_overlaps", "outside_box")
    ) + sum(r["edges_through_nodes"] for r in rows)
    compared = [r for r in rows if r["dot_crossings"] is not None]
    worse = [
        r for r in compared if r["crossings"] > 1.3 * r["dot_crossings"] and r["crossings"] > 0
    ]
    ours = sum(r["crossings"] for r in compared)
    theirs = sum(r["dot_crossings"] for r in compared)
    print(
        f"{len(rows)} layouts, {defects} defects; crossings {ours} against dot's {theirs} "
        f"on the {len(compared)} dot finished; {len(worse)} above 1.3x dot"
        + (": " + ", ".join(f"{r['graph']}@{r['depth']}" for r in worse) if worse else "")
        + f"; {time.perf_counter() - t_all:.0f} s"
    )
    print(
        json.dumps(
            {
                "layouts": rows,
                "defects": defects,
                "crossings": ours,
                "dot_crossings": theirs,
                "above_1_3x_dot": [f"{r['graph']}@{r['depth']}" for r in worse],
            }
        )
    )


if __name__ == "__main__":
    main()
