"""The classic teaching samples: digits CNN, variable-length RNN and a tensor `if`.

Each sample is loaded, captured (auto, and eager for PyTorch), checked against the
graph schema, and stepped to the end by a Session whose result must equal the model's
own forward. The dynamic samples must show their lesson in the graphs themselves.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from inspectors import events as ev
from inspectors.capture import capture
from inspectors.session import Session
from inspectors.target import ModelTarget, load_target
from sample_models import _digits

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_TF = importlib.util.find_spec("tensorflow") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed")
needs_tf = pytest.mark.skipif(not HAS_TF, reason="tensorflow is not installed")

TORCH_SAMPLES = ("digits_cnn_torch", "rnn_varlen_torch", "branch_torch")
TF_SAMPLES = ("digits_cnn_keras", "rnn_varlen_tf", "branch_tf")
CASES = [
    *(
        pytest.param(n, s, marks=[needs_torch, pytest.mark.torch])
        for n in TORCH_SAMPLES
        for s in ("auto", "eager")
    ),
    *(pytest.param(n, "auto", marks=[needs_tf, pytest.mark.tf]) for n in TF_SAMPLES),
]

_targets: dict[str, ModelTarget] = {}


def sample(name: str) -> ModelTarget:
    if name not in _targets:
        _targets[name] = load_target(name)
    return _targets[name]


def with_other_inputs(target: ModelTarget) -> ModelTarget:
    """The same model file on its `other_inputs()`, as `SPEC@other_inputs` loads it."""
    other = load_target(f"{target.spec}@other_inputs")
    assert other.module is target.module
    return other


def as_numpy(value) -> np.ndarray:
    value = value.detach() if hasattr(value, "detach") else value
    return np.asarray(value)


def step_to_end(captured) -> Session:
    session = Session(captured)
    session.start()
    try:
        assert session.wait().reason == ev.READY
        session.continue_()
        pause = session.wait()
        assert pause is not None and pause.reason == ev.FINISHED, pause
    finally:
        session.stop()
        session.join()
    return session


def ops(graph) -> list[str]:
    return [graph.node(n)["op"] for n in graph.order]


# ------------------------------------------------------------------- every sample


@pytest.mark.parametrize(("name", "strategy"), CASES)
def test_sample_captures_cleanly_and_steps_to_its_own_forward(name, strategy):
    target = sample(name)
    assert target.description and target.module.__doc__.count("\n") > 3  # a lesson
    captured = capture(target, strategy)
    assert captured.graph.validate() == []
    session = step_to_end(captured)
    np.testing.assert_allclose(
        session.run.outputs[0], as_numpy(target.call()), rtol=1e-4, atol=1e-5
    )


# ------------------------------------------------------------------- the lessons


@needs_torch
@pytest.mark.torch
@pytest.mark.parametrize("name", ["rnn_varlen_torch", "branch_torch"])
def test_torch_dynamic_samples_record_a_different_graph_for_the_other_inputs(name):
    target = sample(name)
    first = capture(target, "eager").graph
    second = capture(with_other_inputs(target), "eager").graph
    assert second.validate() == []
    assert ops(first) != ops(second)
    failed = {f["strategy"] for f in capture(target, "auto").graph.meta["failures"]}
    assert "fx" in failed  # fx cannot follow the loop / the `if`


@needs_torch
@pytest.mark.torch
def test_torch_varlen_has_one_cell_per_time_step():
    target = sample("rnn_varlen_torch")
    short = ops(capture(target, "eager").graph).count("rnn_tanh_cell")
    long = ops(capture(with_other_inputs(target), "eager").graph).count("rnn_tanh_cell")
    assert (short, long) == (3, 6)


@needs_torch
@pytest.mark.torch
def test_torch_branch_records_only_the_branch_taken():
    target = sample("branch_torch")
    taken = ops(capture(target, "eager").graph)
    other = ops(capture(with_other_inputs(target), "eager").graph)
    assert "tanh" not in taken and "tanh" in other
    assert taken.index("gt") == other.index("gt")  # the same up to the condition


@needs_tf
@pytest.mark.tf
def test_tf_branch_is_one_if_node_with_both_branches():
    graph = capture(sample("branch_tf")).graph
    (branch,) = [n for n in graph.order if graph.node(n)["op"] in ("If", "StatelessIf")]
    roles = graph.node(branch)["subgraphs"]
    assert set(roles) == {"then_branch", "else_branch"}
    then_ops = ops(graph.subgraphs[roles["then_branch"]])
    else_ops = ops(graph.subgraphs[roles["else_branch"]])
    assert "Relu" in then_ops and "Tanh" not in then_ops
    assert "Tanh" in else_ops and else_ops.count("MatMul") == 2


@needs_tf
@pytest.mark.tf
def test_tf_varlen_is_one_while_whatever_the_lengths():
    target = sample("rnn_varlen_tf")
    graph = capture(target).graph
    loops = [n for n in graph.order if graph.node(n)["op"] in ("While", "StatelessWhile")]
    assert len(loops) == 1
    assert "body" in graph.node(loops[0])["subgraphs"]
    other = with_other_inputs(target)
    assert ops(capture(other).graph) == ops(graph)
    session = step_to_end(capture(other))
    np.testing.assert_allclose(session.run.outputs[0], as_numpy(other.call()), rtol=1e-4)


@needs_tf
@needs_torch
@pytest.mark.tf
@pytest.mark.torch
def test_paired_samples_share_weights_and_outputs():
    rnn_torch, rnn_tf = sample("rnn_varlen_torch"), sample("rnn_varlen_tf")
    padded = as_numpy(rnn_tf.call())
    np.testing.assert_allclose(padded[:2], as_numpy(rnn_torch.call()), atol=1e-5)
    other = as_numpy(rnn_torch.call(*rnn_torch.module.other_inputs()))
    np.testing.assert_allclose(padded[2:], other, atol=1e-5)
    branch_torch, branch_tf = sample("branch_torch"), sample("branch_tf")
    for inputs in ("example_inputs", "other_inputs"):
        np.testing.assert_allclose(
            as_numpy(branch_tf.call(*getattr(branch_tf.module, inputs)())),
            as_numpy(branch_torch.call(*getattr(branch_torch.module, inputs)())),
            atol=1e-5,
        )


# ------------------------------------------------------------------- the digits


def test_digit_generator_is_deterministic_28x28_in_unit_range():
    images, labels = _digits.batch(16, seed=3)
    assert images.shape == (16, 28, 28) and images.dtype == np.float32
    assert labels.shape == (16,) and set(labels) <= set(range(10))
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert (images.reshape(16, -1).max(1) > 0.7).all()  # every image has ink
    again, again_labels = _digits.batch(16, seed=3)
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(labels, again_labels)
    other, _ = _digits.batch(16, seed=4)
    assert not np.array_equal(images, other)


def test_digit_generator_imports_only_numpy():
    tree = ast.parse(Path(_digits.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name for n in ast.walk(tree) if isinstance(n, ast.Import) for alias in n.names
    }
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported - {"__future__", "collections", "collections.abc"} == {"numpy"}


def test_digit_generator_draws_every_digit_differently():
    rng = np.random.default_rng(0)
    means = np.stack([_digits.draw(d, rng) for d in range(10) for _ in range(8)])
    means = means.reshape(10, 8, -1).mean(1)
    distances = np.linalg.norm(means[:, None] - means[None], axis=-1)
    off_diagonal = distances[~np.eye(10, dtype=bool)]
    assert off_diagonal.min() > 1.0  # no two digits look alike on average


def _train_reduces_loss(name: str, to_float) -> None:
    target = load_target(name)  # a fresh model: training changes its weights
    module = target.module
    assert len(target.example_inputs[0]) == 8
    assert to_float(target.loss(target.call(), *target.example_inputs)) == pytest.approx(
        np.log(10), abs=0.2
    )
    batch = next(module.data(steps=1, batch_size=16, seed=5))

    def loss_on_batch() -> float:  # the file's loss finds the batch's labels by itself
        return to_float(target.loss(target.model(batch[0]), batch[0]))

    before = loss_on_batch()
    results = [module.train_step(target.model, batch) for _ in range(6)]
    after = loss_on_batch()
    assert set(results[0]) == {"loss", "accuracy"}
    assert all(isinstance(v, float) for r in results for v in r.values())
    assert results[0]["loss"] == pytest.approx(before, rel=1e-4)
    assert 0.0 <= results[-1]["accuracy"] <= 1.0
    assert after < before - 0.05, (before, after)
    with pytest.raises(ValueError, match="labels are unknown"):
        target.loss(target.model(batch[0][:5] * 0.5), batch[0][:5] * 0.5)


@needs_torch
@pytest.mark.torch
def test_torch_digits_cnn_trains():
    target = sample("digits_cnn_torch")
    assert tuple(target.example_inputs[0].shape) == (8, 1, 28, 28)
    _train_reduces_loss("digits_cnn_torch", lambda t: t.item())


@needs_tf
@pytest.mark.tf
def test_keras_digits_cnn_trains():
    target = sample("digits_cnn_keras")
    assert tuple(target.example_inputs[0].shape) == (8, 28, 28, 1)
    _train_reduces_loss("digits_cnn_keras", lambda t: float(t))
