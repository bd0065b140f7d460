"""The new value an override gives: each function returns a fresh array of the same shape and dtype.

Qt-free; the Tensor panel emits the result as `value_edited` so the session can
replace the node's output and go on from there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class OverrideError(ValueError):
    """An override that cannot apply, with a message meant for the user."""


def scaled(array: np.ndarray, factor: float) -> np.ndarray:
    """Every value multiplied by `factor` (integers rounded back to their dtype)."""
    if array.dtype == np.bool_:
        return np.asarray(array) & bool(factor)
    with np.errstate(all="ignore"):  # inf * 0 is a legitimate NaN here
        result = np.multiply(array, factor)
    if np.issubdtype(array.dtype, np.integer):
        result = np.rint(result)
    return result.astype(array.dtype, copy=False)


def zeroed(array: np.ndarray) -> np.ndarray:
    return np.zeros_like(array)


def absolute(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.bool_ or np.issubdtype(array.dtype, np.unsignedinteger):
        return array.copy()
    return np.abs(array).astype(array.dtype, copy=False)


def finite_or_zero(array: np.ndarray) -> np.ndarray:
    """NaN and +-inf replaced by 0: "what if this op had not blown up?"."""
    if not np.issubdtype(array.dtype, np.inexact):
        return array.copy()
    return np.where(np.isfinite(array), array, 0).astype(array.dtype, copy=False)


def with_cell(array: np.ndarray, index: tuple[int, ...], value: object) -> np.ndarray:
    """A copy of `array` with one element replaced."""
    result = array.copy()
    result[index] = value
    return result


def loaded_like(path: str | Path, like: np.ndarray) -> np.ndarray:
    """The array saved in `path` (.npy), which must have `like`'s shape; cast to its dtype."""
    name = Path(path).name
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise OverrideError(f"Cannot read {name}: {exc}") from exc
    if not isinstance(loaded, np.ndarray):
        loaded.close()  # an .npz archive: ambiguous which array is meant
        raise OverrideError(f"{name} holds several arrays; save the one you want as .npy.")
    if loaded.shape != like.shape:
        raise OverrideError(
            f"{name} has shape {_shape(loaded.shape)}; this output has shape {_shape(like.shape)}."
        )
    if loaded.dtype != like.dtype and not np.can_cast(loaded.dtype, like.dtype, "same_kind"):
        raise OverrideError(f"{name} holds {loaded.dtype}, which does not convert to {like.dtype}.")
    return loaded.astype(like.dtype, copy=False)


def _shape(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"
