"""Readable names for torch ops and module paths, shared by the fx, export and eager captures."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import torch

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


def scope_from_module_stack(stack: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The innermost module path of an fx/export `nn_module_stack` as a scope tuple."""
    if not stack:
        return ()
    last = list(stack.values())[-1]
    path = last[0] if isinstance(last, tuple | list) else str(last)
    return scope_of(str(path))


def module_label(path: str) -> str:
    """The short name a module is shown with: `fc1`, or `layers.0` for a numbered child."""
    parts = module_path(path).split(".")
    if len(parts) > 1 and parts[-1].isdigit():
        return ".".join(parts[-2:])
    return parts[-1] or "model"


def own_params(module: torch.nn.Module) -> list[tuple[str, tuple[int, ...], str, int]]:
    """(name, shape, dtype, numel) for the module's own parameters, not its children's."""
    return [
        (name, tuple(p.shape), dtype_name(p.dtype), p.numel())
        for name, p in module.named_parameters(recurse=False)
    ]
