"""Gradients of one scalar loss for every recorded node output and every parameter.

The steppers run with autograd on and keep each node's outputs as torch tensors
(`OutputRecord`); after the run one `torch.autograd.grad` call over all of them gives
the same numbers as `loss.backward()` on the model's own forward, plus the gradient
of every intermediate (what `retain_grad` would give, without touching the model).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from inspectors.stepping import GradientResult
from inspectors.torch_inspector.numpy_io import to_numpy
from inspectors.torch_inspector.values import flatten

_Tensor = torch.Tensor

LOSS_FROM_FILE = "loss() of the model file"
LOSS_FROM_OUTPUT = "sum of the first output"

INTEGER = "integer output: not differentiable"
UNUSED = "does not affect the loss"
UNTRACKED = "computed without gradient tracking: not connected to the parameters or inputs"
IN_PLACE = "modified in place by a later node: the gradient of this value is not kept"
NOT_A_TENSOR = "not a tensor"


class OutputRecord:
    """Each node's outputs as tensors, with their version counters at the time they ran.

    A version that changed by backward time means a later op wrote into the tensor in
    place: autograd then knows only the newer value, so that node gets a reason
    instead of a wrong gradient.
    """

    def __init__(self) -> None:
        self.values: dict[str, tuple[Any, ...]] = {}
        self.versions: dict[str, tuple[int, ...]] = {}

    def keep(self, node_id: str, leaves: tuple[Any, ...]) -> None:
        self.values[node_id] = leaves
        if len(leaves) == 1 and isinstance(leaves[0], _Tensor):  # most nodes: one tensor
            self.versions[node_id] = (leaves[0]._version,)
            return
        self.versions[node_id] = tuple(v._version if isinstance(v, _Tensor) else -1 for v in leaves)

    def clear(self) -> None:
        self.values.clear()
        self.versions.clear()


def scalar_loss(
    output: Any, inputs: tuple[Any, ...], loss_fn: Callable[..., Any] | None
) -> tuple[torch.Tensor, str]:
    """The loss tensor and where it came from (the model file's `loss`, else a sum)."""
    with torch.enable_grad():
        if loss_fn is not None:
            loss = loss_fn(output, *inputs)
            source = LOSS_FROM_FILE
        else:
            tensors = [v for v in flatten(output) if isinstance(v, _Tensor)]
            first = next((v for v in tensors if v.is_floating_point() or v.is_complex()), None)
            if first is None:
                kinds = ", ".join(str(v.dtype).replace("torch.", "") for v in tensors) or "none"
                raise ValueError(
                    f"the model's outputs are not floating point ({kinds}), so no loss can be "
                    f"derived from them: define loss(output, *inputs) in the model file"
                )
            loss = first.sum()
            source = LOSS_FROM_OUTPUT
            if first is not tensors[0]:
                position = next(i for i, t in enumerate(tensors) if t is first)
                source = f"sum of the first floating-point output (output {position})"
    if not isinstance(loss, _Tensor) or loss.numel() != 1:
        shape = tuple(loss.shape) if isinstance(loss, _Tensor) else type(loss).__name__
        raise ValueError(f"loss() must return a scalar tensor; it returned {shape}")
    if not loss.requires_grad:
        raise ValueError(
            "the loss does not depend on anything that carries gradients "
            "(is the model run under torch.no_grad, or are all parameters frozen?)"
        )
    return loss.reshape(()), source


def compute_gradients(
    loss: torch.Tensor,
    source: str,
    record: OutputRecord,
    params: Mapping[str, torch.Tensor],
) -> GradientResult:
    """One autograd pass for every kept node output and parameter (the graph is retained)."""
    targets: list[torch.Tensor] = []
    slot_of: dict[int, int] = {}  # id(tensor) -> index into targets
    absent: dict[str, str] = {}
    plan: dict[str, list[int | str]] = {}  # per node: a target index or a reason per slot

    def target_index(tensor: torch.Tensor) -> int:
        key = id(tensor)
        index = slot_of.get(key)
        if index is None:
            index = slot_of[key] = len(targets)
            targets.append(tensor)
        return index

    for node_id, leaves in record.values.items():
        versions = record.versions[node_id]
        slots: list[int | str] = []
        for value, version in zip(leaves, versions, strict=True):
            if not isinstance(value, _Tensor):
                slots.append(NOT_A_TENSOR)
            elif not (value.is_floating_point() or value.is_complex()):
                slots.append(INTEGER)
            elif not value.requires_grad:
                slots.append(UNTRACKED)
            elif value._version != version:
                slots.append(IN_PLACE)
            else:
                slots.append(target_index(value))
        plan[node_id] = slots
    param_slots = {
        name: target_index(p)
        for name, p in params.items()
        if p.requires_grad and p.is_floating_point()
    }

    grads: tuple[torch.Tensor | None, ...] = ()
    if targets:
        grads = torch.autograd.grad(loss, targets, retain_graph=True, allow_unused=True)
    arrays: dict[int, np.ndarray | None] = {}

    def array(index: int) -> np.ndarray | None:
        if index not in arrays:
            grad = grads[index]
            arrays[index] = None if grad is None else np.array(to_numpy(grad), copy=True)
        return arrays[index]

    nodes: dict[str, tuple[np.ndarray | None, ...]] = {}
    for node_id, slots in plan.items():
        values = [array(s) if isinstance(s, int) else None for s in slots]
        if any(v is not None for v in values):
            nodes[node_id] = tuple(values)
            continue
        reasons = [s if isinstance(s, str) else UNUSED for s in slots]
        absent[node_id] = next((r for r in reasons if r != NOT_A_TENSOR), NOT_A_TENSOR)
    param_grads: dict[str, np.ndarray] = {}
    for name, index in param_slots.items():
        grad = array(index)
        if grad is None:
            absent.setdefault(name, UNUSED)
        else:
            param_grads[name] = grad
    return GradientResult(float(loss.detach()), source, nodes, param_grads, absent)
