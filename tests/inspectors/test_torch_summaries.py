"""Summaries computed by torch, batched, on the tensor's own device, checked against
numpy's (`inspectors.tensors.summarize`) and against torch's own reductions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inspectors.tensors import HISTOGRAM_BINS, ValueStore, as_numpy, summarize, summarize_batch

torch = pytest.importorskip("torch")
from inspectors.torch_inspector.summaries import summarize_tensors  # noqa: E402

pytestmark = pytest.mark.torch

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def same(a, b, exact_hist: bool = True) -> None:
    """Two summaries agree: exact counts and extremes, mean and std to 1e-6."""
    assert (a.shape, a.dtype, a.size, a.nbytes) == (b.shape, b.dtype, b.size, b.nbytes)
    assert (a.negative, a.zero, a.positive) == (b.negative, b.zero, b.positive)
    assert (a.nan, a.neg_inf, a.pos_inf) == (b.nan, b.neg_inf, b.pos_inf)
    for name in ("min", "max", "abs_max"):
        x, y = getattr(a, name), getattr(b, name)
        assert (math.isnan(x) and math.isnan(y)) or x == y, name
    for name in ("mean", "std"):
        x, y = getattr(a, name), getattr(b, name)
        assert (math.isnan(x) and math.isnan(y)) or math.isclose(
            x, y, rel_tol=1e-6, abs_tol=1e-9
        ), name
    assert a.hist_range == b.hist_range
    if exact_hist:
        assert a.hist_counts == b.hist_counts
    else:
        assert sum(a.hist_counts) == sum(b.hist_counts)


def arrays() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    out = [rng.standard_normal((8, 16, 64)).astype(np.float32) for _ in range(5)]
    out += [rng.standard_normal((3, 7)).astype(np.float32), rng.standard_normal(100)]
    out += [np.zeros((4, 4), np.float32), np.full((5,), 2.5, np.float32)]
    out += [np.array([1.0, -0.0, 0.0, -3.0], np.float32)]
    out += [rng.integers(-5, 5, (6, 6)).astype(np.int64), rng.random((9,)) > 0.5]
    out += [rng.standard_normal((2, 50)).astype(np.float16)]
    out += [rng.standard_normal((4, 4)).astype(np.float32) * 1e20]  # float32 squares overflow
    out += [np.array([1e-30, 2e-30, 3e-30], np.float32)]
    return out


@pytest.mark.parametrize("device", DEVICES)
def test_batched_torch_summaries_equal_numpys(device):
    data = arrays()
    tensors = [torch.from_numpy(a).to(device) for a in data]
    mine = summarize_tensors(tensors, on_host=False)  # by torch, even on the CPU
    for array, tensor, summary in zip(data, tensors, mine, strict=True):
        expected = summarize(array)
        assert summary.device == str(tensor.device)
        same(summary, expected, exact_hist=array.size <= 1 << 14)
    # the histogram of a large tensor is over every value (numpy's path samples it)
    big = data[0]
    counts = np.bincount(
        np.clip(
            ((big - big.min()) * np.float32(HISTOGRAM_BINS / (float(big.max()) - float(big.min()))))
            .astype(np.intp)
            .ravel(),
            0,
            HISTOGRAM_BINS - 1,
        ),
        minlength=HISTOGRAM_BINS,
    )
    assert mine[0].hist_counts == tuple(counts.tolist())


@pytest.mark.parametrize("device", DEVICES)
def test_nan_and_infinities_are_counted_and_left_out_of_the_statistics(device):
    array = np.array([[1.0, np.nan, -np.inf], [np.inf, 2.0, -4.0]], np.float32)
    clean = np.ones((2, 3), np.float32)
    (bad, good) = summarize_tensors(
        [torch.from_numpy(array).to(device), torch.ones(2, 3)], on_host=False
    )
    same(bad, summarize(array))
    assert (bad.nan, bad.neg_inf, bad.pos_inf, bad.abs_max) == (1, 1, 1, math.inf)
    assert (bad.min, bad.max) == (-4.0, 2.0)
    same(good, summarize(clean))
    (all_nan,) = summarize_tensors([torch.full((3,), float("nan"))], on_host=False)
    assert all_nan.nan == 3 and math.isnan(all_nan.mean) and all_nan.hist_counts == ()


def test_other_values_are_described_and_batches_mix_numpy_and_torch():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((10,)).astype(np.float32)
    mixed = [a, torch.from_numpy(a.copy()), 3, None, torch.zeros(0), torch.ones(2).to_sparse()]
    got = summarize_batch(mixed)
    same(got[0], got[1])
    assert got[2].kind == "int" and got[3].kind == "NoneType"
    assert got[4].size == 0 and got[4].is_tensor
    assert got[5].is_tensor and got[5].max == 1.0  # sparse: through numpy
    same(summarize(torch.from_numpy(a)), summarize(a))  # one tensor, as one array
    # CPU tensors go through numpy views: the very numbers numpy gives
    assert summarize_tensors([torch.from_numpy(a)])[0] == summarize(a)


def test_a_store_keeps_tensors_and_answers_numpy():
    store = ValueStore(budget=1000, device_budget=100)
    t = torch.arange(10, dtype=torch.float32)
    store.put("a", 0, t)  # a copy: a later in-place change does not reach it
    t.add_(1)
    np.testing.assert_array_equal(store.get("a"), np.arange(10, dtype=np.float32))
    store.put("b", 0, t, copy=False)
    assert store.nbytes == 80 and isinstance(store.get("b"), np.ndarray)
    store.put("c", 0, torch.zeros(250))  # past the budget: the oldest are dropped
    assert store.is_dropped("a") and store.is_dropped("b") and store.nbytes == 1000
    assert isinstance(as_numpy(t), np.ndarray) and as_numpy(3) == 3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_device_values_spill_to_host_memory_past_the_device_budget():
    store = ValueStore(budget=10_000, device_budget=1000)
    for i in range(4):
        store.put(str(i), 0, torch.full((100,), float(i), device="cuda"))  # 400 bytes each
    assert store.device_nbytes <= 1000 and store.nbytes == 1600
    for i in range(4):
        np.testing.assert_array_equal(store.get(str(i)), np.full(100, i, np.float32))


def test_a_batch_of_cpu_tensors_is_read_in_place_with_numpys_numbers():
    """A continue's batch of CPU float tensors goes through one compiled call
    (`summarize_at`), views with gaps or in another order through a copy; NaN and
    infinities still counted as numpy counts them."""
    rng = np.random.default_rng(4)
    base = torch.from_numpy(rng.standard_normal((6, 40, 50)).astype(np.float32))
    tensors = [
        base,
        base.transpose(1, 2),  # not contiguous
        base[:, ::3],  # gaps
        base.double()[1],
        torch.nn.Parameter(base[0].clone()),
        torch.zeros(3, 3),
        torch.tensor([1.0, float("nan"), -float("inf")]),
        torch.arange(6).reshape(2, 3),  # integers: numpy's path
        7,
    ]
    got = summarize_tensors(tensors)
    for tensor, summary in zip(tensors, got, strict=True):
        if not isinstance(tensor, torch.Tensor):
            assert summary.kind == "int" and summary.text == "7"
            continue
        same(summary, summarize(tensor.detach().contiguous().numpy()))
    assert got[6].nan == 1 and got[6].neg_inf == 1
