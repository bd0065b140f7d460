"""A small CNN on 28x28 grey images: two conv-relu-pool blocks, then a linear classifier.

What to look at: the shapes along the edges. Each 3x3 convolution with padding 1 keeps
28x28, each 2x2 max-pool halves it (28 -> 14 -> 7), the channels grow 1 -> 8 -> 16, and
`flatten` turns 16x7x7 into 784 numbers per image for the final Linear to 10 classes.
"""

import torch
from torch import nn


class SmallCNN(nn.Module):
    """conv, relu, pool, conv, relu, pool, flatten, linear."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, kernel_size=3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 16, kernel_size=3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.classifier = nn.Linear(16 * 7 * 7, 10)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.relu1(self.conv1(images)))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.classifier(self.flatten(x))


def build() -> nn.Module:
    torch.manual_seed(0)
    return SmallCNN()


def example_inputs() -> tuple[torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return (torch.randn(2, 1, 28, 28, generator=generator),)


def loss(output: torch.Tensor, *inputs: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against fixed labels 3 and 7."""
    return nn.functional.cross_entropy(output, torch.tensor([3, 7]))
