"""An op's NodeDef attributes as the flat tuple eager execution and gradients take.

`TFE_Py_Execute` and `record_gradient` want `("T", 1, "transpose_a", False, ...)`:
types as their enum, shapes as lists of dims (None for an unknown rank), functions by
name, strings as bytes; the gradient's mock op decodes the same tuple back
(`tensorflow/python/eager/backprop.py: make_attr`).
"""

from __future__ import annotations

from typing import Any

#: AttrValue list fields, in the order `AttrValue.ListValue` declares them.
_LIST_FIELDS = ("s", "i", "f", "b", "type", "shape", "tensor", "func")


def _shape(proto: Any) -> list[int] | None:
    if proto.unknown_rank:
        return None
    return [d.size for d in proto.dim]


def _scalar(field: str, value: Any) -> Any:
    if field == "shape":
        return _shape(value)
    if field == "func":
        return value.name
    if field == "type":
        return int(value)
    return value  # s (bytes), i, f, b, tensor (a TensorProto)


def attr_value(value: Any) -> Any:
    """One `AttrValue` as the Python value eager execution accepts."""
    field = value.WhichOneof("value")
    if field is None:
        return None
    if field != "list":
        return _scalar(field, getattr(value, field))
    for list_field in _LIST_FIELDS:
        items = getattr(value.list, list_field)
        if len(items):
            return [_scalar(list_field, item) for item in items]
    return []


def flat_attrs(op: Any) -> tuple[Any, ...]:
    """`op`'s attributes as `(name, value, name, value, ...)`, internal `_` ones left out."""
    attrs = op.node_def.attr
    out: list[Any] = []
    for name in sorted(attrs):
        if name.startswith("_"):
            continue  # graph-construction hints (`_output_shapes`, `_read_only_resource_inputs`)
        out.extend((name, attr_value(attrs[name])))
    return tuple(out)
