"""Capture of models written the way real projects write them, not only the samples.

`auto` must give a valid graph for each; `EXPECTED` notes which strategy it ended
with (and so which strategies fail on that pattern, and why).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from inspectors.capture import capture  # noqa: E402
from inspectors.target import ModelTarget, TargetError  # noqa: E402

pytestmark = pytest.mark.torch


class TinyTransformer(nn.Module):
    """Embedding + nn.TransformerEncoder of two nn.TransformerEncoderLayer + a head."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        layer = nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.head = nn.Linear(16, 5)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(tokens)).mean(dim=1))


class SelfAttention(nn.Module):
    """nn.MultiheadAttention used directly; it returns (output, weights)."""

    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(16, 2, batch_first=True)
        self.norm = nn.LayerNorm(16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _weights = self.attn(x, x, x)
        return self.norm(x + out)


class DictOutput(nn.Module):
    """Returns a dict, like many detection and language models."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(8, 8)
        self.logits = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        hidden = torch.tanh(self.body(x))
        return {"logits": self.logits(hidden), "hidden": hidden}


@dataclass
class ModelOutput:
    logits: torch.Tensor
    loss_terms: torch.Tensor


class DataclassOutput(nn.Module):
    """Returns a dataclass, like Hugging Face style model outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> ModelOutput:
        logits = self.fc(x)
        return ModelOutput(logits=logits, loss_terms=logits.pow(2))


class ConfiguredStack(nn.Module):
    """A loop over a ModuleList with a condition on a Python config flag: fx handles it."""

    def __init__(self, use_residual: bool = True) -> None:
        super().__init__()
        self.use_residual = use_residual
        self.layers = nn.ModuleList(nn.Linear(8, 8) for _ in range(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            y = torch.relu(layer(x))
            x = x + y if self.use_residual and i > 0 else y
        return x


class ValueGated(nn.Module):
    """Branches on a tensor's value and loops until a norm is small: eager only."""

    def __init__(self) -> None:
        super().__init__()
        self.shrink = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps = 0
        while x.norm() > 1.0 and steps < 10:
            x = 0.5 * x
            steps += 1
        if x.mean() > 0:
            return self.shrink(x)
        return -x


class Recurrent(nn.Module):
    """nn.LSTM then nn.GRU; both return (output, state) tuples."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(6, 12, batch_first=True)
        self.gru = nn.GRU(12, 8, batch_first=True)
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, (_h, _c) = self.lstm(x)
        out, _h = self.gru(out)
        return self.head(out[:, -1])


def _inputs(name: str) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    if name == "transformer":
        return (torch.randint(0, 50, (2, 7), generator=g),)
    if name in ("attention",):
        return (torch.randn(2, 5, 16, generator=g),)
    if name == "recurrent":
        return (torch.randn(2, 4, 6, generator=g),)
    return (torch.randn(3, 8, generator=g),)


MODELS = {
    "transformer": TinyTransformer,
    "attention": SelfAttention,
    "dict_output": DictOutput,
    "dataclass_output": DataclassOutput,
    "config_flag_loop": ConfiguredStack,
    "value_gated": ValueGated,
    "recurrent": Recurrent,
}

#: The strategy `auto` ends with, and why the earlier ones failed.
EXPECTED = {
    "transformer": "fx",  # torch.nn layers are fx leaf modules
    "attention": "fx",
    "dict_output": "fx",
    "dataclass_output": "fx",  # fx builds the dataclass in a call node; export refuses it
    "config_flag_loop": "fx",  # the flag is plain Python, so tracing just unrolls the loop
    "value_gated": "eager",  # `while x.norm() > 1.0` needs values
    "recurrent": "fx",
}


def make_target(name: str) -> ModelTarget:
    torch.manual_seed(0)
    model = MODELS[name]()
    model.eval()
    return ModelTarget(
        spec=name, name=name, framework="torch", model=model, example_inputs=_inputs(name)
    )


@pytest.mark.parametrize("name", list(MODELS))
def test_auto_captures_a_valid_graph(name):
    captured = capture(make_target(name), "auto")
    graph = captured.graph
    assert graph.validate() == []
    assert captured.strategy == EXPECTED[name], graph.summary()
    assert graph.meta["capture"] == EXPECTED[name]
    kinds = graph.op_counts()
    assert kinds["input"] >= 1 and kinds["output"] == 1
    assert kinds.get("op", 0) + kinds.get("module", 0) >= 1
    for fail in graph.meta["failures"]:
        assert fail["reason"] and "\n" not in fail["reason"]


@pytest.mark.parametrize("name", list(MODELS))
def test_eager_records_every_model(name):
    target = make_target(name)
    graph = capture(target, "eager").graph
    assert graph.validate() == []
    ops = [graph.node(n) for n in graph.order if graph.node(n)["kind"] == "op"]
    assert ops and all(op["outputs"] for op in ops)
    assert any(op["scope"] for op in ops) or name == "value_gated"


def test_eager_output_node_collects_every_returned_tensor():
    graph = capture(make_target("dict_output"), "eager").graph
    assert len(graph.node("output")["outputs"]) == 2
    assert len(graph.inputs_of("output")) == 2


def test_export_of_the_transformer_scopes_ops_by_layer():
    graph = capture(make_target("transformer"), "export").graph
    assert graph.validate() == []
    scopes = {graph.node(n)["scope"] for n in graph.nodes if graph.node(n)["kind"] == "op"}
    assert any(s[:3] == ("encoder", "layers", "1") for s in scopes), scopes


def test_fx_builds_a_returned_dataclass_in_the_graph():
    graph = capture(make_target("dataclass_output"), "fx").graph
    assert graph.node("model_output")["op"] == "ModelOutput"
    assert graph.inputs_of("model_output") == ["fc", "pow_1"]


def test_export_refusing_a_dataclass_output_is_explained():
    with pytest.raises(TargetError) as info:
        capture(make_target("dataclass_output"), "export")
    assert "cannot flatten what the model takes or returns" in str(info.value)
    assert "ModelOutput" in str(info.value)  # torch's message names the type


def test_value_gated_failures_are_explained():
    graph = capture(make_target("value_gated"), "auto").graph
    reasons = {f["strategy"]: f["reason"] for f in graph.meta["failures"]}
    assert set(reasons) == {"fx", "export"}
    assert "while x.norm() > 1.0" in reasons["fx"]
    assert "control flow" in reasons["export"]
