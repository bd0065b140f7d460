"""Shapes and dtypes of whatever a torch op returns, as the neutral `outputs` list.

An op may return a tensor, a tuple or list of them, a dict, a dataclass, a
FakeTensor (export) or a plain Python number. The neutral graph wants one
`(shape, dtype)` per output slot, in a stable flattening order shared by the
capture (edges' `src_index`) and the steppers (which output a slot means).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

OutputSpec = tuple[tuple[int | None, ...] | None, str | None]

#: Types whose values are leaves without a closer look (an indexing op's slices, scalars).
_ATOMS = frozenset({int, float, bool, str, slice, type(None), type(Ellipsis)})


def dtype_name(dtype: torch.dtype) -> str:
    """`float32` rather than `torch.float32`: the GUI shows it next to shapes."""
    return str(dtype).removeprefix("torch.")


def shape_of(tensor: Any) -> tuple[int | None, ...]:
    """Concrete dims as ints; symbolic dims (dynamic shapes in export) as None."""
    dims: list[int | None] = []
    for d in tensor.shape:
        try:
            dims.append(int(d))
        except (TypeError, ValueError, RuntimeError):
            dims.append(None)
    return tuple(dims)


def flatten(value: Any) -> list[Any]:
    """The leaves of a nested output: tuples, lists, dicts and dataclasses opened."""
    if isinstance(value, torch.Tensor) or type(value) in _ATOMS:
        return [value]
    if isinstance(value, tuple | list):
        out: list[Any] = []
        for item in value:
            out.extend(flatten(item))
        return out
    if isinstance(value, dict):
        out = []
        for item in value.values():
            out.extend(flatten(item))
        return out
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = []
        for f in dataclasses.fields(value):
            out.extend(flatten(getattr(value, f.name)))
        return out
    return [value]


def rebuild(template: Any, values: Any) -> Any:
    """`template` with its leaves taken in order from `values` (inverse of `flatten`)."""
    if isinstance(template, torch.Tensor):
        return next(values)
    if isinstance(template, tuple | list):
        items = [rebuild(t, values) for t in template]
        if hasattr(template, "_fields"):  # namedtuple, e.g. torch.max's (values, indices)
            return type(template)(*items)
        return type(template)(items)
    if isinstance(template, dict):
        return type(template)((k, rebuild(v, values)) for k, v in template.items())
    if dataclasses.is_dataclass(template) and not isinstance(template, type):
        changes = {
            f.name: rebuild(getattr(template, f.name), values) for f in dataclasses.fields(template)
        }
        return dataclasses.replace(template, **changes)
    return next(values)


def spec_of(value: Any) -> OutputSpec:
    """`(shape, dtype)` of one leaf; a Python value gets no shape and its type name."""
    if isinstance(value, torch.Tensor):
        return shape_of(value), dtype_name(value.dtype)
    if isinstance(value, torch.SymInt | torch.SymFloat | torch.SymBool):
        return None, type(value).__name__.removeprefix("Sym").lower()
    if value is None:
        return None, None
    return None, type(value).__name__


def specs_of(value: Any) -> list[OutputSpec]:
    """One `(shape, dtype)` per leaf of `value`; empty for None (ops with no result)."""
    if value is None:
        return []
    return [spec_of(v) for v in flatten(value)]


def tensor_leaves(value: Any) -> list[torch.Tensor]:
    return [v for v in flatten(value) if isinstance(v, torch.Tensor)]
