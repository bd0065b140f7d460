"""A one-block attention model in PyTorch, for activation patching: a clean input and a
corrupted one (its second token shifted) that changes its output.

What to look at: inside `attn`, `q`, `k` and `v` project every token; `matmul` and
`softmax` weigh the tokens against each other; `matmul_1` mixes the values and `out`
projects them back, added to the input before `head` reads the last token. Open it
side by side with `attention_torch@corrupted_inputs` (Teaching > Compare side by
side), run both, select a node on the corrupted side: Patch from other puts the clean
value there; Patch sweep ranks the layer's nodes by how much of the clean output each
one restores.
"""

import torch
from torch import nn


class Attention(nn.Module):
    """Single-head self-attention: softmax(q kᵀ / √d) v, then a projection."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.q, self.k, self.v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores = self.q(x) @ self.k(x).transpose(-2, -1) / x.shape[-1] ** 0.5
        return self.out(torch.softmax(scores, dim=-1) @ self.v(x))


class AttentionModel(nn.Module):
    """x + attn(x), then a linear head on the last token: 3 classes."""

    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.attn = Attention(dim)
        self.head = nn.Linear(dim, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head((x + self.attn(x))[:, -1])


def build() -> nn.Module:
    torch.manual_seed(0)
    return AttentionModel().eval()


def example_inputs() -> tuple[torch.Tensor]:
    """The clean input: one sequence of 5 tokens of width 8."""
    generator = torch.Generator().manual_seed(1)
    return (torch.randn(1, 5, 8, generator=generator),)


def corrupted_inputs() -> tuple[torch.Tensor]:
    """The clean input with its second token shifted by 3."""
    (x,) = example_inputs()
    x = x.clone()
    x[0, 1] += 3.0
    return (x,)
