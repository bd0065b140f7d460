"""The compiled two-pass summary gives numpy's numbers (`tensors._summarize_array`)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inspectors import fused_summary
from inspectors.tensors import summarize

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
    assert fused_summary.fused_stats(flat, 32, 1 << 14, lambda *a: ()) is not None  # used
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
    assert fused_summary.fused_stats(array, 32, 1 << 14, lambda *a: ()) is None
    assert summarize(array) == numpy_summary(array, monkeypatch)
    assert summarize(array).nan == 2 and summarize(array).pos_inf == 1
