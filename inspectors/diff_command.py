"""`graphstep diff`: compare the graphs of two models, or of one model on two inputs.

Plain output gives the counts, where the two executions part, and the nodes only in
A, only in B and common (lists cut short; `--json` has them all). `--json` prints one
object: `only_a`, `only_b`, `common` (A/B id pairs), `edges_only_a`, `edges_only_b`,
`edges_common` (pairs of edges), `summary` (counts), `first_divergence`, `a` and `b`
(spec, capture, framework of each side) and, for a PyTorch/TensorFlow pair, `layers`.
Exit codes: 0 compared, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

#: How many ids of each list the plain output shows.
SHOWN = 20


def add_parser(sub: Any) -> None:
    diff = sub.add_parser("diff", help="compare the graphs of two models or two inputs")
    from inspectors.cli import SPEC_HELP

    diff.add_argument("spec_a", metavar="SPEC_A", help=SPEC_HELP)
    diff.add_argument("spec_b", metavar="SPEC_B", help="the same kinds as SPEC_A")
    diff.add_argument(
        "--capture",
        default="auto",
        choices=("auto", "fx", "export", "eager", "function"),
        help="capture strategy for the sides it applies to (auto: eager for both PyTorch "
        "sides when either needs it, so two dynamic graphs are compared)",
    )
    diff.add_argument("--json", action="store_true", help="one JSON object with every list")


def capture_pair(spec_a: str, spec_b: str, strategy: str = "auto") -> tuple[Any, Any]:
    """Load and capture both sides; raises TargetError on bad input.

    With `auto`, a PyTorch model that fx could not trace (data-dependent control flow)
    is recorded eagerly, and then every PyTorch side is, so like is compared with like.
    """
    from inspectors.capture import STRATEGIES, capture
    from inspectors.target import TargetError, load_target

    targets = [load_target(spec_a), load_target(spec_b)]
    if strategy != "auto" and not any(strategy in STRATEGIES[t.framework] for t in targets):
        raise TargetError(
            f"Capture strategy {strategy!r} applies to neither model "
            f"({targets[0].framework} and {targets[1].framework})."
        )
    captured = [
        capture(t, strategy if strategy in STRATEGIES[t.framework] else "auto") for t in targets
    ]
    if strategy == "auto" and any(_fx_failed(c.graph) for c in captured):
        captured = [
            capture(c.target, "eager")
            if c.target.framework == "torch" and c.strategy != "eager"
            else c
            for c in captured
        ]
    return captured[0], captured[1]


def _fx_failed(graph: Any) -> bool:
    return any(f.get("strategy") == "fx" for f in graph.meta.get("failures", []))


def run(args: argparse.Namespace) -> int:
    from inspectors.diff import diff_graphs, match_layers

    side_a, side_b = capture_pair(args.spec_a, args.spec_b, args.capture)
    a, b = side_a.graph, side_b.graph
    result = diff_graphs(a, b)
    layers = match_layers(a, b) if a.framework != b.framework else None
    if args.json:
        data = result.to_dict()
        data["a"] = _side(args.spec_a, side_a)
        data["b"] = _side(args.spec_b, side_b)
        if layers is not None:
            data["layers"] = [[x, y] for x, y in layers]
        print(json.dumps(data))
        return 0

    counts = result.summary()
    for name, spec, side in (("A", args.spec_a, side_a), ("B", args.spec_b, side_b)):
        g = side.graph
        print(
            f"{name}: {spec}  ({side.strategy}, {len(g)} nodes, "
            f"{counts['edges_' + name.lower()]} edges)"
        )
    print(
        f"nodes: {counts['common']} common, {counts['only_a']} only in A, "
        f"{counts['only_b']} only in B"
    )
    print(
        f"edges: {counts['edges_common']} common, {counts['edges_only_a']} only in A, "
        f"{counts['edges_only_b']} only in B"
    )
    first_a, first_b = result.first_divergence()
    if first_a is None and first_b is None:
        print("the executions do not part: every executed node has a counterpart")
    else:
        print(f"the executions part at: A {_describe(a, first_a)}, B {_describe(b, first_b)}")
    _print_list("only in A", [_describe(a, n) for n in result.only_a])
    _print_list("only in B", [_describe(b, n) for n in result.only_b])
    _print_list(
        "common",
        [f"{x}" if x == y else f"{x} <-> {y}" for x, y in result.common],
    )
    if layers is not None:
        _print_list("layers", [f"{x} <-> {y}" for x, y in layers])
    return 0


def _side(spec: str, side: Any) -> dict[str, Any]:
    return {"spec": spec, "capture": side.strategy, "framework": side.graph.framework}


def _describe(graph: Any, node_id: str | None) -> str:
    if node_id is None:
        return "(nothing: all matched)"
    data = graph.node(node_id)
    scope = "/".join(data.get("scope") or ())
    return f"{node_id} ({data.get('op')}{', in ' + scope if scope else ''})"


def _print_list(title: str, lines: list[str]) -> None:
    print(f"{title} ({len(lines)}):")
    for line in lines[:SHOWN]:
        print(f"  {line}")
    if len(lines) > SHOWN:
        print(f"  ... and {len(lines) - SHOWN} more (--json lists them all)")
