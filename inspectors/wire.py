"""Commands and events as plain data, for an engine in another process.

`encode(obj)` gives `(message, buffers)`: `message` is JSON-compatible (dicts with str
keys, lists, str, int, float, bool, None; no NaN, which JSON lacks) and every numpy
array is a raw buffer in `buffers`, named in the message by its position with its
dtype and shape. `decode(message, buffers)` gives the object back. Only the types
registered here are ever built from a message: nothing received is unpickled or
evaluated.

The message schema, recursively:

    {"type": "Paused", "values": [...]}       a command, an event or a TensorSummary,
                                              its fields' values in their declared order
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


#: Each message type's field names, looked up once.
_FIELDS: dict[type, tuple[str, ...]] = {
    t: tuple(f.name for f in dataclasses.fields(t)) for t in TYPES.values()
}


def _encode(value: Any, buffers: list[bytes]) -> Any:
    kind = type(value)  # the plain types first: a node's summary is mostly these
    if kind is str or kind is int or value is None or kind is bool:
        return value
    if kind is float:
        return value if math.isfinite(value) else {"float": repr(value)}
    if kind is tuple and all(type(v) is int for v in value):
        return {"tuple": list(value)}  # a histogram's counts, a shape
    fields = _FIELDS.get(kind)
    if fields is not None:
        # positional: a node's summaries cross by the thousand, their names would not
        return {
            "type": kind.__name__,
            "values": [_encode(getattr(value, name), buffers) for name in fields],
        }
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
        values = value["values"]
        if not isinstance(values, list) or len(values) > len(_FIELDS[cls]):
            raise ValueError(
                f"{value['type']}: {len(values)} values for {len(_FIELDS[cls])} fields"
            )
        return cls(*[_decode(v, buffers) for v in values])
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


# ---------------------------------------------------------------- node events, columnar
#
# The events of a continue, one per node run, cross by the thousand: a batch of
# `NodeStepped` goes as one message whose numbers are raw buffers, not JSON.
#
#     {"steps": [[node_id, index, [scope...], overridden, n_summaries], ...],
#      "summaries": [[[shape...], dtype, device, kind, text, n_hist, n_range, extra], ...]}
#     buffers[0]: int64, per summary: size, nbytes, negative, zero, positive, nan,
#                 neg_inf, pos_inf
#     buffers[1]: float64, per summary: min, max, mean, std, abs_max
#     buffers[2]: int64, every summary's `hist_counts`, one after another
#     buffers[3]: float64, every summary's `hist_range`, one after another
#     buffers[4:]: the arrays of the summaries' `extra` maps (usually none)
#
# `extra` is encoded as any value is (null when empty).

_INTS = 8
_FLOATS = 5


def encode_steps(steps: list[events.NodeStepped]) -> tuple[Any, list[bytes]]:
    rows: list[list[Any]] = []
    ints: list[tuple[int, ...]] = []
    floats: list[tuple[float, ...]] = []
    hist: list[int] = []
    ranges: list[float] = []
    summaries: list[list[Any]] = []
    extra_buffers: list[bytes] = []
    for step in steps:
        rows.append(
            [step.node_id, step.index, list(step.scope), step.overridden, len(step.summaries)]
        )
        for s in step.summaries:
            ints.append(
                (s.size, s.nbytes, s.negative, s.zero, s.positive, s.nan, s.neg_inf, s.pos_inf)
            )
            floats.append((s.min, s.max, s.mean, s.std, s.abs_max))
            hist.extend(s.hist_counts)
            ranges.extend(s.hist_range)
            extra = _encode(s.extra, extra_buffers) if s.extra else None
            summaries.append(
                [
                    list(s.shape),
                    s.dtype,
                    s.device,
                    s.kind,
                    s.text,
                    len(s.hist_counts),
                    len(s.hist_range),
                    extra,
                ]
            )
    buffers = [
        np.array(ints, dtype=np.int64).reshape(-1, _INTS).tobytes(),
        np.array(floats, dtype=np.float64).reshape(-1, _FLOATS).tobytes(),
        np.array(hist, dtype=np.int64).tobytes(),
        np.array(ranges, dtype=np.float64).tobytes(),
        *extra_buffers,
    ]
    return {"steps": rows, "summaries": summaries}, buffers


def decode_steps(message: Any, buffers: list[Any]) -> list[events.NodeStepped]:
    """`encode_steps`'s message back; a malformed one raises ValueError."""
    try:
        rows, summaries = message["steps"], message["summaries"]
        ints = np.frombuffer(buffers[0], dtype=np.int64).reshape(-1, _INTS).tolist()
        floats = np.frombuffer(buffers[1], dtype=np.float64).reshape(-1, _FLOATS).tolist()
        hist = np.frombuffer(buffers[2], dtype=np.int64).tolist()
        ranges = np.frombuffer(buffers[3], dtype=np.float64).tolist()
        extra_buffers = list(buffers[4:])
        if not len(ints) == len(floats) == len(summaries):
            raise ValueError("the summaries and their numbers differ in number")
        made: list[TensorSummary] = []
        h = r = 0
        for (shape, dtype, device, kind, text, n_hist, n_range, extra), i, f in zip(
            summaries, ints, floats, strict=True
        ):
            made.append(
                TensorSummary(
                    tuple(shape),
                    str(dtype),
                    str(device),
                    str(kind),
                    str(text),
                    i[0],
                    i[1],
                    f[0],
                    f[1],
                    f[2],
                    f[3],
                    f[4],
                    i[2],
                    i[3],
                    i[4],
                    i[5],
                    i[6],
                    i[7],
                    tuple(hist[h : h + n_hist]),
                    tuple(ranges[r : r + n_range]),
                    _decode(extra, extra_buffers) if extra is not None else {},
                )
            )
            h, r = h + n_hist, r + n_range
        steps, k = [], 0
        for node_id, index, scope, overridden, n in rows:
            steps.append(
                events.NodeStepped(
                    str(node_id), int(index), tuple(scope), tuple(made[k : k + n]), bool(overridden)
                )
            )
            k += n
        return steps
    except (KeyError, IndexError, TypeError) as exc:
        raise ValueError(f"not a batch of node events: {exc}") from exc
