"""Crossing the engine's line: torch values to numpy, and the Session's replacements back.

The steppers hand the Session the nodes' own tensors (it summarises and keeps them
where they live); numpy is for what leaves the engine as arrays: a run's inputs and
outputs, and values a panel asks for. Arrays made here are zero-copy views where
torch allows it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from inspectors.torch_inspector.values import flatten

_Tensor = torch.Tensor


def to_numpy(tensor: torch.Tensor) -> Any:
    """A numpy view of `tensor` (a copy for dtypes numpy lacks, e.g. bfloat16)."""
    try:
        return tensor.detach().numpy()  # CPU: no `.cpu()` call on the hot path
    except (TypeError, RuntimeError):
        pass
    try:
        return tensor.detach().cpu().numpy()
    except (TypeError, RuntimeError):
        pass
    try:  # bfloat16, float8, quantized, sparse: numbers through float32
        if tensor.is_sparse:
            tensor = tensor.to_dense()
        if tensor.is_quantized:
            tensor = tensor.dequantize()
        return tensor.detach().cpu().to(torch.float32).numpy()
    except (TypeError, RuntimeError):
        return tensor  # meta / nested tensors: described, not summarised


def leaves_to_numpy(leaves: tuple[Any, ...] | list[Any]) -> tuple[Any, ...]:
    """Tensors as numpy arrays; every other leaf (int, None, torch.Size) as itself."""
    return tuple(to_numpy(v) if isinstance(v, _Tensor) else v for v in leaves)


def flat_outputs(output: Any) -> tuple[Any, ...]:
    """A model's outputs flattened in order (dict values, dataclass fields), as numpy."""
    return leaves_to_numpy(flatten(output))


def to_tensor(array: Any, like: Any) -> Any:
    """`array` as a tensor with the dtype and device of `like` (the value it replaces).

    A float replacement of a value that carried gradients becomes a leaf that requires
    grad, so gradients still reach it (and stop there, as they would in the model
    run with that value).
    """
    if not isinstance(like, _Tensor):
        return array
    tensor = torch.as_tensor(np.asarray(array), device=like.device)
    if tensor.dtype != like.dtype:
        tensor = tensor.to(like.dtype)
    if tuple(tensor.shape) != tuple(like.shape):
        raise ValueError(
            f"the replacement has shape {tuple(tensor.shape)}; the value it replaces "
            f"has shape {tuple(like.shape)}"
        )
    if like.requires_grad and tensor.is_floating_point():
        tensor.requires_grad_(True)
    return tensor


def replaced(leaves: tuple[Any, ...], replacement: dict[int, Any]) -> tuple[Any, ...]:
    """`leaves` with the Session's {index: array} replacements turned into tensors."""
    out = list(leaves)
    for index, array in replacement.items():
        if 0 <= index < len(out):
            out[index] = to_tensor(array, out[index])
    return tuple(out)


def numpy_to_inputs(arrays: tuple[Any, ...], current: tuple[Any, ...]) -> tuple[Any, ...]:
    """New inputs from numpy, each matching the dtype and device of the current one."""
    if len(arrays) != len(current):
        raise ValueError(f"the model takes {len(current)} inputs; got {len(arrays)}")
    out = []
    for array, like in zip(arrays, current, strict=True):
        if isinstance(like, _Tensor):
            tensor = torch.as_tensor(np.asarray(array), device=like.device).to(like.dtype)
            out.append(tensor)
        else:
            out.append(array)
    return tuple(out)


def traced_inputs(inputs: tuple[Any, ...]) -> tuple[Any, ...]:
    """Per-run copies of the inputs; float ones track gradients.

    Each float input is a clone of a leaf that requires grad, not the leaf itself, so
    a model that writes into its input in place still runs (and the caller's example
    tensors are never modified).
    """
    out = []
    for value in inputs:
        if isinstance(value, _Tensor):
            value = value.detach()
            if value.is_floating_point() or value.is_complex():
                value = value.clone().requires_grad_(True).clone()
            else:
                value = value.clone()
        out.append(value)
    return tuple(out)
