"""Training-loop stepping over the exponent-fitting samples, checked against the
frameworks: phi approaches the hidden value, and every reported gradient equals
autograd / GradientTape of the loss at that iteration's phi."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pytest

from inspectors import events as ev
from inspectors.target import load_target
from inspectors.training import TrainingError, TrainingRun, as_metrics, can_train

SAMPLES = ("fit_exponent_torch", "fit_exponent_tf")
RULES = ("gradient descent", "SGD with momentum")
HIDDEN_PHI = 2.5
START_PHI = 1.0


def needs(sample: str) -> None:
    pytest.importorskip("torch" if sample.endswith("torch") else "tensorflow")


def autograd_loss_and_grad(sample: str, phi: float, batch) -> tuple[float, float]:
    """The loss and d loss / d phi at `phi` on `batch`, from the framework itself."""
    x, y = batch
    if sample.endswith("torch"):
        import torch

        p = torch.tensor(phi, requires_grad=True)
        loss = ((x**p - y) ** 2).mean()
        (grad,) = torch.autograd.grad(loss, p)
        return float(loss.detach()), float(grad)
    import tensorflow as tf

    p = tf.Variable(phi, dtype=tf.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(tf.pow(x, p) - y))
    return float(loss), float(tape.gradient(loss, p))


def current_phi(run: TrainingRun) -> float:
    phi = run.model.phi
    return float(phi.detach()) if hasattr(phi, "detach") else float(phi.numpy())


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("sample", SAMPLES)
def test_twenty_iterations_move_phi_toward_the_hidden_value(sample, rule):
    needs(sample)
    run = TrainingRun(load_target(sample), rule=rule)
    assert run.rule_names == list(RULES)
    assert current_phi(run) == START_PHI
    metrics = run.step(20)
    assert len(metrics) == 20 and run.iteration == 20
    assert set(run.history) >= {"loss", "phi", "grad_phi"}
    assert all(len(v) == 20 for v in run.history.values())
    assert all(isinstance(v, float) for m in metrics for v in m.values())
    phi = run.history["phi"][-1]
    assert phi == pytest.approx(current_phi(run))
    # |phi - 2.5| starts at 1.5; after 20 iterations it is 0.084 (plain) or 0.21 (momentum)
    assert abs(phi - HIDDEN_PHI) < abs(START_PHI - HIDDEN_PHI) / 5
    assert run.history["loss"][-1] < run.history["loss"][0] / 50


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("sample", SAMPLES)
def test_reported_gradient_equals_the_frameworks_own(sample, rule):
    needs(sample)
    run = TrainingRun(load_target(sample), rule=rule)
    for _ in range(8):
        phi = current_phi(run)
        (metrics,) = run.step()
        loss, grad = autograd_loss_and_grad(sample, phi, run.batch)
        assert metrics["grad_phi"] == pytest.approx(grad, rel=1e-5, abs=1e-6)
        assert metrics["loss"] == pytest.approx(loss, rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("rule", RULES)
def test_both_frameworks_follow_the_same_path(rule):
    pytest.importorskip("torch")
    pytest.importorskip("tensorflow")
    runs = [TrainingRun(load_target(s), rule=rule) for s in SAMPLES]
    for run in runs:
        run.step(20)
    np.testing.assert_allclose(runs[0].history["phi"], runs[1].history["phi"], rtol=1e-5)


@pytest.mark.parametrize("sample", SAMPLES)
def test_reset_restores_phi_and_the_optimizer(sample):
    needs(sample)
    run = TrainingRun(load_target(sample), rule="SGD with momentum")
    first = [m["phi"] for m in run.step(5)]
    assert current_phi(run) != START_PHI
    run.reset()
    assert current_phi(run) == START_PHI
    assert run.iteration == 0 and run.history == {} and run.batch is None
    # a fresh model gets a fresh optimizer: no velocity carried over from before
    assert [m["phi"] for m in run.step(5)] == pytest.approx(first)


@pytest.mark.parametrize("sample", SAMPLES)
def test_the_forward_of_an_iteration_steps_node_by_node(sample):
    needs(sample)
    run = TrainingRun(load_target(sample))
    run.step(3)
    phi = current_phi(run)
    session = run.session_for_current_model()
    try:
        session.start()
        assert session.wait().reason == ev.READY
        session.step()
        assert session.wait().reason == ev.STEP
        session.continue_()
        assert session.wait().reason == ev.FINISHED
        session.backward()
        session.wait()
        loss, grad = autograd_loss_and_grad(sample, phi, run.next_batch())
        assert session.gradients is not None
        assert session.gradients.loss == pytest.approx(loss, rel=1e-5)
        assert float(session.gradients.params["phi"]) == pytest.approx(grad, rel=1e-5)
    finally:
        session.stop()
    # the copy is independent: the next iteration trains from the same phi
    (metrics,) = run.step()
    assert metrics["grad_phi"] == pytest.approx(grad, rel=1e-5)
    assert current_phi(run) != phi


def write(tmp_path: Path, source: str) -> str:
    path = tmp_path / "model.py"
    path.write_text(textwrap.dedent(source))
    return str(path)


TORCH_NO_TRAINING = """
    import torch

    def build():
        return torch.nn.Linear(2, 1)

    def example_inputs():
        return torch.ones(3, 2)
"""


def test_a_model_file_without_train_step_says_so(tmp_path):
    pytest.importorskip("torch")
    target = load_target(write(tmp_path, TORCH_NO_TRAINING))
    assert not can_train(target)
    with pytest.raises(TrainingError) as info:
        TrainingRun(target)
    message = str(info.value)
    assert "defines no `train_step` and `data`" in message
    assert "train_step(model, batch)" in message


def test_an_exception_in_train_step_names_the_iteration(tmp_path):
    pytest.importorskip("torch")
    source = textwrap.dedent(TORCH_NO_TRAINING) + textwrap.dedent(
        """
        def data():
            yield torch.ones(3, 2)

        def train_step(model, batch):
            global calls
            calls = globals().get("calls", 0) + 1
            if calls == 3:
                raise ValueError("the batch is bad")
            return {"loss": model(batch).sum(), "note": "text", "many": torch.ones(2)}
        """
    )
    run = TrainingRun(load_target(write(tmp_path, source)))
    assert run.rule_names == ["train_step"]
    assert run.step(2)[0].keys() == {"loss"}  # tensors of one value become floats
    with pytest.raises(TrainingError) as info:
        run.step(5)
    assert info.value.iteration == 3
    assert "Iteration 3 failed in train_step(model, batch)" in str(info.value)
    assert "ValueError: the batch is bad" in str(info.value)
    assert run.iteration == 2 and len(run.history["loss"]) == 2
    assert run.step(1)  # the next call retries iteration 3 on the same batch


def test_unknown_rule_and_stop_between_iterations():
    pytest.importorskip("torch")
    run = TrainingRun(load_target("fit_exponent_torch"))
    with pytest.raises(TrainingError, match="'gradient descent', 'SGD with momentum'"):
        run.set_rule("adam")
    seen: list[int] = []
    done = run.step(
        10, should_stop=lambda: len(seen) >= 4, on_iteration=lambda i, _m: seen.append(i)
    )
    assert len(done) == 4 and seen == [1, 2, 3, 4]


def test_as_metrics_keeps_numbers_only():
    out = as_metrics({"a": 1, "b": np.float32(2.5), "c": "x", "d": None, "e": np.ones(3)})
    assert out == {"a": 1.0, "b": 2.5}
    assert as_metrics(0.5) == {"loss": 0.5}
    assert math.isnan(as_metrics({"n": float("nan")})["n"])
