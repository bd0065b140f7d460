"""What a debugger shows of a value: `TensorSummary`, and the budgeted `ValueStore`.

Summaries are computed from numpy arrays (a framework's stepper hands numpy over), so
the session and the GUI never touch a framework tensor.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from dataclasses import dataclass, field, fields
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
    hist_range: tuple[float, ...] = ()  # (lo, hi) of the histogram's bins
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def hist_edges(self) -> tuple[float, ...]:
        """The HISTOGRAM_BINS + 1 bin edges (computed on demand: summaries are hot)."""
        if not self.hist_range:
            return ()
        lo, hi = self.hist_range
        if hi == lo:
            half = 0.5 if lo == 0 else abs(lo) * 0.5
            lo, hi = lo - half, hi + half
        return tuple(np.linspace(lo, hi, len(self.hist_counts) + 1).tolist())

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
    if type(value) is np.ndarray:  # the usual case, without a union isinstance
        return _summarize_array(value, device)
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


_FIELDS = tuple(f.name for f in fields(TensorSummary))
_new = object.__new__


def _tensor_summary(*values: Any) -> TensorSummary:
    """`TensorSummary(*values)`, every field given in order, at a third of the cost.

    The frozen dataclass `__init__` sets each of its 20 fields through
    `object.__setattr__`, which is a third of a small array's summary; filling the
    instance dict at once gives the same object (TensorSummary has no slots).
    """
    summary = _new(TensorSummary)
    summary.__dict__.update(zip(_FIELDS, values, strict=True))
    return summary


_DTYPE_NAMES: dict[np.dtype, str] = {}

#: Above this many finite values the histogram is taken over an evenly strided sample
#: (counts scaled to the full size): exact statistics, approximate histogram shape.
HISTOGRAM_SAMPLE = 1 << 14

#: Up to this many values a summary works from a sorted copy (`_summarize_small`):
#: for small arrays the cost is the number of numpy calls, not the data.
SMALL_ARRAY = 200


def _summarize_array(a: np.ndarray, device: str) -> TensorSummary:
    """One pass per statistic, no float64 copy of the data: this runs after every node."""
    shape = a.shape
    kind = a.dtype.kind
    dtype = _DTYPE_NAMES.get(a.dtype) or _DTYPE_NAMES.setdefault(a.dtype, str(a.dtype))
    size = a.size
    if size == 0 or kind not in "biufc":
        return TensorSummary(shape, dtype, device, size=size, nbytes=a.nbytes)
    flat = a.reshape(-1)
    if kind == "b":
        flat = flat.view(np.int8)
    elif kind == "c":
        flat = np.abs(flat)
    if flat.dtype.kind == "f":
        if flat.dtype.itemsize < 4:  # float16 and friends: reduce in float32
            flat = flat.astype(np.float32)
    else:
        flat = flat.astype(np.float64)  # exact for integers below 2**53, signs always
    if size <= SMALL_ARRAY:
        small = _summarize_small(flat, shape, dtype, device, a.nbytes)
        if small is not None:
            return small
    nan = neg_inf = pos_inf = 0
    finite = flat
    total: float | None = None
    if flat.dtype.kind == "f":
        # A finite sum proves every value finite (a NaN or an Inf would spread into
        # it), which spares a pass; only an overflowing sum needs the full check.
        total = float(flat.sum())  # pairwise summation: accurate without a copy
        if not math.isfinite(total) and not np.isfinite(flat).all():
            nan = int(np.count_nonzero(np.isnan(flat)))
            neg_inf = int(np.count_nonzero(flat == -np.inf))
            pos_inf = int(np.count_nonzero(flat == np.inf))
            finite = flat[np.isfinite(flat)]
            total = None
    negative = int(np.count_nonzero(flat < 0))
    zero = int(np.count_nonzero(flat == 0))
    positive = size - negative - zero - nan
    n = int(finite.size)
    if n:
        lo = float(finite.min())
        hi = float(finite.max())
        if total is None or not math.isfinite(total):
            total = float(finite.sum(dtype=np.float64))
        mean = total / n
        std = _std(finite, mean, max(abs(lo), abs(hi)))
        counts = _histogram(finite, lo, hi)
    else:
        lo = hi = mean = std = math.nan
        counts = ()
    abs_max = max(abs(lo), abs(hi)) if n else math.nan
    if pos_inf or neg_inf:
        abs_max = math.inf
    return _tensor_summary(
        shape,
        dtype,
        device,
        "tensor",
        "",
        size,
        a.nbytes,
        lo,
        hi,
        mean,
        std,
        abs_max,
        negative,
        zero,
        positive,
        nan,
        neg_inf,
        pos_inf,
        counts,
        (lo, hi) if n else (),
        {},
    )


def _summarize_small(
    values: np.ndarray, shape: tuple[int, ...], dtype: str, device: str, nbytes: int
) -> TensorSummary | None:
    """The summary of a small float array from one sorted copy; None if any value is not
    finite (the general path counts NaN and infinities).

    Min and max are its ends, the sign counts a bisection for 0.0, the mean an exact
    sum of its values as Python floats: a few numpy calls in all, where separate
    reductions cost about a microsecond each whatever the size.
    """
    ordered = np.sort(values)
    listed = ordered.tolist()
    try:
        total = math.fsum(listed)  # correctly rounded, whatever the order of magnitudes
    except (OverflowError, ValueError):  # inf - inf, or finite values summing past 1e308
        return None
    if not math.isfinite(total):  # a NaN or an infinity spreads into the sum
        return None
    size = len(listed)
    lo = listed[0]
    hi = listed[-1]
    negative = bisect_left(listed, 0.0)
    zero = bisect_right(listed, 0.0, negative) - negative  # -0.0 included, as `== 0`
    mean = total / size
    abs_max = max(abs(lo), abs(hi))
    return _tensor_summary(
        shape,
        dtype,
        device,
        "tensor",
        "",
        size,
        nbytes,
        lo,
        hi,
        mean,
        _std(ordered, mean, abs_max),
        abs_max,
        negative,
        zero,
        size - negative - zero,
        0,
        0,
        0,
        _histogram(ordered, lo, hi),
        (lo, hi),
        {},
    )


def _std(values: np.ndarray, mean: float, bound: float) -> float:
    """Population std: from the sum of squares (one BLAS pass) unless the mean dominates.

    E[x^2] - mean^2 loses digits when the spread is tiny next to the mean; then the
    values are centred first (a second pass and a temporary array). `bound` is the
    largest magnitude: past 1e18 the squares could overflow float32, so widen first.
    """
    n = values.size
    if bound > 1e18 and values.dtype != np.float64:
        values = values.astype(np.float64)
    square_mean = float(np.dot(values, values)) / n
    var = square_mean - mean * mean
    if var > 1e-3 * mean * mean:
        return math.sqrt(var)
    centred = values - values.dtype.type(mean)
    return math.sqrt(max(float(np.dot(centred, centred)) / n, 0.0))


def _histogram(values: np.ndarray, lo: float, hi: float) -> tuple[int, ...]:
    """Fixed-bin counts over [lo, hi] of finite values (bincount beats np.histogram)."""
    n = values.size
    if hi == lo:
        flat_counts = [0] * HISTOGRAM_BINS
        flat_counts[HISTOGRAM_BINS // 2] = int(n)
        return tuple(flat_counts)
    sample = values
    if n > HISTOGRAM_SAMPLE:
        sample = values[:: n // HISTOGRAM_SAMPLE]
    if not 1e-30 < hi - lo < 1e38 and sample.dtype != np.float64:
        sample = sample.astype(np.float64)  # the range or its inverse could overflow float32
    # Python floats are weak scalars (NEP 50): the arithmetic stays in the array's dtype.
    idx = ((sample - lo) * (HISTOGRAM_BINS / (hi - lo))).astype(np.intp)  # >= 0: lo is min
    binned = np.bincount(idx, minlength=HISTOGRAM_BINS)
    if sample is values:
        counts = binned.tolist()
        if len(counts) > HISTOGRAM_BINS:  # hi, and anything rounding up to it: last bin
            counts[HISTOGRAM_BINS - 1] += sum(counts[HISTOGRAM_BINS:])
            del counts[HISTOGRAM_BINS:]
        return tuple(counts)
    if binned.size > HISTOGRAM_BINS:
        binned[HISTOGRAM_BINS - 1] += binned[HISTOGRAM_BINS:].sum()
        binned = binned[:HISTOGRAM_BINS]
    # scale the sample's counts back to the full size
    scaled = binned * (n / sample.size)
    scaled_counts = np.floor(scaled).astype(np.int64)
    rest = n - int(scaled_counts.sum())
    if rest > 0:  # largest remainders first, so the counts add up to n
        scaled_counts[np.argsort(scaled - scaled_counts)[::-1][:rest]] += 1
    return tuple(scaled_counts.tolist())


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

    def put(self, node_id: str, index: int, array: np.ndarray, copy: bool = True) -> bool:
        """Keep a copy of `array` (`copy=False`: `array` itself, for a value that can never
        change); False when it alone exceeds the budget (then dropped)."""
        key = (node_id, index)
        self.discard(key)
        if array.nbytes > self.budget:
            self.dropped.add(key)
            return False
        self._values[key] = np.array(array, copy=True) if copy else array
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
