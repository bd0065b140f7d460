"""Every sample, with every capture strategy that applies: a valid graph, and stepping
to the end gives exactly what the model's own forward gives.

A strategy "applies" unless it fails with a reason in plain words (fx on a model that
branches on a tensor's value, for example); then `auto` must have recorded that same
reason and gone on to the next strategy.
"""

from __future__ import annotations

import numpy as np
import pytest

from inspectors.capture import STRATEGIES, capture
from inspectors.graph import NODE_KEYS
from inspectors.session import Session
from inspectors.target import TargetError, list_samples, load_target

SAMPLES = [(s.name, s.framework) for s in list_samples()]
CASES = [(name, strategy) for name, framework in SAMPLES for strategy in STRATEGIES[framework]]


def flat_numpy(value) -> list[np.ndarray]:
    """The model's own outputs flattened in order, as the stepper reports them."""
    if isinstance(value, dict):
        return [a for v in value.values() for a in flat_numpy(v)]
    if isinstance(value, list | tuple):
        return [a for v in value for a in flat_numpy(v)]
    if hasattr(value, "detach"):
        return [value.detach().numpy()]
    if hasattr(value, "numpy"):
        return [np.asarray(value.numpy())]
    return [np.asarray(value)]


@pytest.fixture(scope="module")
def targets():
    return {}


def target_for(targets, name):
    if name not in targets:
        targets[name] = load_target(name)
    return targets[name]


@pytest.mark.parametrize(("name", "strategy"), CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_sample_captures_and_steps_exactly(targets, name, strategy):
    target = target_for(targets, name)
    try:
        captured = capture(target, strategy)
    except TargetError as exc:
        auto = capture(target, "auto")
        reasons = {f["strategy"]: f["reason"] for f in auto.graph.meta["failures"]}
        assert strategy in reasons, f"{strategy} failed but auto did not: {exc}"
        assert reasons[strategy] and reasons[strategy] in str(exc)
        pytest.skip(f"{strategy} does not apply: {reasons[strategy]}")

    graph = captured.graph
    assert graph.validate() == []
    for node in graph.nodes:
        assert set(NODE_KEYS) <= set(graph.node(node))
    assert len(graph) > 0 and graph.meta["capture"] == strategy

    session = Session(captured)
    session.start()
    try:
        session.wait(120)
        session.continue_()
        pause = session.wait(120)
        assert pause is not None and pause.reason == "finished", pause
        stepped = list(session.run.outputs)
    finally:
        session.stop()
        session.join()
    expected = flat_numpy(target.call())
    assert len(stepped) == len(expected)
    for got, want in zip(stepped, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, equal_nan=True)
