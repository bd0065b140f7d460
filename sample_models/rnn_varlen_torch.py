"""Sequences of varying length in PyTorch: a Python loop runs an RNN cell once per time step.

What to look at: `forward` is an ordinary `for t in range(x.shape[1])` loop, and PyTorch
records only what runs, so with `--capture eager` the graph has one `rnn_tanh_cell`
(and one `getitem` for `x[:, t]`) per time step: three for `example_inputs()` (length
3), six for `other_inputs()` (length 6). Same code, two different graphs: the
dynamic graph is built anew on every call. fx cannot capture the model, because
`range()` needs a real number and fx only has a placeholder for `x.shape[1]` (its
error says so). torch.export, which `auto` falls back to, runs the loop while tracing
and unrolls it: its graph holds exactly three cells, specialised to length 3.

What to try: run `rnn_varlen_torch` and `rnn_varlen_torch@other_inputs` with eager
capture and diff or place them side by side: the first three steps match, the
length-6 graph has three more. Then open `rnn_varlen_tf`, which pads both lengths into
one batch: one graph, one `While`, and the same numbers (the two samples share their
weights: its rows 0-1 equal the outputs here, rows 2-3 those of `other_inputs`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

FEATURES, HIDDEN = 2, 8


def _weights() -> dict[str, np.ndarray]:
    """The weights, drawn with numpy so that `rnn_varlen_tf` gets the same ones."""
    rng = np.random.default_rng(6)
    shapes = {
        "input": (HIDDEN, FEATURES),
        "hidden": (HIDDEN, HIDDEN),
        "bias": (HIDDEN,),
        "head": (1, HIDDEN),
        "head_bias": (1,),
    }
    return {name: (rng.normal(size=s) * 0.5).astype(np.float32) for name, s in shapes.items()}


def _sequences() -> tuple[np.ndarray, np.ndarray]:
    """Two sequences of length 3 and two of length 6, shared with `rnn_varlen_tf`."""
    rng = np.random.default_rng(7)
    short = rng.normal(size=(2, 3, FEATURES)).astype(np.float32)
    long = rng.normal(size=(2, 6, FEATURES)).astype(np.float32)
    return short, long


class SequenceSum(nn.Module):
    """An RNN cell read over the time steps, then a linear head on the last state."""

    def __init__(self) -> None:
        super().__init__()
        self.cell = nn.RNNCell(FEATURES, HIDDEN)
        self.head = nn.Linear(HIDDEN, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        state = x.new_zeros(x.shape[0], HIDDEN)
        # A Python loop: one cell in the recorded graph per time step.
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
        return self.head(state)


def build() -> nn.Module:
    model = SequenceSum()
    w = _weights()
    with torch.no_grad():
        model.cell.weight_ih.copy_(torch.from_numpy(w["input"]))
        model.cell.weight_hh.copy_(torch.from_numpy(w["hidden"]))
        model.cell.bias_ih.copy_(torch.from_numpy(w["bias"]))
        model.cell.bias_hh.zero_()
        model.head.weight.copy_(torch.from_numpy(w["head"]))
        model.head.bias.copy_(torch.from_numpy(w["head_bias"]))
    return model


def example_inputs() -> tuple[torch.Tensor]:
    """A batch of two sequences of 3 time steps: (2, 3, 2)."""
    return (torch.from_numpy(_sequences()[0]),)


def other_inputs() -> tuple[torch.Tensor]:
    """A batch of two sequences of 6 time steps: (2, 6, 2), a longer loop."""
    return (torch.from_numpy(_sequences()[1]),)


def loss(output: torch.Tensor, *inputs: torch.Tensor) -> torch.Tensor:
    """Squared error against the sum of each sequence's first feature (the task to learn)."""
    target = inputs[0][..., 0].sum(1, keepdim=True)
    return (output - target).pow(2).mean()
