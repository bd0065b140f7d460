"""Data-dependent control flow: an RNN cell looped over time and an `if` on a tensor's value.

What to look at: fx cannot capture this model. `if sequence.mean() > 0` needs the value
of a tensor, and symbolic tracing has only placeholders, so fx stops there (the reason
is shown); torch.export refuses the same branch. Eager recording runs the model and
draws the graph of what really happened: the RNN cell appears once per time step,
and `other_inputs()` takes the other branch, so the two recorded graphs differ.
"""

import torch
from torch import nn


class GatedRNN(nn.Module):
    """An RNN cell over the sequence, then one of two heads chosen by the sign of the input."""

    def __init__(self) -> None:
        super().__init__()
        self.cell = nn.RNNCell(4, 8)
        self.positive_head = nn.Linear(8, 3)
        self.negative_head = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3))

    def forward(self, sequence: torch.Tensor) -> torch.Tensor:
        state = sequence.new_zeros(sequence.shape[0], 8)
        for step in range(sequence.shape[1]):
            state = self.cell(sequence[:, step], state)
        if sequence.mean() > 0:
            return self.positive_head(state)
        return self.negative_head(state)


def build() -> nn.Module:
    torch.manual_seed(0)
    return GatedRNN()


def example_inputs() -> tuple[torch.Tensor]:
    """Three time steps of positive values: the positive head."""
    return (torch.full((2, 3, 4), 2.0),)


def other_inputs() -> tuple[torch.Tensor]:
    """Five time steps of negative values: the negative head, and a longer loop."""
    return (torch.full((2, 5, 4), -2.0),)


def loss(output: torch.Tensor, *inputs: torch.Tensor) -> torch.Tensor:
    return output.pow(2).mean()
