"""Fit an unknown exponent in PyTorch: recover phi in f(x) = x ** phi by gradient descent.

The model is one number. `ExponentModel` holds a trainable scalar `phi` (an
`nn.Parameter`, starting at 1.0) and computes `x ** phi`. The data are 64 points x in
[0.5, 2] with targets f(x) = x ** 2.5; the 2.5 (`HIDDEN_PHI`) is what training must
find. The loss is the mean squared error to the targets.

What to look at:

- In the graph: an input `x`, a `param` node `phi`, one `pow` node and the output.
  Step it and look at `phi`'s value, then run backward: the gradient of the loss
  with respect to `phi` is a single number, d/dphi mean((x**phi - y)**2) =
  mean(2 (x**phi - y) x**phi ln x).
- In the Training panel: `train_step` is the textbook loop written out by hand:
  forward, loss, `loss.backward()`, then `phi -= lr * phi.grad` under
  `torch.no_grad()` (autograd must not record the update itself), and the gradient
  zeroed for the next iteration. Each iteration reports the loss and `grad_phi`
  at the phi it started from, and `phi` after its update.
- Switch the update rule to "SGD with momentum": `torch.optim.SGD(momentum=0.9)`
  keeps a velocity v = 0.9 v + grad and moves phi by lr * v.

What really happens, with the learning rate 0.05 used here (phi starts at 1.0):

- gradient descent: phi = 1.93 after 10 iterations, 2.42 after 20, 2.50 after 40.
  It approaches 2.5 from below and never overshoots; the steps shrink as the
  gradient shrinks.
- SGD with momentum: phi = 2.73 after 10 iterations (already past 2.5), 2.71 after
  20, 2.38 after 40: the velocity carries it past the answer and it rings around
  2.5, settling only slowly. Faster at first, slower to settle.

Try: compare the iterations each rule needs in this file and in `fit_exponent_tf`
(the same data, start, learning rate and rules in TensorFlow): the phi curves lie
on top of each other, because both frameworks compute the same float32 arithmetic;
the frameworks differ in how the step is written, not in what it does. Then change
`LEARNING_RATE`: at 0.2 plain gradient descent reaches 2.50 in 6 steps; from about
0.35 each step jumps past the answer and phi zigzags around it; at 0.5 it bounces
between 2.08 and 2.73 for ever. Or set `BATCH_SIZE = 16` to take four smaller steps
per pass over the data.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator

import torch
from torch import nn

HIDDEN_PHI = 2.5  # the exponent training must recover
START_PHI = 1.0
LEARNING_RATE = 0.05
MOMENTUM = 0.9
N_POINTS = 64
BATCH_SIZE = 64  # one batch per pass over the data: plain (full-batch) gradient descent


class ExponentModel(nn.Module):
    """f(x) = x ** phi with one trainable number, phi."""

    def __init__(self, phi: float = START_PHI) -> None:
        super().__init__()
        self.phi = nn.Parameter(torch.tensor(phi))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x**self.phi


def build() -> nn.Module:
    return ExponentModel()


def example_inputs() -> tuple[torch.Tensor]:
    return (torch.linspace(0.5, 2.0, N_POINTS),)


def loss(output: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean squared error to the hidden function x ** HIDDEN_PHI."""
    return ((output - x**HIDDEN_PHI) ** 2).mean()


def data() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One pass over the data: batches of (x, y) with y = x ** HIDDEN_PHI."""
    (x,) = example_inputs()
    for start in range(0, N_POINTS, BATCH_SIZE):
        xb = x[start : start + BATCH_SIZE]
        yield xb, xb**HIDDEN_PHI


def train_step(model: ExponentModel, batch: tuple[torch.Tensor, torch.Tensor]) -> dict:
    """One iteration of gradient descent, written out by hand."""
    x, y = batch
    error = ((model(x) - y) ** 2).mean()
    model.phi.grad = None
    error.backward()
    grad = model.phi.grad.item()
    with torch.no_grad():  # the update is not part of the graph autograd differentiates
        model.phi -= LEARNING_RATE * model.phi.grad
    return {"loss": error.item(), "phi": model.phi.item(), "grad_phi": grad}


# One optimizer per model, created on its first step (its velocity must persist).
_optimizers: weakref.WeakKeyDictionary[nn.Module, torch.optim.Optimizer] = (
    weakref.WeakKeyDictionary()
)


def train_step_momentum(model: ExponentModel, batch: tuple[torch.Tensor, torch.Tensor]) -> dict:
    """One iteration of SGD with momentum 0.9 through torch.optim."""
    optimizer = _optimizers.get(model)
    if optimizer is None:
        optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
        _optimizers[model] = optimizer
    x, y = batch
    optimizer.zero_grad()
    error = ((model(x) - y) ** 2).mean()
    error.backward()
    grad = model.phi.grad.item()
    optimizer.step()
    return {"loss": error.item(), "phi": model.phi.item(), "grad_phi": grad}


TRAIN_STEPS = {"gradient descent": train_step, "SGD with momentum": train_step_momentum}
