"""Readable names for torch ops and module paths, shared by the fx, export and eager captures."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import torch

from inspectors.graph import call_part, plain_part
from inspectors.step_levels import PLUMBING_OPS
from inspectors.torch_inspector.values import dtype_name

_EXPORT_PREFIX = re.compile(r"^(L\['self'\]\.?|L__self__\.?|_export_root\.?)")
_CALL_SUFFIX = re.compile(r"@\d+$")


def op_name(target: Any) -> str:
    """`relu`, `add`, `getitem`, `aten.addmm`: what a user would call the operation."""
    if isinstance(target, str):
        return target  # call_method: the method name
    if isinstance(target, torch._ops.OpOverload):
        return f"{target.namespace}.{target._opname}"
    if isinstance(target, torch._ops.OpOverloadPacket):
        return f"{target._qualified_op_name.replace('::', '.')}"
    if isinstance(target, torch._ops.HigherOrderOperator):
        return target.name()
    name = getattr(target, "__name__", None) or type(target).__name__
    if name == "__get__":  # a tensor property such as `.T`
        owner = getattr(target, "__self__", None)
        name = getattr(owner, "__name__", name)
    if name.startswith("__") and name.endswith("__") and len(name) > 4:
        name = name[2:-2]
    return name


def module_path(path: str) -> str:
    """A module path as `named_modules()` spells it, from fx/export/dynamo spellings."""
    path = _CALL_SUFFIX.sub("", path)
    path = _EXPORT_PREFIX.sub("", path)
    path = re.sub(r"\[['\"]?([^\]'\"]+)['\"]?\]", r".\1", path)  # layers[0] -> layers.0
    return path.strip(".")


@lru_cache(maxsize=4096)
def scope_of(path: str) -> tuple[str, ...]:
    """`encoder.layers.0` -> ("encoder", "layers", "0"); the root module is ()."""
    path = module_path(path)
    return tuple(path.split(".")) if path else ()


class CallScopes:
    """The scope of each module call in one run: one box per call, not per module.

    A call's scope is its module path, with the part of a repeated call numbered:
    a forward that calls `self.pool` twice puts the first call's nodes in `("pool",)`
    and the second's in `("pool (2)",)`. Calls are counted within their enclosing
    call, so the modules a repeated call runs carry its prefix: the second call of
    `block` runs `("block (2)", "conv")`. Parameters belong to the module, not to a
    call: their scope stays the plain module path, which is the first call's.
    """

    def __init__(self) -> None:
        #: a call's unnumbered scope -> how many such calls were made so far
        self._counts: dict[tuple[str, ...], int] = {}
        #: an `nn_module_stack` key (one per call: `pool`, `pool@1`) -> its call's scope
        self._by_key: dict[str, tuple[str, ...]] = {}
        #: the calls that have called a module themselves so far
        self.callers: set[tuple[str, ...]] = set()

    def enter(
        self,
        path: tuple[str, ...],
        parent_path: tuple[str, ...] = (),
        parent_scope: tuple[str, ...] = (),
    ) -> tuple[str, ...]:
        """The scope of a new call of the module at `path` (parts, as `scope_of` gives),
        made while the module at `parent_path` runs its call `parent_scope`."""
        if not path:
            return ()  # the model itself: one call per run
        self.callers.add(parent_scope)
        depth = len(parent_path)
        if len(path) > depth and path[:depth] == parent_path:
            base = parent_scope + path[depth:]
        else:  # a module that is not a child of its caller keeps its own path
            base = path
        k = self._counts.get(base, 0) + 1
        self._counts[base] = k
        return base if k == 1 else (*base[:-1], call_part(base[-1], k))

    def of_stack(self, stack: Mapping[str, Any] | None) -> tuple[str, ...]:
        """The scope of the innermost call of an fx / export `nn_module_stack`.

        torch keys each call apart (`pool`, then `pool@1` for the second call; export
        spells them `L__self___pool`, `L__self___pool@1`), so nodes of one call share a key
        and each key becomes one call, numbered in the order calls first appear.
        """
        if not stack:
            return ()
        parent_path: tuple[str, ...] = ()
        scope: tuple[str, ...] = ()
        for key, entry in stack.items():
            path = scope_of(str(entry[0] if isinstance(entry, tuple | list) else entry))
            known = self._by_key.get(key)
            if known is None:
                known = self._by_key[key] = self.enter(path, parent_path, scope)
            parent_path, scope = path, known
        return scope


def module_label(path: str) -> str:
    """The short name a module is shown with: `fc1`, or `layers.0` for a numbered child."""
    parts = module_path(path).split(".")
    if len(parts) > 1 and parts[-1].isdigit():
        return ".".join(parts[-2:])
    return parts[-1] or "model"


def call_label(scope: tuple[str, ...]) -> str:
    """`module_label` of a call's scope: `fc1`, `layers.0`, `pool (2)`, `layers.0 (2)`."""
    if not scope:
        return "model"
    if len(scope) > 1 and plain_part(scope[-1]).isdigit():
        return ".".join(scope[-2:])
    return scope[-1]


class WorkLabels:
    """Titles the ops a module call runs itself with the module's path, the user's name.

    In export and eager graphs each op is its own node, and a one-op module (`Conv2d`,
    `Linear`, `ReLU`) is no box in the drawing, so its node reads `conv1` over its op
    (`aten.conv2d`) rather than `conv2d_1`. One op per call gets the plain path: the
    first that works on the data (depends on a model input, and is not plumbing such
    as `getitem`), when the call has not called a module of its own before it. Every
    other op of the call reads `path · op`: a BatchNorm in training is `bn1 · add_`
    (its counter) and `bn1` (the normalisation); a block's residual `add` after its
    convs is `block · add`, inside the box titled `block`. Decided as nodes arrive,
    so the eager graph growing on screen has its final labels. Ops of the model's own
    `forward` get None (they keep their op's name or id).
    """

    def __init__(self, calls: CallScopes) -> None:
        self._calls = calls
        self._titled: set[tuple[str, ...]] = set()

    def label(self, scope: tuple[str, ...], op: str, fed: bool) -> str | None:
        """The label of an op node run directly by the call `scope`, None at the top."""
        if not scope:
            return None
        path = ".".join(scope)
        if scope not in self._titled:
            if scope in self._calls.callers:
                self._titled.add(scope)  # a container: its box carries the name
            elif fed and op not in PLUMBING_OPS:
                self._titled.add(scope)
                return path
        return f"{path} · {short_op(op)}"


def short_op(op: str) -> str:
    """An op without its namespace: `aten.conv2d` -> `conv2d`."""
    return op.rpartition(".")[2] if op.startswith("aten.") else op


def own_params(module: torch.nn.Module) -> list[tuple[str, tuple[int, ...], str, int]]:
    """(name, shape, dtype, numel) for the module's own parameters, not its children's."""
    return [
        (name, tuple(p.shape), dtype_name(p.dtype), p.numel())
        for name, p in module.named_parameters(recurse=False)
    ]
