"""Commands and events as plain data, for an engine in another process.

`encode(obj)` gives `(message, buffers)`: `message` is JSON-compatible (dicts with str
keys, lists, str, int, float, bool, None; no NaN, which JSON lacks) and every numpy
array is a raw buffer in `buffers`, named in the message by its position with its
dtype and shape. `decode(message, buffers)` gives the object back. Only the types
registered here are ever built from a message: nothing received is unpickled or
evaluated.

The message schema, recursively:

    {"type": "Paused", "fields": {...}}       a command, an event or a TensorSummary
    {"tuple": [...]}                          a tuple (lists stay lists)
    {"dict": [[key, value], ...]}             a dict whose keys are not all str
    {"array": i, "dtype": "float32", "shape": [2, 3]}   buffers[i], C order
    {"float": "nan" | "inf" | "-inf"}         a float JSON cannot spell
    {"graph": {...}}                          a Graph, as `Graph.to_dict` writes it
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from inspectors import commands, events
from inspectors.graph import Graph
from inspectors.tensors import TensorSummary

#: Every type a message may name, by name.
TYPES: dict[str, type] = {t.__name__: t for t in (*commands.ALL, *events.ALL, TensorSummary)}

#: dtypes an array may have on the wire (no object arrays: they would need pickle).
_KINDS = frozenset("biufcU")


def encode(obj: Any) -> tuple[Any, list[bytes]]:
    buffers: list[bytes] = []
    return _encode(obj, buffers), buffers


def decode(message: Any, buffers: list[bytes]) -> Any:
    return _decode(message, buffers)


def _encode(value: Any, buffers: list[bytes]) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | np.integer) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _KINDS:
            raise TypeError(f"arrays of {value.dtype} cannot go on the wire")
        array = np.ascontiguousarray(value)
        buffers.append(array.tobytes())
        return {"array": len(buffers) - 1, "dtype": array.dtype.str, "shape": list(array.shape)}
    if isinstance(value, tuple):
        return {"tuple": [_encode(v, buffers) for v in value]}
    if isinstance(value, list):
        return [_encode(v, buffers) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {"map": {k: _encode(v, buffers) for k, v in value.items()}}
        return {"dict": [[_encode(k, buffers), _encode(v, buffers)] for k, v in value.items()]}
    if isinstance(value, Graph):
        return {"graph": _encode(value.to_dict(), buffers)}
    if dataclasses.is_dataclass(value) and type(value).__name__ in TYPES:
        fields = {
            f.name: _encode(getattr(value, f.name), buffers) for f in dataclasses.fields(value)
        }
        return {"type": type(value).__name__, "fields": fields}
    raise TypeError(f"{type(value).__name__} cannot go on the wire")


def _decode(value: Any, buffers: list[bytes]) -> Any:
    if isinstance(value, list):
        return [_decode(v, buffers) for v in value]
    if not isinstance(value, dict):
        return value
    if "type" in value:
        cls = TYPES.get(value["type"])
        if cls is None:
            raise ValueError(f"unknown message type {value['type']!r}")
        fields = {k: _decode(v, buffers) for k, v in value["fields"].items()}
        return cls(**fields)
    if "tuple" in value:
        return tuple(_decode(v, buffers) for v in value["tuple"])
    if "map" in value:
        return {k: _decode(v, buffers) for k, v in value["map"].items()}
    if "dict" in value:
        return {_decode(k, buffers): _decode(v, buffers) for k, v in value["dict"]}
    if "array" in value:
        dtype = np.dtype(value["dtype"])
        if dtype.kind not in _KINDS:
            raise ValueError(f"arrays of {dtype} are not accepted")
        data = np.frombuffer(buffers[value["array"]], dtype=dtype)
        return data.reshape(value["shape"]).copy()
    if "float" in value:
        return float(value["float"])
    if "graph" in value:
        return Graph.from_dict(_decode(value["graph"], buffers))
    raise ValueError(f"not a message: {sorted(value)}")
