"""Stepping into an fx node that stands for a whole module (`nn.TransformerEncoder`):
its ops run one by one, values and gradients equal to the model's own."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from inspectors import events as ev  # noqa: E402
from inspectors.capture import capture  # noqa: E402
from inspectors.session import Session  # noqa: E402
from inspectors.step_levels import node_attrs  # noqa: E402
from inspectors.target import ModelTarget  # noqa: E402

pytestmark = pytest.mark.torch


class Wrapped(nn.Module):
    """A 2-layer encoder torch.fx keeps as one node, between two Linears."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(8, 16)
        layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        return self.head(self.encoder(self.embed(x)))


@pytest.fixture
def session():
    torch.manual_seed(0)
    model = Wrapped().eval()
    target = ModelTarget("wrapped", "wrapped", "torch", model, (torch.randn(2, 5, 8),))
    captured = capture(target, "fx")
    assert [captured.graph.node(n)["op"] for n in captured.graph.order] == [
        "input",
        "Linear",
        "TransformerEncoder",
        "Linear",
        "output",
    ]
    s = Session(captured)
    s.start()
    s.wait()
    yield s, target
    s.stop()
    s.join()


def test_step_into_a_module_node_runs_its_ops_and_step_out_returns(session):
    s, target = session
    s.step()
    assert s.wait().node_id == "x"
    s.step()
    assert s.wait().node_id == "embed"
    s.step()  # into the encoder: its first real op (parameters are plumbing)
    first = s.wait().node_id
    assert first.startswith("encoder/call/")
    graph = s.graph
    assert graph.node("encoder")["subgraph"] in graph.subgraphs  # the body, to open
    seen = [first]
    while True:
        s.step()
        node = s.wait().node_id
        if node == "encoder":
            break
        seen.append(node)
        assert len(seen) < 500
    ops = [node_attrs(graph, n).get("op", "") for n in seen]
    assert sum("linear" in op for op in ops) >= 8  # q/k/v/out projections and the MLPs
    assert any(s.run.scopes[n][:3] == ("encoder", "layers", "1") for n in seen)
    # the body's last op is what the encoder node hands on
    np.testing.assert_allclose(s.value("encoder"), s.value(seen[-1]), rtol=1e-6)
    s.step_out()  # from the top level: to the end
    assert s.wait().reason == ev.FINISHED
    with torch.no_grad():
        expected = target.model(*target.example_inputs).numpy()
    np.testing.assert_allclose(s.run.outputs[0], expected, rtol=1e-5, atol=1e-6)

    # gradients through the stepped body equal autograd on the plain model
    s.backward()
    s.wait()
    model = target.model
    model.zero_grad()
    model(*target.example_inputs).sum().backward()
    for name, param in model.named_parameters():
        np.testing.assert_allclose(
            s.gradients.params[name], param.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=name
        )


def test_step_over_runs_the_module_whole_and_step_out_leaves_its_body(session):
    s, _target = session
    for expected in ("x", "embed", "encoder", "head"):
        s.step_over()
        assert s.wait().node_id == expected
    assert not any("/call/" in n for n in s.run.executed)
    s.restart()
    s.wait()
    s.run_to("embed")
    s.wait()
    s.step()
    s.step()  # two ops into the encoder
    inside = s.wait().node_id
    assert inside.startswith("encoder/call/")
    s.step_out()  # the rest of the layer, then the encoder: paused on the module node
    assert s.wait().node_id == "encoder"
