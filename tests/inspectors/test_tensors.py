"""TensorSummary statistics against numpy, health counts, non-tensors, the value store."""

import math

import numpy as np
import pytest

from inspectors.breakpoints import Breakpoint, Breakpoints
from inspectors.tensors import HISTOGRAM_BINS, ValueStore, summarize, summarize_batch


def test_summary_matches_numpy_and_counts_health():
    a = np.array([[-2.0, 0.0, 1.0], [np.nan, np.inf, -np.inf]], dtype=np.float32)
    s = summarize(a)
    assert s.shape == (2, 3) and s.dtype == "float32"
    finite = np.array([-2.0, 0.0, 1.0])
    assert (s.min, s.max) == (-2.0, 1.0)
    assert s.mean == pytest.approx(finite.mean()) and s.std == pytest.approx(finite.std())
    assert (s.nan, s.neg_inf, s.pos_inf, s.nonfinite) == (1, 1, 1, 3)
    assert (s.negative, s.zero, s.positive) == (2, 1, 2)  # -inf negative, +inf positive
    assert s.abs_max == math.inf
    assert len(s.hist_counts) == HISTOGRAM_BINS and sum(s.hist_counts) == 3


def test_histogram_agrees_with_numpy():
    rng = np.random.default_rng(0)
    a = rng.normal(size=10_000)
    s = summarize(a)
    counts, _ = np.histogram(a, bins=HISTOGRAM_BINS, range=(a.min(), a.max()))
    assert sum(s.hist_counts) == a.size
    assert np.abs(np.array(s.hist_counts) - counts).max() <= 2  # edge rounding only


@pytest.mark.parametrize(
    "value", [None, (1, 2), {"a": 1}, 3, "text", np.array([], dtype=np.float32)]
)
def test_non_tensors_and_empty_tensors_are_described(value):
    s = summarize(value)
    assert s.line()
    if isinstance(value, np.ndarray):
        assert s.is_tensor and s.size == 0
    else:
        assert not s.is_tensor and s.text


def test_integer_and_bool_tensors():
    s = summarize(np.array([True, False, True]))
    assert (s.min, s.max, s.positive, s.zero) == (0.0, 1.0, 2, 1)
    s = summarize(np.arange(5, dtype=np.int64))
    assert s.mean == 2.0 and s.nan == 0


def test_value_store_drops_oldest_past_budget():
    store = ValueStore(budget=100)
    for i in range(4):
        store.put(f"n{i}", 0, np.zeros(4, dtype=np.float64))  # 32 bytes each
    assert store.nbytes == 96 and store.get("n0") is None and store.is_dropped("n0")
    assert store.get("n3") is not None
    assert not store.put("big", 0, np.zeros(100))  # alone over the budget
    assert store.is_dropped("big")


def test_breakpoints_describe_and_round_trip():
    bps = Breakpoints()
    bps.add(node="fc1")
    bps.add(condition="threshold", stat="std", above=False, value=1e-3)
    bps.add(scope=("encoder", "0"), condition="nan")
    texts = [bp.describe() for bp in bps]
    assert texts == ["on fc1", "on any node if std < 0.001", "entering encoder/0 if any NaN"]
    again = Breakpoints()
    again.load_list(bps.to_list())
    assert [bp.describe() for bp in again] == texts
    assert bps.toggle_node("fc1") is None and "fc1" not in bps.on_nodes()
    with pytest.raises(SyntaxError):
        Breakpoint(condition="expression", expression="t >")
    with pytest.raises(ValueError):
        Breakpoint(condition="banana")


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(1).normal(size=(8, 16, 16)).astype(np.float32),
        (np.random.default_rng(2).normal(size=1000) * 1e-3 + 1000).astype(np.float32),
        np.array([1e38, 1e38, -5], dtype=np.float32),
        np.array([3e38, -3e38], dtype=np.float32),
        np.arange(10, dtype=np.int32),
        np.random.default_rng(3).normal(size=(4, 16)).astype(np.float32),  # sorted-copy path
        np.array([2**60, -(2**60), 5], dtype=np.int64),  # cancellation: an exact sum
        np.array([0.0, 1e-40], dtype=np.float32),  # a range whose inverse overflows float32
    ],
)
def test_mean_and_std_match_float64_numpy(values):
    s = summarize(values)
    wide = values.astype(np.float64)
    assert s.mean == pytest.approx(wide.mean(), rel=1e-5, abs=1e-6)
    assert s.std == pytest.approx(wide.std(), rel=1e-4, abs=1e-6)
    assert s.nonfinite == 0


@pytest.mark.parametrize("size", [5, 64, 300, 20_000])
def test_small_and_large_arrays_count_alike(size):
    """Small arrays take a sorted-copy path: the same counts as the general one."""
    a = np.random.default_rng(size).normal(size=size).astype(np.float32)
    a[:3] = [0.0, -0.0, 0.0]
    s = summarize(a)
    assert (s.min, s.max) == (a.min(), a.max())
    assert (s.negative, s.zero, s.positive) == (
        np.count_nonzero(a < 0),
        np.count_nonzero(a == 0),
        np.count_nonzero(a > 0),
    )
    assert sum(s.hist_counts) == size and len(s.hist_counts) == HISTOGRAM_BINS
    a[4] = np.nan  # not finite: the general path counts it
    s = summarize(a)
    assert s.nan == 1 and s.negative + s.zero + s.positive == size - 1


def test_a_batch_of_summaries_equals_one_by_one():
    from inspectors.tensors import summarize_batch

    rng = np.random.default_rng(1)
    arrays: list = []
    for i in range(300):
        shape = tuple(int(d) for d in rng.integers(1, 7, size=int(rng.integers(1, 4))))
        dtype = np.float32 if i % 3 else np.float64
        kind = i % 7
        if kind == 0:
            a = rng.normal(size=shape)
        elif kind == 1:
            a = np.maximum(rng.normal(size=shape), 0.0)  # zeros and positives
        elif kind == 2:
            a = np.full(shape, -3.5)  # one value: the middle bin
        elif kind == 3:
            a = rng.normal(size=shape) * 1e3 + 1e6  # spread tiny next to the mean
        elif kind == 4:
            a = rng.normal(size=(40, 50))  # the general path one by one
        elif kind == 5:
            a = rng.normal(size=shape)
            a.flat[-1] = np.nan  # not finite: done one by one
        else:
            a = rng.integers(-3, 3, size=shape)  # integers: done one by one
        arrays.append(a.astype(dtype) if kind != 6 else a)
    arrays += [None, (1, 2), np.zeros(0, np.float32), np.float32(2.0)]
    for a, got in zip(arrays, summarize_batch(arrays), strict=True):
        want = summarize(a)
        exact = ("shape", "dtype", "kind", "text", "size", "nbytes", "min", "max", "abs_max")
        for name in (*exact, "negative", "zero", "positive", "nan", "hist_counts", "hist_range"):
            g, w = getattr(got, name), getattr(want, name)
            assert g == w or (isinstance(w, float) and math.isnan(w) and math.isnan(g)), (name, a)
        for name in ("mean", "std"):
            w = getattr(want, name)
            if math.isnan(w):
                assert math.isnan(getattr(got, name))
            else:
                scale = max(abs(want.mean), want.std, 1e-30)
                assert getattr(got, name) == pytest.approx(w, rel=1e-5, abs=1e-6 * scale), name


@pytest.mark.parametrize("scale", [1e-30, 1e-25, 1.2e-38, 1e-3, 1e30, 1e38])
@pytest.mark.parametrize("size", [50, 1000, 100_000])
def test_std_and_mean_are_exact_from_the_smallest_normal_float32_to_its_maximum(scale, size):
    """Squares of float32 vanish below 1e-19 and overflow past 1e19: a vanishing gradient
    must not read std 0, nor a huge activation std inf."""
    rng = np.random.default_rng(7)
    values = (rng.uniform(-1.0, 1.0, size) * scale).astype(np.float32)
    wide = values.astype(np.float64)
    for summary in (summarize(values), summarize_batch([values] * 4)[0]):
        assert summary.std == pytest.approx(np.std(wide), rel=1e-5)
        assert summary.mean == pytest.approx(np.mean(wide), rel=1e-4, abs=1e-6 * scale)
        assert summary.std > 0


def test_the_fast_summary_constructor_fills_every_field_as_the_dataclass_does():
    from dataclasses import fields

    from inspectors.tensors import TensorSummary, _tensor_summary, tensor_summary

    values = [f"v{i}" for i in range(len(fields(TensorSummary)) - 1)] + [{"k": 1}]
    fast = _tensor_summary(*values)
    assert fast == TensorSummary(*values) and fast.extra == {"k": 1}
    assert list(vars(fast)) == [f.name for f in fields(TensorSummary)]
    tensor = tensor_summary(*[f"t{i}" for i in range(18)])
    assert (tensor.kind, tensor.text, tensor.extra, tensor.hist_range) == ("tensor", "", {}, "t17")
