"""Stop at the first NaN (PyTorch): `log` of an activation that goes negative.

What to try: add a breakpoint "stop at the first NaN" and continue. The run stops on
`log`, the first node whose output holds NaN, not on `fc2` or the output, where
the NaN has already spread. Look at the histogram of `add` just before it (the
`hidden + 0.5` of the code, named by its op): part of it is below zero, and the log
of a negative number is NaN. Override `add` with its absolute value and go on to see
the NaNs disappear.
"""

import torch
from torch import nn


class LogOfNegative(nn.Module):
    """Linear 8->16, tanh, add 0.5, log (NaN where negative), Linear 16->4."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = torch.tanh(self.fc1(x))
        shift = hidden + 0.5  # tanh is in (-1, 1): some entries stay negative
        logged = torch.log(shift)
        return self.fc2(logged)


def build() -> nn.Module:
    torch.manual_seed(0)
    return LogOfNegative()


def example_inputs() -> tuple[torch.Tensor]:
    generator = torch.Generator().manual_seed(2)
    return (torch.randn(3, 8, generator=generator) * 3,)


def loss(output: torch.Tensor, *inputs: torch.Tensor) -> torch.Tensor:
    return output.sum()
