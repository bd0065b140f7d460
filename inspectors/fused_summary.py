"""A float array's summary in a few compiled passes over its values (numba).

numpy needs about a dozen passes (and a dozen calls) for what a summary holds: min,
max, sum, sum of squared deviations, sign counts, NaN and infinity counts, and the
histogram. Here one pass takes the sum of the values and their sign counts, one the
extremes, one the squared deviations from the mean, one the histogram (above 16,384
values, of an evenly strided sample). A continue
summarises every node's outputs, so this is where its time goes on a model of many
mid-sized tensors. `start_batch_stats` does it for a whole batch of arrays, read in
place by address, in one call with the GIL released. Arrays with a NaN or an
infinity go to numpy's path, which counts them.

The numbers are those of `tensors._summarize_array`: min, max and counts exact; mean
and std accumulated in float64 (the deviations taken from the mean, so they can
differ from numpy's in the last digits); the histogram binned in the array's dtype
exactly as numpy bins it, a sampled one scaled back as numpy's path scales it.
Measured per value, one array at a time: about 1.9 ns for 8,192-value float32 arrays
(the histogram is most of it), 0.75 ns for 262,144.

The loops are compiled with fast-math (reassociated float sums vectorise); the code
that tests their results for NaN and infinities is not: under `reassoc` LLVM folded
`math.isfinite` away and a NaN array passed as finite (measured, and tested).

numba is optional: without it (or for dtypes other than float32 and float64) the
numpy path runs. The kernels compile on first use and are cached on disk.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np

#: False where numba is not installed (tests set it to run numpy's path).
enabled = importlib.util.find_spec("numba") is not None

#: Reassociating float sums lets LLVM vectorise them; no flag assumes away NaN or
#: infinities (a non-finite sum sends the array to numpy's path, which counts them).
_FAST = {"reassoc", "nsz", "contract", "arcp"}


def _squares(values: Any, mean: float) -> float:
    squares = 0.0
    for i in range(values.size):
        d = values[i] - mean
        squares += d * d
    return squares


def _histogram(values: Any, limits: Any, hist: Any, lanes: Any) -> None:
    """The histogram, binned as numpy bins it: `(v - lo) * scale` in the values' dtype
    (`limits` holds lo and scale in it), truncated, the top edge in the last bin.
    Four values at a time, each into its own row of `lanes` (zeros, left zeroed), so a
    run of values in one bin does not wait on its own count (1.3 ns a value, four
    rows 0.85 with the squares' pass)."""
    lo = limits[0]
    scale = limits[1]
    last = hist.size - 1
    n = values.size
    end = n - n % 4
    for i in range(0, end, 4):
        lanes[0, min(int((values[i] - lo) * scale), last)] += 1
        lanes[1, min(int((values[i + 1] - lo) * scale), last)] += 1
        lanes[2, min(int((values[i + 2] - lo) * scale), last)] += 1
        lanes[3, min(int((values[i + 3] - lo) * scale), last)] += 1
    for i in range(end, n):
        hist[min(int((values[i] - lo) * scale), last)] += 1
    for b in range(hist.size):
        hist[b] += lanes[0, b] + lanes[1, b] + lanes[2, b] + lanes[3, b]
        lanes[0, b] = 0
        lanes[1, b] = 0
        lanes[2, b] = 0
        lanes[3, b] = 0


def _sums(values: Any) -> tuple[float, int, int]:
    """The sum (float64) and the negative and zero counts, in one vectorised pass."""
    total = 0.0
    negative = 0
    zero = 0
    for i in range(values.size):
        v = values[i]
        total += v
        negative += v < 0
        zero += v == 0
    return total, negative, zero


def _extremes(values: Any) -> tuple[Any, Any]:
    """Min and max, a pass of their own: in one loop with `_sums` they cost three times
    as much (measured). Eight independent lanes: LLVM does not vectorise a min / max
    reduction, and one lane waits on each compare (1 ns a value; eight: 0.28 ns)."""
    n = values.size
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = values[0]
    b0 = b1 = b2 = b3 = b4 = b5 = b6 = b7 = values[0]
    end = n - n % 8
    for i in range(0, end, 8):
        v0, v1, v2, v3 = values[i], values[i + 1], values[i + 2], values[i + 3]
        v4, v5, v6, v7 = values[i + 4], values[i + 5], values[i + 6], values[i + 7]
        a0, a1, a2, a3 = min(a0, v0), min(a1, v1), min(a2, v2), min(a3, v3)
        a4, a5, a6, a7 = min(a4, v4), min(a5, v5), min(a6, v6), min(a7, v7)
        b0, b1, b2, b3 = max(b0, v0), max(b1, v1), max(b2, v2), max(b3, v3)
        b4, b5, b6, b7 = max(b4, v4), max(b5, v5), max(b6, v6), max(b7, v7)
    lo = min(min(min(a0, a1), min(a2, a3)), min(min(a4, a5), min(a6, a7)))
    hi = max(max(max(b0, b1), max(b2, b3)), max(max(b4, b5), max(b6, b7)))
    for i in range(end, n):
        lo = min(lo, values[i])
        hi = max(hi, values[i])
    return lo, hi


def _sampled_histogram(values: Any, step: int, limits: Any, hist: Any) -> None:
    """The histogram of `values[::step]`, binned as `_histogram` bins."""
    lo = limits[0]
    scale = limits[1]
    last = hist.size - 1
    for i in range(0, values.size, step):
        hist[min(int((values[i] - lo) * scale), last)] += 1


def _many(
    addresses: Any,
    sizes: Any,
    limits: Any,
    wide: bool,
    sample_above: int,
    stats: Any,
    signs: Any,
    hist: Any,
    status: Any,
) -> None:
    """`fused_stats` of many arrays of one dtype in one call, the GIL released: array
    `k` is `sizes[k]` values at memory address `addresses[k]` (C-contiguous, alive for
    the call). Its (lo, hi, mean, std) go to `stats[k]`, its negative and zero counts to
    `signs[k]`, its histogram to `hist[k]` and to `status[k]`: 0 done; 1 numpy's path
    must do it (a NaN or an infinity, magnitudes whose squares leave float64, a range
    the dtype cannot scale). Above `sample_above` values the histogram is binned from
    the evenly strided sample `values[:: n // sample_above]` and scaled to `n` values
    as `tensors._scaled_counts` scales it.
    `limits` is a scratch pair in the values' dtype: lo and the bin scale in it; `wide`
    says that dtype is float64."""
    bins = hist.shape[1]
    lanes = np.zeros((4, bins), np.int64)
    for k in range(addresses.size):
        n = sizes[k]
        values = numba.carray(_pointer(addresses[k], limits), n)
        total, negative, zero = _sums(values)
        status[k] = 1
        if not math.isfinite(total):  # a NaN or an infinity spreads into the sum
            continue
        lo_v, hi_v = _extremes(values)
        lo = float(lo_v)
        hi = float(hi_v)
        bound = max(abs(lo), abs(hi))
        if not (bound == 0 or 1e-150 < bound < 1e150):
            continue
        span = hi - lo
        if span != 0 and not wide and not 1e-30 < span < 1e38:
            continue
        mean = total / n
        row = hist[k]
        if span == 0:
            squares = _squares(values, mean)
            row[bins // 2] = n
        else:
            limits[0] = lo
            limits[1] = bins / span
            if n > sample_above:
                squares = _squares(values, mean)
                step = n // sample_above
                _sampled_histogram(values, step, limits, row)
                _scale_counts(row, n, (n + step - 1) // step)
            else:
                squares = _squares(values, mean)
                _histogram(values, limits, row, lanes)
        status[k] = 0
        stats[k, 0] = lo
        stats[k, 1] = hi
        stats[k, 2] = mean
        stats[k, 3] = math.sqrt(squares / n)
        signs[k, 0] = negative
        signs[k, 1] = zero


def _scale_counts(hist: Any, n: int, sampled: int) -> None:
    """`tensors._scaled_counts` in place, with the same float64 arithmetic (compiled
    without fast-math: the remainders decide which bins get the rest)."""
    ratio = n / sampled
    remainders = np.empty(hist.size, np.float64)
    total = 0
    for b in range(hist.size):
        scaled = hist[b] * ratio
        whole = math.floor(scaled)
        remainders[b] = scaled - whole
        hist[b] = int(whole)
        total += int(whole)
    for _ in range(n - total):  # largest remainders first, ties to the lower bin
        best = 0
        for b in range(1, hist.size):
            if remainders[b] > remainders[best]:
                best = b
        remainders[best] = -1.0
        hist[best] += 1


_kernels: Any = None


def _compiled() -> Any:
    """The batch kernel `_many`, compiled on first use (numba is imported only then: a window that
    never summarises a value never loads it; compiled code is cached on disk)."""
    global _kernels, numba
    if _kernels is None:
        import numba as imported

        numba = imported
        global _pointer, _sums, _extremes, _squares, _sampled_histogram, _histogram
        global _scale_counts
        _pointer = _pointer_intrinsic()
        # The loops take fast-math; `_many`, which tests their results for NaN and
        # infinities and scales the sampled histograms, must not: `reassoc` lets LLVM
        # fold `math.isfinite` away (a NaN array was measured passing as finite).
        fast = numba.njit(cache=True, nogil=True, fastmath=_FAST)
        exact = numba.njit(cache=True, nogil=True)
        _sums, _extremes, _squares = fast(_sums), fast(_extremes), fast(_squares)
        _sampled_histogram = fast(_sampled_histogram)
        _histogram = fast(_histogram)
        _scale_counts = exact(_scale_counts)
        _kernels = exact(_many)
    return _kernels


numba: Any = None  # the module, once `_compiled` has imported it
_pointer: Any = None  # `_pointer_intrinsic()`, made then


def _pointer_intrinsic() -> Any:
    """`_pointer(address, like)`: the integer `address` as a pointer to `like`'s dtype,
    so a kernel reads an array it is given by address (`numba.carray`)."""
    from numba import types
    from numba.extending import intrinsic

    @intrinsic  # type: ignore[misc]
    def pointer(typingctx: Any, address: Any, like: Any) -> Any:
        kind = types.CPointer(like.dtype)

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return builder.inttoptr(args[0], context.get_value_type(kind))

        return kind(address, like), codegen

    return pointer


def available() -> bool:
    return enabled


def fused_stats(flat: np.ndarray, bins: int, sample_above: int) -> tuple[Any, ...] | None:
    """(lo, hi, mean, std, negative, zero, counts) of a 1-D float32 / float64 array of
    finite values, or None where numpy's path must do it: no numba, a NaN or an
    infinity (numpy's path counts them), magnitudes whose squares leave float64, a
    range float32 cannot scale. The batch kernel, `_many`, on this one array (a
    strided view is copied first), so one array gets the numbers a batch gives it."""
    if not enabled:
        return None
    many = _compiled()
    flat = np.ascontiguousarray(flat)
    stats = np.empty((1, 4), np.float64)
    signs = np.empty((1, 2), np.int64)
    hist = np.zeros((1, bins), np.int64)
    status = np.empty(1, np.int8)
    address = np.array([flat.ctypes.data], np.int64)
    size = np.array([flat.size], np.int64)
    limits = np.empty(2, flat.dtype)
    many(address, size, limits, flat.dtype == np.float64, sample_above, stats, signs, hist, status)
    if status[0]:
        return None
    lo, hi, mean, std = stats[0].tolist()
    negative, zero = signs[0].tolist()
    return lo, hi, mean, std, negative, zero, tuple(hist[0].tolist())


#: Whether `start_batch_stats` runs its kernel on a thread of its own, overlapping
#: the engine's next nodes (`GRAPHSTEP_SUMMARY_THREAD=1`). Off by default: measured on
#: 2 shared cores it gained nothing clear, the thread taking the core that torch's
#: second OpenMP thread runs on (`bench/stepping.py --summary-thread` compares).
background = os.environ.get("GRAPHSTEP_SUMMARY_THREAD") == "1"
_pool: Any = None  # the ThreadPoolExecutor of that thread, made on first use


def start_batch_stats(
    addresses: list[int], sizes: list[int], dtype: np.dtype, bins: int, sample_above: int
) -> Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Start `_many` over arrays of one dtype (float32 or float64) given by address and
    size; the returned call waits for it and gives (stats, signs, hist, status).

    The kernel runs on a thread of its own with the GIL released, so a continue runs
    its next nodes meanwhile: on a machine with a core to spare, the summaries cost
    the run little more than their Python part. The caller keeps the arrays alive and
    unchanged until the result is asked. Only compiled code runs on that thread (no
    framework op: a second OpenMP team would slow the engine's)."""
    global _pool
    many = _compiled()
    k = len(addresses)
    stats = np.empty((k, 4), np.float64)
    signs = np.empty((k, 2), np.int64)
    hist = np.zeros((k, bins), np.int64)
    status = np.empty(k, np.int8)
    args = (
        np.array(addresses, np.int64),
        np.array(sizes, np.int64),
        np.empty(2, dtype),
        dtype == np.float64,
        sample_above,
        stats,
        signs,
        hist,
        status,
    )
    outputs = (stats, signs, hist, status)
    if not background:
        many(*args)
        return lambda: outputs
    if _pool is None:
        from concurrent.futures import ThreadPoolExecutor

        _pool = ThreadPoolExecutor(1, thread_name_prefix="graphstep-summaries")
    future = _pool.submit(many, *args)

    def result() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        future.result()
        return outputs

    return result


def batch_stats(
    addresses: list[int], sizes: list[int], dtype: np.dtype, bins: int, sample_above: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(stats, signs, hist, status) of `_many` for arrays of one dtype, at once."""
    return start_batch_stats(addresses, sizes, dtype, bins, sample_above)()
