"""A 10-20-5 feed-forward network in PyTorch: two Linear layers with a ReLU between.

What to look at: `fc1` turns each of the 4 rows of 10 numbers into 20 (its weight is
20x10, its bias 20); `relu` zeroes the negative ones; `fc2` maps 20 to 5. Captured
with fx you see these three layers; with export each Linear opens into its aten ops
(`aten.linear` or `permute` + `addmm`), with the weights as `param` inputs.
"""

import torch
from torch import nn


class FeedForward(nn.Module):
    """Linear 10->20, ReLU, Linear 20->5."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(10, 20)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(20, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.relu(self.fc1(x))
        return self.fc2(hidden)


def build() -> nn.Module:
    torch.manual_seed(0)
    return FeedForward()


def example_inputs() -> tuple[torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return (torch.randn(4, 10, generator=generator),)


def loss(output: torch.Tensor, *inputs: torch.Tensor) -> torch.Tensor:
    """Mean squared output: pulls every output toward zero."""
    return output.pow(2).mean()
