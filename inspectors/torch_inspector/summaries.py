"""Summaries of torch tensors computed by torch, on the tensors' own device, in batches.

A continue summarises every node's outputs. Done one tensor at a time in numpy, that
costs a dozen numpy calls per output and, on a GPU, a copy of every output to the
host. Here the outputs of many nodes are summarised together: tensors of one device,
dtype and size are stacked as the rows of one matrix, and each statistic is one torch
reduction over the rows (min and max, mean and std, sign counts, the histogram as one
`bincount`); only a few numbers per tensor cross to the host, in one transfer per
group.

The fields and their arithmetic are those of `inspectors.tensors.summarize`: min, max
and sign counts exact; mean and std accumulated in float64 (torch's `std_mean` uses
Welford's method), so they can differ from numpy's in the last digits; the histogram
binned in the tensor's dtype exactly as numpy bins it, over every value (numpy's path
samples arrays above `HISTOGRAM_SAMPLE` values). A tensor with a NaN or an infinity is
summarised on its own, its statistics over its finite values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from inspectors import fused_summary
from inspectors.tensors import (
    HISTOGRAM_BINS,
    Framework,
    TensorSummary,
    describe,
    register_framework,
    start_at,
    summarize,
    summarize_batch,
    tensor_summary,
)
from inspectors.torch_inspector.numpy_io import to_numpy

_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_DTYPE_NAMES = {
    torch.float16: "float16",
    torch.bfloat16: "float32",  # numpy has no bfloat16: its values are shown as float32
    torch.float32: "float32",
    torch.float64: "float64",
    torch.int8: "int8",
    torch.int16: "int16",
    torch.int32: "int32",
    torch.int64: "int64",
    torch.uint8: "uint8",
    torch.bool: "bool",
    torch.complex64: "complex64",
    torch.complex128: "complex128",
}


def summarize_tensors(tensors: Sequence[Any], on_host: bool = True) -> list[TensorSummary]:
    """One summary per tensor (anything else described), computed where it lives
    (`start_tensors`, at once)."""
    return start_tensors(tensors, on_host)()


def start_tensors(
    tensors: Sequence[Any], on_host: bool = True
) -> Callable[[], list[TensorSummary]]:
    """One summary per tensor (anything else described), computed where it lives.

    The compiled pass over a batch's CPU float tensors (`tensors.start_at`) starts
    now, on the summaries' thread; the returned call does the rest and gives the
    summaries. Other tensors in host memory are summarised through zero-copy numpy
    views (`on_host`):
    on CPU numpy's reductions are several times faster than torch's here (measured:
    a batch of 36 ResNet activations, 7 ms against 115 ms on 2 cores; torch's
    boolean counts and `std_mean` are the slow ones). Device tensors (a GPU's) are
    summarised by torch on the device, in batches; `on_host=False` does that for CPU
    tensors too (the tests compare both paths).
    """
    out: list[TensorSummary | None] = [None] * len(tensors)
    groups: dict[tuple[Any, ...], list[int]] = {}
    host: list[int] = []
    # CPU float tensors, read in place by one compiled call per dtype (`summarize_at`)
    direct = on_host and len(tensors) >= _DIRECT_FROM and fused_summary.enabled
    # per dtype: (indices, the tensors read (a copy where one was needed), their
    # shapes, addresses and sizes), gathered in this one pass (the hot loop of a
    # continue's batches: each tensor attribute read is a call into torch)
    by_address: dict[torch.dtype, tuple[list[Any], ...]] = {
        torch.float32: ([], [], [], [], []),
        torch.float64: ([], [], [], [], []),
    }
    with torch.no_grad():
        for i, t in enumerate(tensors):
            if (
                direct
                and ((kind := type(t)) is _Tensor or kind is _Parameter)
                and (slot := by_address.get(t.dtype)) is not None
                and t.is_cpu
                and t.layout == _STRIDED
                and (n := t.numel()) > 0
            ):
                # a view with gaps or another order (a transpose) is read from a copy
                read = t if t.is_contiguous() else t.contiguous() if n <= _COPY_MAX else None
                if read is not None:
                    members, alive, shapes, addresses, sizes = slot
                    members.append(i)
                    alive.append(read)
                    shapes.append(tuple(read.shape))
                    addresses.append(read.data_ptr())
                    sizes.append(n)
                    continue
            if not isinstance(t, torch.Tensor) or t.layout != torch.strided or t.is_quantized:
                out[i] = _other(t)
                continue
            if on_host and t.device.type == "cpu":
                host.append(i)
                continue
            dtype = t.dtype
            if dtype not in _DTYPE_NAMES or t.device.type == "meta":
                out[i] = _other(t)
                continue
            if t.numel() == 0:
                out[i] = TensorSummary(
                    tuple(t.shape), _DTYPE_NAMES[dtype], str(t.device), size=0, nbytes=0
                )
                continue
            groups.setdefault((t.device, dtype, t.numel()), []).append(i)
        started = []
        for dtype, (members, alive, shapes, addresses, sizes) in by_address.items():
            if members:
                pending = start_at(shapes, addresses, sizes, _NUMPY_DTYPES[dtype])
                started.append((members, alive, pending))

    def finish() -> list[TensorSummary]:
        with torch.no_grad():
            for members, _alive, pending in started:  # `_alive`: the copies read
                for i, summary in zip(members, pending(), strict=True):
                    if summary is None:  # NaN or infinities: numpy's path counts them
                        host.append(i)
                    else:
                        out[i] = summary
            if host:
                arrays = [to_numpy(tensors[i]) for i in host]
                for i, summary in zip(host, summarize_batch(arrays), strict=True):
                    out[i] = summary
            for (_device, dtype, _size), members in groups.items():
                rows = [tensors[i] for i in members]
                for i, summary in zip(members, _summarize_rows(rows, dtype), strict=True):
                    out[i] = summary
        return out  # type: ignore[return-value]

    return finish


#: Batches from this many tensors up go through `summarize_at` (a single tensor's
#: summary is numpy's, the very numbers `summarize` gives its array).
_DIRECT_FROM = 4
#: A view with gaps or in another order is copied (`contiguous`) up to this size
#: (torch's grain: a larger copy runs in parallel); larger views go through numpy.
_COPY_MAX = 32768
_Tensor = torch.Tensor
_Parameter = torch.nn.Parameter
_STRIDED = torch.strided
_NUMPY_DTYPES: dict[torch.dtype, np.dtype[Any]] = {
    torch.float32: np.dtype(np.float32),
    torch.float64: np.dtype(np.float64),
}


def _other(value: Any) -> TensorSummary:
    """A tensor torch cannot reduce here (sparse, quantized, meta...): through numpy."""
    if isinstance(value, torch.Tensor):
        array = to_numpy(value)
        return summarize(array) if not isinstance(array, torch.Tensor) else describe(value)
    return describe(value)


def _values(matrix: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The numbers to reduce, as numpy's path sees them: float16 and bfloat16 in
    float32, integers and booleans in float64 (exact below 2**53), complex as moduli."""
    if dtype in (torch.float32, torch.float64):
        return matrix
    if dtype in (torch.float16, torch.bfloat16):
        return matrix.float()
    if dtype.is_complex:
        return matrix.abs().double()
    return matrix.double()


def _summarize_rows(tensors: list[torch.Tensor], dtype: torch.dtype) -> list[TensorSummary]:
    """Summaries of tensors of one device, dtype and size: the rows of one matrix."""
    n, size = len(tensors), tensors[0].numel()
    if n == 1:
        matrix = tensors[0].detach().reshape(1, size)
    else:
        matrix = torch.stack([t.detach().reshape(size) for t in tensors])
    values = _values(matrix, dtype)
    lo, hi = torch.aminmax(values, dim=1)
    std, mean = torch.std_mean(values, dim=1, correction=0)
    negative = (values < 0).sum(dim=1)
    zero = (values == 0).sum(dim=1)
    # NaN or an infinity anywhere in a row makes its mean non-finite: one test for all
    stats = torch.stack(
        [lo.double(), hi.double(), mean.double(), std.double(), negative.double(), zero.double()]
    )
    lo_l, hi_l, mean_l, std_l, neg_l, zero_l = stats.tolist()  # the one transfer
    clean = [i for i in range(n) if math.isfinite(mean_l[i]) and math.isfinite(std_l[i])]
    counts = _histograms(values, clean, lo_l, hi_l)
    name = _DTYPE_NAMES[dtype]
    device = str(tensors[0].device)
    nbytes = size * tensors[0].element_size()
    out: list[TensorSummary] = []
    for i in range(n):
        if i not in counts:  # not finite, or a range binning cannot scale: on its own
            out.append(_with_nonfinite(values[i], tensors[i], name, device, nbytes))
            continue
        low, high = lo_l[i], hi_l[i]
        neg, zer = int(neg_l[i]), int(zero_l[i])
        out.append(
            tensor_summary(
                tuple(tensors[i].shape),
                name,
                device,
                size,
                nbytes,
                low,
                high,
                mean_l[i],
                std_l[i],
                max(abs(low), abs(high)),
                neg,
                zer,
                size - neg - zer,
                0,
                0,
                0,
                counts[i],
                (low, high),
            )
        )
    return out


def _histograms(
    values: torch.Tensor, rows: list[int], lo: list[float], hi: list[float]
) -> dict[int, tuple[int, ...]]:
    """Histogram counts of the finite `rows`, binned as numpy's path bins them: in the
    values' dtype, `(v - lo) * (BINS / (hi - lo))` truncated, the top edge in the last
    bin. Rows whose range float32 cannot scale are left out (done on their own)."""
    bins = HISTOGRAM_BINS
    middle_row = [0] * bins
    middle_row[bins // 2] = values.shape[1]
    middle = tuple(middle_row)
    out: dict[int, tuple[int, ...]] = {}
    scaled: list[int] = []
    for i in rows:
        span = hi[i] - lo[i]
        if span == 0:
            out[i] = middle
        elif values.dtype == torch.float64 or 1e-30 < span < 1e38:
            scaled.append(i)
    if not scaled:
        return out
    index = torch.tensor(scaled, device=values.device)
    subset = values if len(scaled) == values.shape[0] else values.index_select(0, index)
    low = torch.tensor([lo[i] for i in scaled], dtype=values.dtype, device=values.device)
    scale = torch.tensor(
        [bins / (hi[i] - lo[i]) for i in scaled], dtype=values.dtype, device=values.device
    )
    binned = ((subset - low[:, None]) * scale[:, None]).long().clamp_(0, bins - 1)
    binned += torch.arange(len(scaled), device=values.device)[:, None] * bins
    counts = torch.bincount(binned.reshape(-1), minlength=len(scaled) * bins)
    for i, row in zip(scaled, counts.reshape(len(scaled), bins).tolist(), strict=True):
        out[i] = tuple(row)
    return out


def _with_nonfinite(
    values: torch.Tensor, tensor: torch.Tensor, name: str, device: str, nbytes: int
) -> TensorSummary:
    """One tensor with NaN or infinities (or a range float32 cannot bin): its health
    counts, and its statistics over its finite values, binned in float64."""
    finite_mask = torch.isfinite(values)
    nan = int(torch.isnan(values).sum())
    pos_inf = int((values == math.inf).sum())
    neg_inf = int((values == -math.inf).sum())
    finite = values[finite_mask]
    size = values.numel()
    negative = int((values < 0).sum())
    zero = int((values == 0).sum())
    n = finite.numel()
    if n:
        low_t, high_t = torch.aminmax(finite)
        std_t, mean_t = torch.std_mean(finite.double(), correction=0)
        low, high, mean, std = torch.stack(
            [low_t.double(), high_t.double(), mean_t, std_t]
        ).tolist()
        binned = _histograms(finite[None, :], [0], [low], [high])
        if 0 not in binned:  # a range float32 cannot scale: binned in float64
            binned = _histograms(finite.double()[None, :], [0], [low], [high])
        counts = binned[0]
        abs_max = max(abs(low), abs(high))
    else:
        low = high = mean = std = abs_max = math.nan
        counts = ()
    if pos_inf or neg_inf:
        abs_max = math.inf
    return tensor_summary(
        tuple(tensor.shape),
        name,
        device,
        size,
        nbytes,
        low,
        high,
        mean,
        std,
        abs_max,
        negative,
        zero,
        size - negative - zero - nan,
        nan,
        neg_inf,
        pos_inf,
        counts,
        (low, high) if n else (),
    )


def _nbytes(tensor: torch.Tensor) -> int:
    return tensor.numel() * tensor.element_size()


def _host(tensor: torch.Tensor) -> Any:
    return to_numpy(tensor)


def _copy(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.detach().clone()


def _on_device(tensor: torch.Tensor) -> bool:
    return not tensor.is_cpu


register_framework(
    torch.Tensor,
    Framework(
        summarize_batch=summarize_tensors,
        start_batch=start_tensors,
        to_host=_host,
        nbytes=_nbytes,
        copy=_copy,
        on_device=_on_device,
    ),
)
