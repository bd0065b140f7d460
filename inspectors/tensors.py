"""What a debugger shows of a value: `TensorSummary`, and the budgeted `ValueStore`.

A stepper hands the session numpy arrays, or its framework's own tensors when that
framework is registered here (`register_framework`: torch, by
`torch_inspector.summaries`). Framework tensors are summarised by the framework, in
batches, on their own device, and kept as they are; they become numpy only when asked
(`as_numpy`, `ValueStore.get`). Nothing in this module imports a framework, and the
GUI only ever sees summaries and numpy arrays.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from inspectors import fused_summary
from inspectors.fused_summary import fused_stats, start_batch_stats

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


@dataclass(frozen=True)
class Framework:
    """How the engine handles one framework's tensor type without importing it here:
    `summarize_batch(values)` summarises a list of them where they live (see
    `torch_inspector.summaries`; `start_batch` starts that and answers later), `to_host(value)` gives a numpy array (or the value
    itself when numpy cannot hold it), `nbytes(value)` its size."""

    summarize_batch: Callable[[Sequence[Any]], list[TensorSummary]]
    to_host: Callable[[Any], Any]
    nbytes: Callable[[Any], int]
    copy: Callable[[Any], Any]
    on_device: Callable[[Any], bool]  # not in host memory (a GPU's)
    #: `summarize_batch` in two halves: the work started now, the call it returns
    #: giving the summaries (see `start_batch`); None: all of it when asked.
    start_batch: Callable[[Sequence[Any]], Callable[[], list[TensorSummary]]] | None = None


#: Framework tensor types the engine summarises and keeps as they are (a stepper's
#: package registers its type when it is imported).
FRAMEWORKS: dict[type, Framework] = {}


#: Every type asked about so far -> its framework or None (a subclass, such as torch's
#: `Parameter`, found once by `isinstance`; a continue asks a few times per output).
_BY_TYPE: dict[type, Framework | None] = {}


def register_framework(kind: type, framework: Framework) -> None:
    FRAMEWORKS[kind] = framework
    _BY_TYPE.clear()


def framework_of(value: Any) -> Framework | None:
    """The registered framework of a value (its type or a base of it), or None."""
    kind = type(value)
    try:
        return _BY_TYPE[kind]
    except KeyError:
        pass
    found = FRAMEWORKS.get(kind)
    if found is None and kind is not np.ndarray:
        found = next((f for k, f in FRAMEWORKS.items() if isinstance(value, k)), None)
    _BY_TYPE[kind] = found
    return found


def _framework_of_type(kind: type, values: list[Any]) -> Framework | None:
    """`framework_of` for the values of one type among `values`."""
    try:
        return _BY_TYPE[kind]
    except KeyError:
        return framework_of(next(v for v in values if type(v) is kind))


def as_numpy(value: Any) -> Any:
    """A framework tensor as a numpy array (on the host); anything else as it is."""
    framework = framework_of(value)
    return framework.to_host(value) if framework is not None else value


def summarize(value: Any, device: str = "cpu") -> TensorSummary:
    """A TensorSummary of a numpy array or a registered framework's tensor (computed
    where it lives), or a description of anything else."""
    if type(value) is np.ndarray:  # the usual case, without a union isinstance
        return _summarize_array(value, device)
    if isinstance(value, np.ndarray | np.generic):
        return _summarize_array(np.asarray(value), device)
    framework = framework_of(value)
    if framework is not None:
        return framework.summarize_batch([value])[0]
    return describe(value)


def tensor_summary(
    shape: tuple[int, ...],
    dtype: str,
    device: str,
    size: int,
    nbytes: int,
    lo: float,
    hi: float,
    mean: float,
    std: float,
    abs_max: float,
    negative: int,
    zero: int,
    positive: int,
    nan: int,
    neg_inf: int,
    pos_inf: int,
    hist_counts: tuple[int, ...],
    hist_range: tuple[float, ...],
) -> TensorSummary:
    """A tensor's summary from its fields (`_tensor_summary`; a continue builds one per
    output)."""
    return _tensor_summary(
        shape, dtype, device, "tensor", "", size, nbytes, lo, hi, mean, std, abs_max,
        negative, zero, positive, nan, neg_inf, pos_inf, hist_counts, hist_range, {},
    )  # fmt: skip


def describe(value: Any) -> TensorSummary:
    """A summary for a non-tensor output, never raising."""
    kind = type(value)
    if kind is int or kind is float or kind is bool or value is None:  # sizes, flags
        known = _DESCRIBED.get(kind)
        if known is None:
            known = _DESCRIBED[kind] = TensorSummary(kind=kind.__name__, text="")
        summary = _new(TensorSummary)
        summary.__dict__.update(known.__dict__)
        summary.__dict__["text"] = repr(value)
        summary.__dict__["extra"] = {}
        return summary
    try:
        text = repr(value)
    except Exception as exc:  # a user object whose repr raises
        text = f"<{type(value).__name__}: repr failed: {exc}>"
    if len(text) > 200:
        text = text[:197] + "..."
    return TensorSummary(kind=type(value).__name__, text=text)


_FIELDS = tuple(f.name for f in fields(TensorSummary))
_new = object.__new__
#: The summary of a plain Python scalar of each type, but its text (`describe`).
_DESCRIBED: dict[type, TensorSummary] = {}


def _tensor_summary(
    shape: tuple[int, ...],
    dtype: str,
    device: str,
    kind: str,
    text: str,
    size: int,
    nbytes: int,
    lo: float,
    hi: float,
    mean: float,
    std: float,
    abs_max: float,
    negative: int,
    zero: int,
    positive: int,
    nan: int,
    neg_inf: int,
    pos_inf: int,
    hist_counts: tuple[int, ...],
    hist_range: tuple[float, ...],
    extra: dict[str, Any],
) -> TensorSummary:
    """`TensorSummary(...)`, every field given in order, at a sixth of the cost.

    The frozen dataclass `__init__` sets each of its 21 fields through
    `object.__setattr__`; filling the instance dict directly gives the same object
    (TensorSummary has no slots), as `dataclasses.fields` order names them."""
    summary = _new(TensorSummary)
    d = summary.__dict__
    d["shape"] = shape
    d["dtype"] = dtype
    d["device"] = device
    d["kind"] = kind
    d["text"] = text
    d["size"] = size
    d["nbytes"] = nbytes
    d["min"] = lo
    d["max"] = hi
    d["mean"] = mean
    d["std"] = std
    d["abs_max"] = abs_max
    d["negative"] = negative
    d["zero"] = zero
    d["positive"] = positive
    d["nan"] = nan
    d["neg_inf"] = neg_inf
    d["pos_inf"] = pos_inf
    d["hist_counts"] = hist_counts
    d["hist_range"] = hist_range
    d["extra"] = extra
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
    fused = None
    if size > SMALL_ARRAY and flat.dtype.kind == "f":
        # two compiled passes where numba is (`fused_summary`); None: numpy's path
        fused = fused_stats(flat, HISTOGRAM_BINS, HISTOGRAM_SAMPLE)
    if fused is not None:
        lo, hi, mean, std, negative, zero, counts = fused
        nan = neg_inf = pos_inf = 0
        positive = size - negative - zero
        n = size
    else:
        nan = neg_inf = pos_inf = 0
        finite = flat
        total: float | None = None
        if flat.dtype.kind == "f":
            # A finite sum proves every value finite (a NaN or an Inf would spread into
            # it), which spares a pass; only an overflowing sum needs the full check.
            with np.errstate(over="ignore", invalid="ignore"):  # an overflow is checked next
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
    return tensor_summary(
        shape,
        dtype,
        device,
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
    return tensor_summary(
        shape,
        dtype,
        device,
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
    )


def _std(values: np.ndarray, mean: float, bound: float) -> float:
    """Population std: from the sum of squares (one BLAS pass) unless the mean dominates.

    E[x^2] - mean^2 loses digits when the spread is tiny next to the mean; then the
    values are centred first (a second pass and a temporary array). `bound` is the
    largest magnitude: outside [1e-15, 1e15] the squares could underflow or overflow
    (float32 squares vanish below 1e-19: a vanishing gradient would read std 0), so the
    values are scaled into [-1, 1] first and the result scaled back.
    """
    n = values.size
    scale = 1.0
    if not _SAFE_LOW < bound < _SAFE_HIGH and bound > 0 and math.isfinite(bound):
        scale = bound
        values = values / values.dtype.type(bound)
        mean = mean / bound
    square_mean = float(np.dot(values, values)) / n
    var = square_mean - mean * mean
    if var > 1e-3 * mean * mean:
        return math.sqrt(var) * scale
    centred = values - values.dtype.type(mean)
    return math.sqrt(max(float(np.dot(centred, centred)) / n, 0.0)) * scale


#: Magnitudes whose squares stay normal numbers in float32 (and whose sums of squares
#: cannot overflow it); `_std` scales values outside this range first.
_SAFE_LOW, _SAFE_HIGH = 1e-15, 1e15


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
    return _scaled_counts(binned, n, sample.size)


def _scaled_counts(binned: np.ndarray, n: int, sampled: int) -> tuple[int, ...]:
    """A histogram of `sampled` evenly strided values scaled back to all `n` values."""
    scaled = binned * (n / sampled)
    scaled_counts = np.floor(scaled).astype(np.int64)
    rest = n - int(scaled_counts.sum())
    if rest > 0:  # largest remainders first (ties: the lower bin), so they add up to n
        scaled_counts[np.argsort(scaled_counts - scaled, kind="stable")[:rest]] += 1
    return tuple(scaled_counts.tolist())


#: Largest array `summarize_batch` takes in its vectorised pass (others one by one).
BATCH_MAX = 1024


def start_batch(arrays: list[Any]) -> Callable[[], list[TensorSummary]]:
    """`summarize_batch(arrays)` in two halves: what can run while the caller goes on
    (a framework's compiled passes, `Framework.start_batch`) starts now; the returned
    call finishes the rest and gives the summaries. The values must stay alive and
    unchanged until then: a continue runs its next nodes meanwhile."""
    # the usual batch: every value one framework's tensor (a type's framework looked
    # up once, not once per value)
    kinds = set(map(type, arrays))
    if len(kinds) <= 2 and np.ndarray not in kinds:
        found = {_framework_of_type(kind, arrays) for kind in kinds}
        if len(found) == 1:
            (only,) = found
            if only is not None and only.start_batch is not None:
                return only.start_batch(arrays)
    theirs: dict[int, list[int]] = {}
    for i, a in enumerate(arrays):
        if (
            type(a) is not np.ndarray
            and (framework := framework_of(a)) is not None
            and framework.start_batch is not None
        ):
            theirs.setdefault(id(framework), []).append(i)
    if not theirs:
        return lambda: summarize_batch(arrays)
    started = []
    for members in theirs.values():
        framework = framework_of(arrays[members[0]])
        assert framework is not None and framework.start_batch is not None
        started.append((members, framework.start_batch([arrays[i] for i in members])))
    chosen = {i for members in theirs.values() for i in members}
    rest = [i for i in range(len(arrays)) if i not in chosen]

    def finish() -> list[TensorSummary]:
        out: list[TensorSummary | None] = [None] * len(arrays)
        for i, summary in zip(rest, summarize_batch([arrays[i] for i in rest]), strict=True):
            out[i] = summary
        for members, result in started:
            for i, summary in zip(members, result(), strict=True):
                out[i] = summary
        return out  # type: ignore[return-value]

    return finish


def summarize_batch(arrays: list[Any], device: str = "cpu") -> list[TensorSummary]:
    """`[summarize(a) for a in arrays]`, with small finite float32/float64 arrays done
    together: one numpy call per statistic for the whole batch instead of about ten per
    array, which is what a continue over thousands of small nodes spends its time on.

    Same fields and values as `summarize` (the histogram with the same arithmetic in
    the array's dtype); mean and std are taken in float64, so they can differ from the
    one-by-one path in the last digits.
    """
    out: list[TensorSummary | None] = [None] * len(arrays)
    groups: dict[np.dtype, list[int]] = {}
    large: dict[np.dtype, list[int]] = {}  # read in place by one compiled call
    theirs: dict[int, list[int]] = {}  # framework tensors, by framework
    compiled = fused_summary.enabled
    for i, a in enumerate(arrays):
        if (
            type(a) is np.ndarray
            and a.size > 0
            and (a.dtype == np.float32 or a.dtype == np.float64)
            and (a.size <= BATCH_MAX or compiled and a.flags.c_contiguous)
        ):
            (groups if a.size <= BATCH_MAX else large).setdefault(a.dtype, []).append(i)
        elif type(a) is not np.ndarray and (framework := framework_of(a)) is not None:
            theirs.setdefault(id(framework), []).append(i)
        else:
            out[i] = summarize(a, device)
    for members in theirs.values():
        framework = framework_of(arrays[members[0]])
        assert framework is not None
        for i, theirs_summary in zip(
            members, framework.summarize_batch([arrays[i] for i in members]), strict=True
        ):
            out[i] = theirs_summary
    for dtype, members in list(groups.items()):
        if compiled and len(members) >= 4:  # small ones too, where they are contiguous
            large.setdefault(dtype, []).extend(i for i in members if arrays[i].flags.c_contiguous)
            groups[dtype] = [i for i in members if not arrays[i].flags.c_contiguous]
    for dtype, members in large.items():
        chosen = [arrays[i] for i in members]
        sizes = [a.size for a in chosen]
        copied, addresses = _addresses(chosen, sizes, dtype)
        at = summarize_at([a.shape for a in chosen], addresses, sizes, dtype, device)
        del copied  # read: no longer needed
        for i, summary in zip(members, at, strict=True):
            out[i] = summary if summary is not None else summarize(arrays[i], device)
    for dtype, members in groups.items():
        if len(members) < 4:
            for i in members:
                out[i] = summarize(arrays[i], device)
            continue
        for i, summary in zip(
            members, _summarize_same_dtype([arrays[i] for i in members], dtype, device), strict=True
        ):
            out[i] = summary if summary is not None else summarize(arrays[i], device)
    return out  # type: ignore[return-value]


def _addresses(
    arrays: list[np.ndarray], sizes: list[int], dtype: np.dtype
) -> tuple[np.ndarray | None, list[int]]:
    """Where each array's values start, for `summarize_at`; the small ones (at most
    BATCH_MAX values) are read from one copy of them all, which this returns too (keep
    it alive until read). Asking numpy for an array's address costs 0.85 us
    (`ctypes.data`); the copy of a small array a few ns a value."""
    small = [i for i, n in enumerate(sizes) if n <= BATCH_MAX]
    addresses = [0] * len(arrays)
    copied = None
    if len(small) > 1:
        if len(small) == len(arrays):
            copied = np.concatenate(arrays, axis=None)
        else:
            copied = np.concatenate([arrays[i] for i in small], axis=None)
        starts = np.zeros(len(small), np.int64)
        np.cumsum([sizes[i] for i in small][:-1], out=starts[1:])
        for i, at in zip(
            small, (starts * dtype.itemsize + copied.ctypes.data).tolist(), strict=True
        ):
            addresses[i] = at
        rest: Iterable[int] = (i for i, n in enumerate(sizes) if n > BATCH_MAX)
    else:
        rest = range(len(arrays))
    for i in rest:
        addresses[i] = arrays[i].ctypes.data
    return copied, addresses


def _summarize_same_dtype(
    arrays: list[np.ndarray], dtype: np.dtype, device: str
) -> list[TensorSummary | None]:
    """Summaries of finite float arrays of one dtype, vectorised over segments; None for
    an array with a NaN or an infinity, or a range the histogram cannot scale."""
    sizes = np.fromiter((a.size for a in arrays), np.int64, len(arrays))
    starts = np.zeros(len(arrays), np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    flat = np.concatenate([a.reshape(-1) for a in arrays])
    lo = np.minimum.reduceat(flat, starts)
    hi = np.maximum.reduceat(flat, starts)
    wide = flat.astype(np.float64)
    total = np.add.reduceat(wide, starts)
    finite = np.isfinite(total) & np.isfinite(lo) & np.isfinite(hi)
    mean = total / sizes
    centred = wide - np.repeat(np.where(finite, mean, 0.0), sizes)
    var = np.add.reduceat(centred * centred, starts) / sizes
    # float64 squares stay normal from 1e-150 to 1e150; past that, `_std` one by one
    magnitude = np.maximum(np.abs(lo), np.abs(hi)).astype(np.float64)
    finite &= (magnitude < 1e150) & ((magnitude > 1e-150) | (magnitude == 0))
    negative = np.add.reduceat((flat < 0).view(np.int8), starts, dtype=np.int64)
    zero = np.add.reduceat((flat == 0).view(np.int8), starts, dtype=np.int64)
    lo64, hi64 = lo.astype(np.float64), hi.astype(np.float64)
    span = hi64 - lo64
    scalable = (span == 0) | (dtype == np.float64) | ((span > 1e-30) & (span < 1e38))
    ok = finite & scalable
    # the histogram's bin of each value, computed as `_histogram` does: in the dtype
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        scale = np.where(span > 0, HISTOGRAM_BINS / np.where(span > 0, span, 1.0), 0.0)
        idx = ((flat - np.repeat(lo, sizes)) * np.repeat(scale.astype(dtype), sizes)).astype(
            np.intp
        )
    np.clip(idx, 0, HISTOGRAM_BINS - 1, out=idx)  # hi, and what rounds up to it: last bin
    segment = np.repeat(np.arange(len(arrays)), sizes)
    counts = np.bincount(segment * HISTOGRAM_BINS + idx, minlength=len(arrays) * HISTOGRAM_BINS)
    counts = counts.reshape(len(arrays), HISTOGRAM_BINS)
    name = _DTYPE_NAMES.get(dtype) or _DTYPE_NAMES.setdefault(dtype, str(dtype))
    middle = [0] * HISTOGRAM_BINS
    result: list[TensorSummary | None] = []
    new, fill = _new, _FIELDS
    for a, good, n, low, high, m, sd, neg, zer, row in zip(
        arrays,
        ok.tolist(),
        sizes.tolist(),
        lo64.tolist(),
        hi64.tolist(),
        mean.tolist(),
        np.sqrt(np.maximum(var, 0.0)).tolist(),
        negative.tolist(),
        zero.tolist(),
        counts.tolist(),
        strict=True,
    ):
        if not good:
            result.append(None)
            continue
        if high == low:
            row = list(middle)
            row[HISTOGRAM_BINS // 2] = n
        summary = new(TensorSummary)
        summary.__dict__.update(
            zip(
                fill,
                (
                    a.shape,
                    name,
                    device,
                    "tensor",
                    "",
                    n,
                    a.nbytes,
                    low,
                    high,
                    m,
                    sd,
                    max(-low, high, low, -high),
                    neg,
                    zer,
                    n - neg - zer,
                    0,
                    0,
                    0,
                    tuple(row),
                    (low, high),
                    {},
                ),  # fmt: skip
                strict=True,
            )
        )
        result.append(summary)
    return result


def summarize_at(
    shapes: list[tuple[int, ...]],
    addresses: list[int],
    sizes: list[int],
    dtype: np.dtype,
    device: str = "cpu",
) -> list[TensorSummary | None]:
    """Summaries of C-contiguous float32 / float64 arrays of one dtype given by shape,
    memory address and size (the caller keeps them alive), in one compiled call for
    all (`fused_summary.start_batch_stats`): what a continue's batches of framework
    tensors go through on the CPU, with no numpy object made per array. None where
    numpy's path must do it (a NaN or an infinity, extreme magnitudes).

    The numbers are `summarize`'s, mean and std accumulated in float64 as in
    `summarize_batch`."""
    return start_at(shapes, addresses, sizes, dtype, device)()


def start_at(
    shapes: list[tuple[int, ...]],
    addresses: list[int],
    sizes: list[int],
    dtype: np.dtype,
    device: str = "cpu",
) -> Callable[[], list[TensorSummary | None]]:
    """`summarize_at`, its compiled pass started now (on the summaries' thread); the
    returned call waits for it and builds the summaries. The arrays must stay alive
    and unchanged until then."""
    pending = start_batch_stats(addresses, sizes, dtype, HISTOGRAM_BINS, HISTOGRAM_SAMPLE)

    def finish() -> list[TensorSummary | None]:
        stats, signs, hist, status = pending()
        name = _DTYPE_NAMES.get(dtype) or _DTYPE_NAMES.setdefault(dtype, str(dtype))
        itemsize = dtype.itemsize
        out: list[TensorSummary | None] = []
        append = out.append
        for shape, n, state, (lo, hi, mean, std), (negative, zero), counts in zip(
            shapes,
            sizes,
            status.tolist(),
            stats.tolist(),
            signs.tolist(),
            hist.tolist(),
            strict=True,
        ):
            if state:
                append(None)
                continue
            append(
                _tensor_summary(
                    shape,
                    name,
                    device,
                    "tensor",
                    "",
                    n,
                    n * itemsize,
                    lo,
                    hi,
                    mean,
                    std,
                    max(-lo, hi, lo, -hi),
                    negative,
                    zero,
                    n - negative - zero,
                    0,
                    0,
                    0,
                    tuple(counts),
                    (lo, hi),
                    {},
                )
            )
        return out

    return finish


class ValueStore:
    """Full values by (node, output index) within a byte budget; oldest dropped first.

    Values are numpy arrays or framework tensors (kept where they live: a GPU's values
    stay on the GPU). Past `device_budget` bytes on a device, the oldest device values
    move to host memory; past `budget` bytes in all, the oldest are dropped. A dropped
    key is remembered so the session can say "dropped" (and recompute it) rather than
    "never seen". `get` always answers with numpy.
    """

    def __init__(self, budget: int = DEFAULT_BUDGET, device_budget: int = DEFAULT_BUDGET) -> None:
        self.budget = int(budget)
        self.device_budget = int(device_budget)
        self._values: OrderedDict[tuple[str, int], Any] = OrderedDict()
        self._sizes: dict[tuple[str, int], int] = {}
        self._on_device: set[tuple[str, int]] = set()
        self._bytes = 0
        self._device_bytes = 0
        self.dropped: set[tuple[str, int]] = set()

    @property
    def nbytes(self) -> int:
        return self._bytes

    @property
    def device_nbytes(self) -> int:
        return self._device_bytes

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def put(self, node_id: str, index: int, array: Any, copy: bool = True) -> bool:
        """Keep a copy of `array` (`copy=False`: `array` itself, for a value that can never
        change); False when it alone exceeds the budget (then dropped)."""
        key = (node_id, index)
        self.discard(key)
        framework = framework_of(array)
        size = array.nbytes if framework is None else framework.nbytes(array)
        if size > self.budget:
            self.dropped.add(key)
            return False
        if copy:
            array = np.array(array, copy=True) if framework is None else framework.copy(array)
        self._values[key] = array
        self._sizes[key] = size
        self._bytes += size
        self.dropped.discard(key)
        if framework is not None and framework.on_device(array):
            self._on_device.add(key)
            self._device_bytes += size
            if self._device_bytes > self.device_budget:
                self._spill()
        while self._bytes > self.budget and self._values:
            old, _value = self._values.popitem(last=False)
            self._forget(old)
            self.dropped.add(old)
        return True

    def keep(self, node_id: str, index: int, value: Any, framework: Framework) -> None:
        """`put(node_id, index, value, copy=False)` for a framework tensor already known
        to be one (the hot path of a continue: one call, no lookups)."""
        key = (node_id, index)
        if key in self._values:
            self.discard(key)
        size = framework.nbytes(value)
        if size > self.budget:
            self.dropped.add(key)
            return
        self._values[key] = value
        self._sizes[key] = size
        self._bytes += size
        if self.dropped:
            self.dropped.discard(key)
        if framework.on_device(value):
            self._on_device.add(key)
            self._device_bytes += size
            if self._device_bytes > self.device_budget:
                self._spill()
        while self._bytes > self.budget and self._values:
            old, _value = self._values.popitem(last=False)
            self._forget(old)
            self.dropped.add(old)

    def _spill(self) -> None:
        """Move the oldest device values to host memory until the device budget holds."""
        for key in list(self._values):
            if self._device_bytes <= self.device_budget:
                return
            if key in self._on_device:
                self._values[key] = as_numpy(self._values[key])
                self._on_device.discard(key)
                self._device_bytes -= self._sizes[key]

    def get(self, node_id: str, index: int = 0) -> np.ndarray | None:
        value = self._values.get((node_id, index))
        if value is None or type(value) is np.ndarray:
            return value
        return as_numpy(value)

    def is_dropped(self, node_id: str, index: int = 0) -> bool:
        return (node_id, index) in self.dropped

    def discard(self, key: tuple[str, int]) -> None:
        if self._values.pop(key, None) is not None:
            self._forget(key)

    def _forget(self, key: tuple[str, int]) -> None:
        size = self._sizes.pop(key, 0)
        self._bytes -= size
        if key in self._on_device:
            self._on_device.discard(key)
            self._device_bytes -= size

    def clear(self) -> None:
        self._values.clear()
        self._sizes.clear()
        self._on_device.clear()
        self._bytes = 0
        self._device_bytes = 0
        self.dropped.clear()
