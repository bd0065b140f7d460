"""What a debugger shows of a value: `TensorSummary`, and the budgeted `ValueStore`.

Summaries are computed from numpy arrays (a framework's stepper hands numpy over), so
the session and the GUI never touch a framework tensor.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

HISTOGRAM_BINS = 32
DEFAULT_BUDGET = 1 << 30  # 1 GiB of full values


@dataclass(frozen=True)
class TensorSummary:
    """Statistics, health counts and a histogram of one output.

    For a non-tensor output (tuple, dict, None, int...) `kind` says what it is and
    `text` describes it; the numeric fields are then empty.
    """

    shape: tuple[int, ...] = ()
    dtype: str = ""
    device: str = "cpu"
    kind: str = "tensor"  # "tensor", or the Python type of a non-tensor output
    text: str = ""
    size: int = 0
    nbytes: int = 0
    min: float = math.nan
    max: float = math.nan
    mean: float = math.nan
    std: float = math.nan
    abs_max: float = math.nan
    negative: int = 0
    zero: int = 0
    positive: int = 0
    nan: int = 0
    neg_inf: int = 0
    pos_inf: int = 0
    hist_counts: tuple[int, ...] = ()
    hist_edges: tuple[float, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def is_tensor(self) -> bool:
        return self.kind == "tensor"

    @property
    def nonfinite(self) -> int:
        return self.nan + self.neg_inf + self.pos_inf

    @property
    def inf(self) -> int:
        return self.neg_inf + self.pos_inf

    def stat(self, name: str) -> float:
        """A statistic by name: min, max, mean, std, absmax (abs_max), nan, inf."""
        key = {"absmax": "abs_max", "abs-max": "abs_max", "abs_max": "abs_max"}.get(name, name)
        value = getattr(self, key)
        return float(value)

    def line(self) -> str:
        """`[4, 20] float32 min=-1.2 max=3.4 mean=0.1` plus health counts when not clean."""
        if not self.is_tensor:
            return f"{self.kind}: {self.text}"
        shape = "[" + ", ".join(str(d) for d in self.shape) + "]"
        text = f"{shape} {self.dtype}"
        if self.size:
            text += f" min={self.min:.4g} max={self.max:.4g} mean={self.mean:.4g}"
        if self.nan or self.inf:
            text += f" nan={self.nan} inf={self.inf}"
        return text


def summarize(value: Any, device: str = "cpu") -> TensorSummary:
    """A TensorSummary of a numpy array, or a description of anything else."""
    if isinstance(value, np.ndarray | np.generic):
        return _summarize_array(np.asarray(value), device)
    return describe(value)


def describe(value: Any) -> TensorSummary:
    """A summary for a non-tensor output, never raising."""
    try:
        text = repr(value)
    except Exception as exc:  # a user object whose repr raises
        text = f"<{type(value).__name__}: repr failed: {exc}>"
    if len(text) > 200:
        text = text[:197] + "..."
    return TensorSummary(kind=type(value).__name__, text=text)


def _summarize_array(a: np.ndarray, device: str) -> TensorSummary:
    shape = tuple(int(d) for d in a.shape)
    dtype = str(a.dtype)
    if a.size == 0 or not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        return TensorSummary(shape, dtype, device, size=int(a.size), nbytes=int(a.nbytes))
    if a.dtype == np.bool_ or np.issubdtype(a.dtype, np.complexfloating):
        a = np.abs(a) if np.issubdtype(a.dtype, np.complexfloating) else a.astype(np.int8)
    flat = a.reshape(-1)
    nan = neg_inf = pos_inf = 0
    finite = flat
    if np.issubdtype(flat.dtype, np.floating):
        if flat.dtype.itemsize < 4:  # float16 / bfloat16-like: reduce in float32
            flat = flat.astype(np.float32)
        fin_mask = np.isfinite(flat)
        if not fin_mask.all():
            nan = int(np.isnan(flat).sum())
            neg_inf = int(np.isneginf(flat).sum())
            pos_inf = int(np.isposinf(flat).sum())
            finite = flat[fin_mask]
        else:
            finite = flat
    negative = int((flat < 0).sum())
    zero = int((flat == 0).sum())
    positive = int((flat > 0).sum())
    if finite.size:
        lo = float(finite.min())
        hi = float(finite.max())
        f64 = finite.astype(np.float64, copy=False)
        mean = float(f64.mean())
        std = float(f64.std())
        counts, edges = _histogram(f64, lo, hi)
    else:
        lo = hi = mean = std = math.nan
        counts, edges = (), ()
    abs_max = max(abs(lo), abs(hi)) if finite.size else math.nan
    if pos_inf or neg_inf:
        abs_max = math.inf
    return TensorSummary(
        shape=shape,
        dtype=dtype,
        device=device,
        size=int(a.size),
        nbytes=int(a.nbytes),
        min=lo,
        max=hi,
        mean=mean,
        std=std,
        abs_max=abs_max,
        negative=negative,
        zero=zero,
        positive=positive,
        nan=nan,
        neg_inf=neg_inf,
        pos_inf=pos_inf,
        hist_counts=counts,
        hist_edges=edges,
    )


def _histogram(
    values: np.ndarray, lo: float, hi: float
) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """Fixed-bin histogram over [lo, hi] of finite values (bincount: faster than np.histogram)."""
    if hi == lo:
        flat_counts = [0] * HISTOGRAM_BINS
        flat_counts[HISTOGRAM_BINS // 2] = int(values.size)
        half = 0.5 if lo == 0 else abs(lo) * 0.5
        edges = np.linspace(lo - half, hi + half, HISTOGRAM_BINS + 1)
        return tuple(flat_counts), tuple(float(e) for e in edges)
    scale = HISTOGRAM_BINS / (hi - lo)
    idx = ((values - lo) * scale).astype(np.int64)
    np.clip(idx, 0, HISTOGRAM_BINS - 1, out=idx)
    counts = np.bincount(idx, minlength=HISTOGRAM_BINS)
    edges = np.linspace(lo, hi, HISTOGRAM_BINS + 1)
    return tuple(int(c) for c in counts), tuple(float(e) for e in edges)


class ValueStore:
    """Full values by (node, output index) within a byte budget; oldest dropped first.

    A dropped key is remembered so the session can say "dropped" (and recompute it)
    rather than "never seen".
    """

    def __init__(self, budget: int = DEFAULT_BUDGET) -> None:
        self.budget = int(budget)
        self._values: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        self._bytes = 0
        self.dropped: set[tuple[str, int]] = set()

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def put(self, node_id: str, index: int, array: np.ndarray) -> bool:
        """Keep a copy of `array`; False when it alone exceeds the budget (then dropped)."""
        key = (node_id, index)
        self.discard(key)
        if array.nbytes > self.budget:
            self.dropped.add(key)
            return False
        self._values[key] = np.array(array, copy=True)
        self._bytes += array.nbytes
        self.dropped.discard(key)
        while self._bytes > self.budget and self._values:
            old, value = self._values.popitem(last=False)
            self._bytes -= value.nbytes
            self.dropped.add(old)
        return True

    def get(self, node_id: str, index: int = 0) -> np.ndarray | None:
        return self._values.get((node_id, index))

    def is_dropped(self, node_id: str, index: int = 0) -> bool:
        return (node_id, index) in self.dropped

    def discard(self, key: tuple[str, int]) -> None:
        value = self._values.pop(key, None)
        if value is not None:
            self._bytes -= value.nbytes

    def clear(self) -> None:
        self._values.clear()
        self._bytes = 0
        self.dropped.clear()
