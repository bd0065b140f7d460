"""Capture a loaded model's graph with a named strategy, whatever its framework."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from inspectors.graph import Graph
from inspectors.target import ModelTarget, TargetError

#: Strategies per framework, in the order `auto` tries them.
STRATEGIES = {"torch": ("fx", "export", "eager"), "tensorflow": ("function",)}


@dataclass
class Captured:
    """A neutral `graph` plus the framework object a stepper runs (never sent to the GUI).

    `native` is the fx GraphModule, the ExportedProgram, the eager recording, or the
    TF capture (concrete function and its variables), depending on `strategy`.
    """

    graph: Graph
    native: Any
    strategy: str
    target: ModelTarget
    extra: dict[str, Any] = field(default_factory=dict)


def capture(
    target: ModelTarget,
    strategy: str = "auto",
    checkpoint: Callable[[str], None] | None = None,
) -> Captured:
    """Capture `target` with `strategy` (`auto` tries the framework's strategies in order).

    `checkpoint(name)` is called before each strategy is tried: a caller that wants to
    stop (the GUI's Cancel) raises there, and what it raises propagates. A strategy
    under way is one framework call, which cannot be interrupted.
    """
    allowed = STRATEGIES[target.framework]
    if strategy != "auto" and strategy not in allowed:
        raise TargetError(
            f"Capture strategy {strategy!r} does not apply to a {target.framework} model; "
            f"use one of: auto, {', '.join(allowed)}."
        )
    forward_error = target.extra.get("forward_error")
    try:
        if target.framework == "torch":
            from inspectors.torch_inspector.capture import capture_torch

            captured = capture_torch(target, strategy, checkpoint)
        else:
            from inspectors.tf_inspector.capture import STRATEGY, capture_tf

            if checkpoint is not None:
                checkpoint(STRATEGY)
            captured = capture_tf(target, strategy)
    except TargetError as exc:
        if forward_error:  # the model's own failure is the cause to name
            raise TargetError(forward_error) from exc
        raise
    captured.graph.meta.setdefault("model", target.spec)
    if forward_error:
        captured.graph.meta["forward_error"] = forward_error
    return captured
