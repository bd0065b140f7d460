"""`make_torch_stepper`: the Stepper for a PyTorch capture (fx, export or eager)."""

from __future__ import annotations

from typing import Any

from inspectors.stepping import Stepper


def make_torch_stepper(captured: Any) -> Stepper:
    """An fx / export Interpreter stepper, or an eager one that runs the model for real."""
    if captured.strategy in ("fx", "export"):
        from inspectors.torch_inspector.fx_stepper import FxStepper

        return FxStepper(captured)
    if captured.strategy == "eager":
        from inspectors.torch_inspector.eager_stepper import EagerStepper

        return EagerStepper(captured)
    raise ValueError(f"no PyTorch stepper for a {captured.strategy!r} capture")
