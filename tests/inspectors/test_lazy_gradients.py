"""A model in eval mode runs without autograd; its gradients come from running the
nodes again when asked, with the same inputs, random state, replacements and modules
stepped into. They must be the gradients of the run the user saw, exactly."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from inspectors import events as ev  # noqa: E402
from inspectors.capture import capture  # noqa: E402
from inspectors.session import Session  # noqa: E402
from inspectors.target import ModelTarget  # noqa: E402
from inspectors.torch_inspector import fx_stepper  # noqa: E402

pytestmark = pytest.mark.torch


class Noisy(nn.Module):
    """A random op in its forward (eval mode or not): the re-run must draw the same."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(6, 8)
        self.block = nn.Sequential(nn.Linear(8, 8), nn.Tanh())
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.fc1(x)) + 0.1 * torch.rand_like(x[:, :1])
        return self.fc2(self.block(h))


def gradients(strategy: str, lazy: bool, override: bool) -> tuple[dict, dict, list]:
    torch.manual_seed(0)
    model = Noisy().eval()
    x = torch.randn(4, 6)
    target = ModelTarget(
        "t", "noisy", "torch", model, (x,), loss=lambda out, *_: out.square().sum()
    )
    captured = capture(target, strategy)
    fx_stepper._LAZY_GRADIENTS_OFF = not lazy
    events: list[ev.Event] = []
    session = Session(captured, listener=events.append)
    try:
        session.start()
        session.wait()
        torch.manual_seed(1)  # the random state the run starts from
        graph = session.graph
        relu = next(n for n in graph.order if "relu" in str(graph.node(n).get("op")))
        session.run_to(relu)
        session.wait()
        if override:
            session.set_value(relu, np.full((4, 8), 0.5, np.float32))
        session.continue_()
        assert session.wait().reason == ev.FINISHED
        kept = session.stepper._record.values
        recorded = any(getattr(v, "grad_fn", None) is not None for v in _leaves(kept))
        session.backward()
        session.wait()
        assert any(isinstance(e, ev.GradientsReady) for e in events), events[-3:]
        result = session.gradients
        nodes = {k: [None if g is None else g.copy() for g in v] for k, v in result.nodes.items()}
        params = {k: v.copy() for k, v in result.params.items()}
        return nodes, params, [recorded, session.store.get(graph.order[-1])]
    finally:
        fx_stepper._LAZY_GRADIENTS_OFF = False
        session.stop()
        session.join()


def _leaves(kept: dict) -> list:
    return [v for values in kept.values() for v in values]


@pytest.mark.parametrize("strategy", ["fx", "export"])
@pytest.mark.parametrize("override", [False, True])
def test_gradients_on_demand_equal_those_recorded_during_the_run(strategy, override):
    lazy_nodes, lazy_params, (lazy_recorded, lazy_out) = gradients(strategy, True, override)
    nodes, params, (recorded, out) = gradients(strategy, False, override)
    assert recorded and not lazy_recorded  # the lazy run kept no autograd graph
    np.testing.assert_array_equal(lazy_out, out)  # the same run
    assert lazy_params.keys() == params.keys() and params
    for name in params:
        np.testing.assert_array_equal(lazy_params[name], params[name])
    assert lazy_nodes.keys() == nodes.keys()
    for node in nodes:
        for a, b in zip(lazy_nodes[node], nodes[node], strict=True):
            if b is None:
                assert a is None
            else:
                np.testing.assert_array_equal(a, b)
