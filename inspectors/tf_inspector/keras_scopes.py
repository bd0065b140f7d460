"""Give Keras layer scopes back their layer names (`fc1`, not `fc1_1`).

Keras 3 enters each layer's name scope once before the scope that holds the layer's
ops, so TensorFlow uniquifies the second one: a traced `fc1` layer puts its ops under
`model_1/fc1_1/`. The variables keep the plain path (`model/fc1/kernel`), so without
this the weights and the ops that use them would sit in different scopes.
"""

from __future__ import annotations

import re
from typing import Any

from inspectors.graph import Graph, call_part

_SUFFIX = re.compile(r"^(.+)_(\d+)$")


def keras_names(model: Any) -> set[str]:
    """Every layer name and variable path part of a Keras model."""
    names: set[str] = set()
    flatten = getattr(model, "_flatten_layers", None)
    if callable(flatten):
        names |= {layer.name for layer in flatten(include_self=True)}
    for var in getattr(model, "variables", None) or ():
        names |= set(str(getattr(var, "path", "") or "").split("/")[:-1])
    names.discard("")
    return names


def restore_layer_scopes(graph: Graph, names: set[str]) -> None:
    """Rename uniquified scope parts back to the layer name, where that is unambiguous."""
    done: set[int] = set()  # a function called from two places is one shared Graph
    for g in [graph] + [sub for _, sub in graph.all_subgraphs()]:
        if id(g) in done:
            continue
        done.add(id(g))
        mapping = _scope_mapping({g.node(n)["scope"] for n in g.nodes}, names)
        for node_id in g.nodes:
            data = g.node(node_id)
            data["scope"] = mapping.get(data["scope"], data["scope"])


def _scope_mapping(
    scopes: set[tuple[str, ...]], names: set[str]
) -> dict[tuple[str, ...], tuple[str, ...]]:
    """Old scope -> new scope, renaming `X_N` to `X` level by level, parents first."""
    prefixes = {s[:i] for s in scopes for i in range(len(s) + 1)}
    renamed: dict[tuple[str, ...], tuple[str, ...]] = {(): ()}
    for depth in range(1, max((len(p) for p in prefixes), default=0) + 1):
        by_parent: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
        for p in prefixes:
            if len(p) == depth:
                by_parent.setdefault(p[:-1], []).append(p)
        for parent, children in by_parent.items():
            parts = _rename_siblings([c[-1] for c in children], names)
            for child in children:
                renamed[child] = renamed[parent] + (parts[child[-1]],)
    return {s: renamed[s] for s in scopes}


def _rename_siblings(parts: list[str], names: set[str]) -> dict[str, str]:
    """Strip one `_N` from a sibling when the result is a known name no sibling uses."""
    current = {p: p for p in parts}
    changed = True
    while changed:
        changed = False
        used = set(current.values())
        wanted: dict[str, list[str]] = {}
        for original, now in current.items():
            if now != original:
                continue  # TensorFlow adds one suffix, so strip at most one
            match = _SUFFIX.match(now)
            if match and match.group(1) in names and match.group(1) not in used:
                wanted.setdefault(match.group(1), []).append(original)
        for base, originals in wanted.items():
            if len(originals) == 1:
                current[originals[0]] = base
                changed = True
            elif not any(o in names for o in originals):
                # one layer called k times (`shared_1`, `shared_3`): one scope per call
                originals.sort(key=lambda o: int(o.rpartition("_")[2]))
                for k, original in enumerate(originals, start=1):
                    current[original] = call_part(base, k)
                changed = True
    return current
