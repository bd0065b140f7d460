"""Breakpoints: where (a node, an op type, entering a scope) and when (a condition on
the node's output), each counting its hits."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inspectors.graph import plain_part, plain_scope
from inspectors.stepping import names_node
from inspectors.tensors import TensorSummary

CONDITIONS = ("nan", "inf", "nonfinite", "threshold", "expression")
STATS = ("min", "max", "mean", "std", "absmax")
_ids = itertools.count(1)


@dataclass
class Breakpoint:
    """Stop after a node when its location and condition both match.

    Location: `node` (one node id), `op` (every node of that op type), or `scope`
    (the first node entering that scope). None of them means "every node", which
    makes sense with a condition ("stop at the first NaN anywhere").
    Condition: None (always), `nan`, `inf`, `nonfinite`, `threshold` (`stat` above or
    below `value`), or `expression` (Python over the output as numpy array `t`).
    """

    node: str | None = None
    op: str | None = None
    scope: tuple[str, ...] | None = None
    condition: str | None = None
    stat: str = "absmax"
    above: bool = True
    value: float = 0.0
    expression: str = ""
    enabled: bool = True
    hits: int = 0
    id: int = field(default_factory=lambda: next(_ids))
    fired: bool = field(default=False, compare=False)  # in this run (see `first_only`)

    def __post_init__(self) -> None:
        if self.condition is not None and self.condition not in CONDITIONS:
            raise ValueError(f"unknown condition {self.condition!r}; use one of {CONDITIONS}")
        if self.condition == "threshold" and self.stat not in STATS:
            raise ValueError(f"unknown statistic {self.stat!r}; use one of {STATS}")
        if self.condition == "expression":
            compile(self.expression, "<breakpoint>", "eval")  # a SyntaxError names the problem
        if self.scope is not None:
            self.scope = tuple(self.scope)

    @property
    def first_only(self) -> bool:
        """ "Stop at the first NaN anywhere": a health condition on every node stops once
        per run, on the node that first shows it (the nodes after only carry it on)."""
        return (
            self.node is None
            and self.op is None
            and self.scope is None
            and self.condition in ("nan", "inf", "nonfinite")
        )

    def describe(self, title: Callable[[str], str] = str) -> str:
        """`on fc1`, `on every Conv2D`, `entering encoder/layer0`, then ` if any NaN`;
        `title` names a node as text does (`conv1 (op_0002)`)."""
        if self.node:
            where = f"on {title(self.node)}"
        elif self.op:
            where = f"on every {self.op}"
        elif self.scope is not None:
            where = f"entering {'/'.join(self.scope)}"
        else:
            where = "on any node"
        when = {
            None: "",
            "nan": " if any NaN",
            "inf": " if any Inf",
            "nonfinite": " if any NaN or Inf",
            "threshold": f" if {self.stat} {'>' if self.above else '<'} {self.value:g}",
            "expression": f" if {self.expression}",
        }[self.condition]
        return where + when

    def located(self, node_id: str, attrs: dict[str, Any], previous: tuple[str, ...]) -> bool:
        """Whether the node is where this breakpoint looks (`previous`: the last node's scope)."""
        if self.node is not None:
            return names_node(self.node, node_id)  # in any iteration of an opened body
        if self.op is not None:
            return attrs.get("op") == self.op or attrs.get("label") == self.op
        if self.scope is not None:
            scope = tuple(attrs.get("scope", ()))
            n = len(self.scope)
            if any(part != plain_part(part) for part in self.scope):  # one call: `pool (2)`
                return scope[:n] == self.scope and tuple(previous)[:n] != self.scope
            # a module's path: every call of it (`pool`, `pool (2)`, ...), each on entering
            return plain_scope(scope[:n]) == self.scope and tuple(previous)[:n] != scope[:n]
        return True

    def condition_met(self, summaries: tuple[TensorSummary, ...], arrays: tuple[Any, ...]) -> bool:
        """Whether any tensor output meets the condition (no condition: always)."""
        if self.condition is None:
            return True
        tensors = [s for s in summaries if s.is_tensor]
        if self.condition == "nan":
            return any(s.nan for s in tensors)
        if self.condition == "inf":
            return any(s.inf for s in tensors)
        if self.condition == "nonfinite":
            return any(s.nonfinite for s in tensors)
        if self.condition == "threshold":
            for s in tensors:
                v = s.stat(self.stat)
                if not math.isnan(v) and (v > self.value if self.above else v < self.value):
                    return True
            return False
        for a in arrays:
            if isinstance(a, np.ndarray) and bool(
                eval(self.expression, {"np": np, "abs": np.abs}, {"t": a})  # noqa: S307
            ):
                return True
        return False


class BreakpointError(Exception):
    """A breakpoint's expression raised: the session pauses once and it is disabled."""

    def __init__(self, bp: Breakpoint, exc: BaseException) -> None:
        # Named by what it does: ids are internal and grow with every edit.
        super().__init__(
            f"its expression `{bp.expression}` raised {type(exc).__name__}: {exc}; "
            f"it is disabled until you fix and enable it"
        )
        self.breakpoint = bp


class Breakpoints:
    """The session's breakpoints, in creation order."""

    def __init__(self) -> None:
        self._items: dict[int, Breakpoint] = {}

    def __iter__(self):
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)

    def add(self, bp: Breakpoint | None = None, **kwargs: Any) -> Breakpoint:
        bp = bp or Breakpoint(**kwargs)
        self._items[bp.id] = bp
        return bp

    def remove(self, bp_id: int) -> None:
        self._items.pop(bp_id, None)

    def get(self, bp_id: int) -> Breakpoint:
        return self._items[bp_id]

    def enable(self, bp_id: int, enabled: bool = True) -> None:
        self._items[bp_id].enabled = enabled

    def toggle_node(self, node_id: str) -> Breakpoint | None:
        """Add a breakpoint on `node_id`, or remove the one there (None when removed)."""
        for bp in list(self._items.values()):
            if bp.node == node_id and bp.condition is None:
                self.remove(bp.id)
                return None
        return self.add(node=node_id)

    def on_nodes(self) -> set[str]:
        return {bp.node for bp in self._items.values() if bp.node and bp.enabled}

    def has_expressions(self) -> bool:
        """Whether an enabled breakpoint runs a Python expression (the user's code)."""
        return any(bp.enabled and bp.condition == "expression" for bp in self._items.values())

    def needs_arrays(self) -> bool:
        return any(bp.enabled and bp.condition == "expression" for bp in self._items.values())

    def has_conditions(self) -> bool:
        return any(
            bp.enabled and (bp.condition is not None or bp.node is None)
            for bp in self._items.values()
        )

    def check(
        self,
        node_id: str,
        attrs: dict[str, Any],
        previous: tuple[str, ...],
        summaries: tuple[TensorSummary, ...],
        arrays: tuple[Any, ...],
    ) -> Breakpoint | None:
        """The first enabled breakpoint hit by this node, counting the hit."""
        for bp in list(self._items.values()):
            if not bp.enabled or (bp.fired and bp.first_only):
                continue
            if not bp.located(node_id, attrs, previous):
                continue
            try:
                met = bp.condition_met(summaries, arrays)
            except Exception as exc:
                # A broken expression would stop at every node: say so once, then disable it.
                bp.enabled = False
                raise BreakpointError(bp, exc) from exc
            if met:
                bp.hits += 1
                bp.fired = True
                return bp
        return None

    def new_run(self) -> None:
        """A run starts from the first node: first-only breakpoints can stop again."""
        for bp in self._items.values():
            bp.fired = False

    def to_list(self) -> list[dict[str, Any]]:
        """Plain data, for saving with the model in the settings."""
        out = []
        for bp in self._items.values():
            d = {k: getattr(bp, k) for k in SAVED_FIELDS if k != "scope"}
            d["scope"] = list(bp.scope) if bp.scope is not None else None
            out.append(d)
        return out

    def to_items(self) -> tuple[dict[str, Any], ...]:
        """`to_list` with each breakpoint's `id` and `hits`: what crosses to a client."""
        return tuple(
            {**d, "id": bp.id, "hits": bp.hits}
            for d, bp in zip(self.to_list(), self._items.values(), strict=True)
        )

    def set_items(self, items: Any) -> list[str]:
        """Replace every breakpoint with `to_items` data. A breakpoint kept (same id)
        keeps its hits and whether it fired in this run: the engine counts them."""
        old = self._items
        self._items = {}
        ignored = []
        for number, data in enumerate(items if isinstance(items, list | tuple) else [], 1):
            fields = dict(data) if isinstance(data, dict) else data
            extra = {}
            if isinstance(fields, dict):
                extra = {k: fields.pop(k) for k in ("id", "hits") if k in fields}
            try:
                bp, _unknown = from_saved(fields)
            except (TypeError, ValueError, SyntaxError) as exc:
                ignored.append(f"breakpoint {number} ({exc})")
                continue
            if isinstance(extra.get("id"), int):
                bp.id = extra["id"]
                before = old.get(bp.id)
                bp.hits = before.hits if before is not None else int(extra.get("hits") or 0)
                bp.fired = before.fired if before is not None else False
            self.add(bp)
        return ignored

    def load_list(self, items: Any) -> list[str]:
        """Add the breakpoints `to_list` saved; what is malformed is skipped, not fatal.

        Settings files get edited by hand and outlive versions, so each breakpoint is
        checked on its own. Returns what was ignored, in words, for the user to see.
        """
        if not isinstance(items, list):
            return [f"the breakpoints ({_short(items)}: not a list)"]
        ignored = []
        for number, data in enumerate(items, 1):
            try:
                bp, unknown = from_saved(data)
            except (TypeError, ValueError, SyntaxError) as exc:
                ignored.append(f"breakpoint {number} ({exc})")
                continue
            if unknown:
                ignored.append(f"unknown fields of breakpoint {number}: {', '.join(unknown)}")
            self.add(bp)
        return ignored


#: The fields `to_list` saves, with the types each may hold (None where allowed).
SAVED_FIELDS: dict[str, tuple[type, ...]] = {
    "node": (str, type(None)),
    "op": (str, type(None)),
    "scope": (list, tuple, type(None)),
    "condition": (str, type(None)),
    "stat": (str,),
    "above": (bool,),
    "value": (int, float),
    "expression": (str,),
    "enabled": (bool,),
}


def from_saved(data: Any) -> tuple[Breakpoint, list[str]]:
    """A breakpoint from `to_list`'s plain data, and the unknown fields it ignored.

    Raises TypeError, ValueError or SyntaxError naming the first malformed field.
    """
    if not isinstance(data, dict):
        raise TypeError(f"{_short(data)} is not a breakpoint")
    fields: dict[str, Any] = {}
    unknown = []
    for key, value in data.items():
        allowed = SAVED_FIELDS.get(str(key))
        if allowed is None:
            unknown.append(str(key))
            continue
        # bool is an int: `"value": true` is no threshold, `"above": 1` no switch
        wrong_bool = isinstance(value, bool) and bool not in allowed
        if not isinstance(value, allowed) or wrong_bool:
            raise TypeError(f"{key} is {_short(value)}")
        fields[str(key)] = value
    scope = fields.get("scope")
    if scope is not None:
        if not all(isinstance(part, str) for part in scope):
            raise TypeError(f"scope is {_short(scope)}")
        fields["scope"] = tuple(scope)
    if "value" in fields:
        fields["value"] = float(fields["value"])
    return Breakpoint(**fields), unknown


def _short(value: Any) -> str:
    """A value as the user wrote it, cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
