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
import operator
from typing import Any

import numpy as np

from inspectors import commands, events
from inspectors.graph import Graph
from inspectors.tensors import TensorSummary, _tensor_summary

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
# `NodeStepped` goes as one message whose numbers are raw buffers and whose JSON holds
# only the strings, each distinct one once.
#
#     {"nodes": [node_id, ...],                 one per event
#      "scopes": [[name, ...], ...],            the distinct scopes
#      "kinds": [[dtype, device, kind], ...],   the distinct (dtype, device, kind)
#      "texts": {"i": text}, "extras": {"i": extra}}   summary i's, where not empty
#     buffers[0]: int64, per event: index, its scope's number, overridden, n_summaries
#     buffers[1]: int64, per summary: size, nbytes, negative, zero, positive, nan,
#                 neg_inf, pos_inf, len(hist_counts), len(hist_range), ndim, kind number
#     buffers[2]: float64, per summary: min, max, mean, std, abs_max
#     buffers[3]: int64, every summary's `hist_counts`, then every summary's shape
#     buffers[4]: float64, every summary's `hist_range`
#     buffers[5:]: the arrays of the summaries' `extra` maps (usually none)

_EVENT_INTS = 4
_INTS = 12
_FLOATS = 5
_counts = operator.attrgetter(
    "size", "nbytes", "negative", "zero", "positive", "nan", "neg_inf", "pos_inf"
)
_stats = operator.attrgetter("min", "max", "mean", "std", "abs_max")


def encode_steps(steps: list[events.NodeStepped]) -> tuple[Any, list[bytes]]:
    nodes: list[str] = []
    rows: list[tuple[int, int, int, int]] = []
    scopes: dict[tuple[str, ...], int] = {}
    kinds: dict[tuple[str, str, str], int] = {}
    ints: list[tuple[int, ...]] = []
    floats: list[tuple[float, ...]] = []
    hist: list[int] = []
    shapes: list[int] = []
    ranges: list[float] = []
    texts: dict[str, str] = {}
    extras: dict[str, Any] = {}
    extra_buffers: list[bytes] = []
    counts_of, stats_of = _counts, _stats
    add_int, add_float = ints.append, floats.append
    for step in steps:
        nodes.append(step.node_id)
        scope = scopes.setdefault(step.scope, len(scopes))
        rows.append((step.index, scope, int(step.overridden), len(step.summaries)))
        for s in step.summaries:
            kind = kinds.setdefault((s.dtype, s.device, s.kind), len(kinds))
            counts, shape, span = s.hist_counts, s.shape, s.hist_range
            add_int((*counts_of(s), len(counts), len(span), len(shape), kind))
            add_float(stats_of(s))
            hist += counts
            shapes += shape
            ranges += span
            if s.text:
                texts[str(len(ints) - 1)] = s.text
            if s.extra:
                extras[str(len(ints) - 1)] = _encode(s.extra, extra_buffers)
    message = {
        "nodes": nodes,
        "scopes": [list(scope) for scope in scopes],
        "kinds": [list(kind) for kind in kinds],
        "texts": texts,
        "extras": extras,
    }
    buffers = [
        np.array(rows, dtype=np.int64).reshape(-1, _EVENT_INTS).tobytes(),
        np.array(ints, dtype=np.int64).reshape(-1, _INTS).tobytes(),
        np.array(floats, dtype=np.float64).reshape(-1, _FLOATS).tobytes(),
        np.array(hist + shapes, dtype=np.int64).tobytes(),
        np.array(ranges, dtype=np.float64).tobytes(),
        *extra_buffers,
    ]
    return message, buffers


def decode_steps(message: Any, buffers: list[Any]) -> list[events.NodeStepped]:
    """`encode_steps`'s message back; a malformed one raises ValueError."""
    try:
        nodes = [str(n) for n in message["nodes"]]
        scopes = [tuple(str(p) for p in scope) for scope in message["scopes"]]
        kinds = [(str(d), str(v), str(k)) for d, v, k in message["kinds"]]
        texts = {int(i): str(t) for i, t in message["texts"].items()}
        extras_in = message["extras"]
        rows = np.frombuffer(buffers[0], dtype=np.int64).reshape(-1, _EVENT_INTS).tolist()
        ints = np.frombuffer(buffers[1], dtype=np.int64).reshape(-1, _INTS).tolist()
        floats = np.frombuffer(buffers[2], dtype=np.float64).reshape(-1, _FLOATS).tolist()
        whole = np.frombuffer(buffers[3], dtype=np.int64).tolist()
        ranges = np.frombuffer(buffers[4], dtype=np.float64).tolist()
        extra_buffers = list(buffers[5:])
        if len(rows) != len(nodes) or len(ints) != len(floats):
            raise ValueError("the events and their numbers differ in number")
        n_hist = sum(i[8] for i in ints)
        if n_hist + sum(i[10] for i in ints) != len(whole):
            raise ValueError("the histograms and shapes differ from their lengths")
        hist, shapes = whole[:n_hist], whole[n_hist:]
        made: list[TensorSummary] = []
        h = r = d = 0
        for k, (i, f) in enumerate(zip(ints, floats, strict=True)):
            dtype, device, kind = kinds[i[11]]
            extra = extras_in.get(str(k))
            made.append(
                _tensor_summary(  # every field, in order: at a third of __init__'s cost
                    tuple(shapes[d : d + i[10]]),
                    dtype,
                    device,
                    kind,
                    texts.get(k, ""),
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
                    tuple(hist[h : h + i[8]]),
                    tuple(ranges[r : r + i[9]]),
                    _decode(extra, extra_buffers) if extra is not None else {},
                )
            )
            h, r, d = h + i[8], r + i[9], d + i[10]
        steps, k = [], 0
        for node_id, (index, scope, overridden, n) in zip(nodes, rows, strict=True):
            steps.append(
                events.NodeStepped(
                    node_id, index, scopes[scope], tuple(made[k : k + n]), bool(overridden)
                )
            )
            k += n
        if k != len(made):
            raise ValueError("the events name more or fewer summaries than there are")
        return steps
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a batch of node events: {exc}") from exc
