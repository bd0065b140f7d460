"""A digit classifier (PyTorch CNN) on drawn 28x28 handwritten-style digits, trainable.

What to look at: the input `images` is 8 digits drawn by `_digits.py`, readable in the
Tensor panel (`labels()` says which). Then open `conv1`'s output: its shape is
(8, 8, 28, 28), 8 images with 8 channels of 28x28 pixels each (NCHW), and the channel
grid shows one small image per channel: the same digit seen through 8 different 5x5
filters, some brightening the strokes, some their edges, some the background. After
`relu1` the negative values are gone (the histogram loses its left half), `pool1`
halves each image to 14x14, and by `conv2` the 16 channels are features of features
that no longer look like digits. `flatten` turns 16x7x7 into 784 numbers per image.

What to try: the weights start random, so the logits of `fc2` are near zero and the
loss is about ln 10 = 2.3. Train it in the training-loop panel (`train_step` runs one
SGD step on a new batch from `data()`): within a hundred steps the loss falls below 1.
Then step the model again and compare `conv1`'s channel grid and the logits with what
you saw before training.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

try:
    from sample_models import _digits
except ImportError:  # opened as a file outside the project: the generator sits beside it
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _digits

BATCH = 8
LEARNING_RATE = 0.05

#: Each model's optimizer (its momentum), made on the first `train_step`.
_optimizers: weakref.WeakKeyDictionary[nn.Module, torch.optim.Optimizer] = (
    weakref.WeakKeyDictionary()
)


class DigitsCNN(nn.Module):
    """conv 5x5 (8) - relu - pool, conv 3x3 (16) - relu - pool, linear 784->32 - relu - 10."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, kernel_size=5, padding=2)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 16, kernel_size=3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * 7 * 7, 32)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(32, 10)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.relu1(self.conv1(images)))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.fc2(self.relu3(self.fc1(self.flatten(x))))


def build() -> nn.Module:
    torch.manual_seed(0)
    return DigitsCNN()


def _tensors(images, labels) -> tuple[torch.Tensor, torch.Tensor]:
    """numpy (N, 28, 28) and (N,) -> NCHW float32 images and int64 labels."""
    return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels)


_EXAMPLE_IMAGES, _EXAMPLE_LABELS = _tensors(*_digits.batch(BATCH, seed=0))


def example_inputs() -> tuple[torch.Tensor]:
    """A batch of 8 drawn digits, NCHW: (8, 1, 28, 28)."""
    return (_EXAMPLE_IMAGES.clone(),)


def labels() -> torch.Tensor:
    """The digits drawn in `example_inputs()`."""
    return _EXAMPLE_LABELS.clone()


def loss(output: torch.Tensor, *inputs: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the logits against the labels of the digits drawn in `images`."""
    return nn.functional.cross_entropy(output, _labels_for(inputs[0]))


def _labels_for(images: torch.Tensor) -> torch.Tensor:
    """The labels of a batch from `example_inputs()` or `data()`; edited example images
    keep the example labels."""
    known = _digits.labels_of(images.detach().numpy())
    if known is not None:
        return torch.from_numpy(known)
    if images.shape[0] == BATCH:
        return _EXAMPLE_LABELS
    raise ValueError(
        f"these {images.shape[0]} images were not drawn by example_inputs() or data(), "
        f"so their labels are unknown"
    )


def data(steps: int = 500, batch_size: int = 32, seed: int = 1) -> Iterator[tuple]:
    """`steps` training batches of freshly drawn digits: (images NCHW, labels)."""
    for images, digit_labels in _digits.batches(steps, batch_size, seed=seed):
        yield _tensors(images, digit_labels)


def train_step(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
    """One SGD step (momentum 0.9) on `batch`; the loss and accuracy before the update."""
    images, targets = batch
    if model not in _optimizers:
        _optimizers[model] = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=0.9)
    optimizer = _optimizers[model]
    optimizer.zero_grad()
    logits = model(images)
    batch_loss = nn.functional.cross_entropy(logits, targets)
    batch_loss.backward()
    optimizer.step()
    accuracy = (logits.argmax(1) == targets).float().mean()
    return {"loss": batch_loss.item(), "accuracy": accuracy.item()}
