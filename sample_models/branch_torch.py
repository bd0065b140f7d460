"""An `if` on a tensor's value in PyTorch: the eager graph holds only the branch taken.

What to look at: `forward` asks `if x.mean() > 0:`. To answer, Python needs the value,
so the tensor `x.mean() > 0` is turned into a real `True` or `False` right there, and
only one branch runs. fx cannot capture this: tracing with placeholders, it has no
value to decide on (its error names the line), and torch.export refuses the same
data-dependent branch, so `auto` falls back to eager recording. The eager graph
shows the `encoder` linear, `relu`, `mean` and `gt`, then only the branch that ran:
for `example_inputs()`, whose mean is positive, the `positive` linear and its `relu`.

What to try: run `branch_torch@other_inputs` (a negative mean) and put the two
graphs side by side or diff them: they share everything up to `gt`, then part ways
into the `negative` head (linear, tanh, linear). Neither graph knows that the other
branch exists. Then open `branch_tf`, the same model with the same weights, where
the `if` becomes one `If` op holding both branches.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

FEATURES, HIDDEN, OUT = 4, 8, 3


def _weights() -> dict[str, np.ndarray]:
    """The weights, drawn with numpy so that `branch_tf` gets the same ones."""
    rng = np.random.default_rng(11)
    shapes = {
        "encoder": (HIDDEN, FEATURES),
        "positive": (OUT, HIDDEN),
        "negative_1": (HIDDEN, HIDDEN),
        "negative_2": (OUT, HIDDEN),
    }
    out = {}
    for name, shape in shapes.items():
        out[name] = (rng.normal(size=shape) * 0.5).astype(np.float32)
        out[name + "_bias"] = (rng.normal(size=shape[0]) * 0.1).astype(np.float32)
    return out


def _inputs(sign: float) -> np.ndarray:
    """Three rows of four features whose mean has the sign of `sign`."""
    rng = np.random.default_rng(12)
    return (rng.normal(size=(3, FEATURES)) + sign).astype(np.float32)


class SignGate(nn.Module):
    """An encoder, then one of two heads chosen by the sign of the input's mean."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Linear(FEATURES, HIDDEN)
        self.positive = nn.Linear(HIDDEN, OUT)
        self.relu = nn.ReLU()
        self.negative = nn.Sequential(nn.Linear(HIDDEN, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, OUT))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu(self.encoder(x))
        if x.mean() > 0:
            return self.relu(self.positive(hidden))
        return self.negative(hidden)


def build() -> nn.Module:
    model = SignGate()
    w = _weights()
    layers = {
        "encoder": model.encoder,
        "positive": model.positive,
        "negative_1": model.negative[0],
        "negative_2": model.negative[2],
    }
    with torch.no_grad():
        for name, layer in layers.items():
            layer.weight.copy_(torch.from_numpy(w[name]))
            layer.bias.copy_(torch.from_numpy(w[name + "_bias"]))
    return model


def example_inputs() -> tuple[torch.Tensor]:
    """A (3, 4) input with a positive mean: the `positive` branch."""
    return (torch.from_numpy(_inputs(+1.0)),)


def other_inputs() -> tuple[torch.Tensor]:
    """A (3, 4) input with a negative mean: the `negative` branch."""
    return (torch.from_numpy(_inputs(-1.0)),)


def loss(output: torch.Tensor, *inputs: torch.Tensor) -> torch.Tensor:
    return output.pow(2).mean()
