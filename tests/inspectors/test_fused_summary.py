"""The compiled two-pass summary gives numpy's numbers (`tensors._summarize_array`)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inspectors import fused_summary
from inspectors.tensors import summarize, summarize_at

pytestmark = pytest.mark.skipif(not fused_summary.available(), reason="needs numba")


def numpy_summary(array: np.ndarray, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(fused_summary, "enabled", False)
        return summarize(array)


CASES = [
    np.random.default_rng(0).standard_normal(5000).astype(np.float32),
    np.random.default_rng(1).standard_normal((64, 300)).astype(np.float32),  # sampled hist
    np.random.default_rng(2).standard_normal(999) * 1e-12,  # float64, tiny
    np.abs(np.random.default_rng(3).standard_normal(700)).astype(np.float32) + 5,
    np.full(500, -2.5, np.float32),  # one value: the middle bin
    np.concatenate([np.zeros(300), -np.ones(100), np.ones(250)]).astype(np.float32),
    np.random.default_rng(4).standard_normal((8, 16, 64)).astype(np.float32)[:, ::2],
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_the_compiled_summary_equals_numpys(case, monkeypatch):
    array = CASES[case]
    flat = np.ascontiguousarray(array).reshape(-1)
    assert fused_summary.fused_stats(flat, 32, 1 << 14) is not None  # used
    mine, theirs = summarize(array), numpy_summary(array, monkeypatch)
    for name in ("shape", "dtype", "size", "min", "max", "abs_max", "negative", "zero"):
        assert getattr(mine, name) == getattr(theirs, name), name
    assert (mine.positive, mine.nan, mine.pos_inf, mine.hist_range) == (
        theirs.positive,
        theirs.nan,
        theirs.pos_inf,
        theirs.hist_range,
    )
    assert mine.hist_counts == theirs.hist_counts
    scale = max(abs(theirs.mean), theirs.std, 1e-30)
    assert math.isclose(mine.mean, theirs.mean, rel_tol=1e-6, abs_tol=1e-6 * scale)
    assert math.isclose(mine.std, theirs.std, rel_tol=1e-5)


def test_non_finite_values_go_to_numpys_path(monkeypatch):
    array = np.random.default_rng(5).standard_normal(4000).astype(np.float32)
    array[[3, 70]] = np.nan
    array[9] = np.inf
    assert fused_summary.fused_stats(array, 32, 1 << 14) is None
    assert summarize(array) == numpy_summary(array, monkeypatch)
    assert summarize(array).nan == 2 and summarize(array).pos_inf == 1


def batch_cases() -> list[np.ndarray]:
    rng = np.random.default_rng(9)
    out = [np.ascontiguousarray(c).reshape(-1) for c in CASES]
    out += [rng.standard_normal(n).astype(np.float32) for n in (1, 2, 7, 199, 201, 1024)]
    out += [rng.standard_normal(16_385).astype(np.float32)]  # just past the sample size
    out += [rng.standard_normal(70_001).astype(np.float32) * 3 - 1]  # a strided sample
    out += [np.zeros(300, np.float32), np.float32(5) + rng.random(400).astype(np.float32)]
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_batch_by_address_equals_numpys_summaries(dtype, monkeypatch):
    """`summarize_at`: many arrays in one compiled call, each one's numbers those of
    numpy's path, the scaled histogram of a strided sample included."""
    arrays = [a.astype(dtype) for a in batch_cases()]
    mine = summarize_at(
        [a.shape for a in arrays], [a.ctypes.data for a in arrays], [a.size for a in arrays],
        np.dtype(dtype),
    )  # fmt: skip
    for array, got in zip(arrays, mine, strict=True):
        want = numpy_summary(array, monkeypatch)
        assert got is not None
        for name in ("shape", "dtype", "size", "nbytes", "min", "max", "abs_max"):
            assert getattr(got, name) == getattr(want, name), (name, array.size)
        assert (got.negative, got.zero, got.positive, got.nan, got.pos_inf) == (
            want.negative,
            want.zero,
            want.positive,
            0,
            0,
        )
        assert (got.hist_counts, got.hist_range) == (want.hist_counts, want.hist_range)
        # mean and std against float64's (numpy's path squares float32 in float32)
        wide = array.astype(np.float64)
        scale = max(abs(float(wide.mean())), float(wide.std()), 1e-30)
        assert math.isclose(got.mean, float(wide.mean()), rel_tol=1e-9, abs_tol=1e-9 * scale)
        assert math.isclose(got.std, float(wide.std()), rel_tol=1e-7, abs_tol=1e-12)


def test_a_batch_leaves_non_finite_and_extreme_arrays_to_numpy():
    good = np.arange(10, dtype=np.float32)
    nan = good.copy()
    nan[3] = np.nan
    inf = good.copy()
    inf[0] = -np.inf
    huge = np.array([1e200, -1e200])
    arrays32 = [good, nan, inf, good]
    got = summarize_at(
        [a.shape for a in arrays32], [a.ctypes.data for a in arrays32], [10] * 4,
        np.dtype(np.float32),
    )  # fmt: skip
    assert [g is None for g in got] == [False, True, True, False]
    assert got[0] == got[3] and got[0].max == 9.0
    for size in (300, 5000, 70_000):  # each loop of the kernel, each size class
        for bad in (np.nan, np.inf, -np.inf):
            array = np.ones(size, np.float32)
            array[size // 2] = bad
            (got_bad,) = summarize_at([array.shape], [array.ctypes.data], [size], array.dtype)
            assert got_bad is None, (size, bad)
    (huge_got,) = summarize_at([huge.shape], [huge.ctypes.data], [2], np.dtype(np.float64))
    assert huge_got is None  # its squares would leave float64: numpy's scaled path


def test_sampled_histograms_give_ties_to_the_lower_bin():
    """The rest of a scaled sample's counts goes to the largest remainders, ties to the
    lower bin, on both paths: the same array gives the same histogram either way."""
    values = np.repeat(np.arange(3, dtype=np.float32), 10_000)  # 30,000 values
    values = np.concatenate([values, np.float32([0.5, 1.5, 2.5])])  # remainders tie
    single = summarize(values)
    (batched,) = summarize_at([values.shape], [values.ctypes.data], [values.size], values.dtype)
    assert single.hist_counts == batched.hist_counts
    assert sum(single.hist_counts) == values.size
