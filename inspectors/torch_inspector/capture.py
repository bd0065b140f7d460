"""`capture_torch`: a PyTorch model's graph by fx, export or eager recording.

`auto` tries fx, export and eager in that order and keeps the first that works;
each failure is kept in `graph.meta["failures"]` with a one-line reason, because
*why* fx or export could not follow a model is worth showing to the user.

What a stepper gets in `Captured`:

- fx: `native` is the ShapeProp'd `torch.fx.GraphModule`; export: the
  `ExportedProgram`. In both, Graph node ids are fx node names and
  `extra["fx_nodes"]` maps them to the fx nodes for `Interpreter.run_node`.
- eager: `native` is the `EagerRecorder` (run it again to step, with callbacks);
  `extra["recording"]` is the run that made the graph.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from inspectors.capture import STRATEGIES, Captured
from inspectors.graph import Graph
from inspectors.target import ModelTarget, TargetError
from inspectors.torch_inspector.eager import EagerRecorder
from inspectors.torch_inspector.export_capture import capture_export
from inspectors.torch_inspector.failures import error_text, explain
from inspectors.torch_inspector.fx_capture import capture_fx


def capture_torch(
    target: ModelTarget,
    strategy: str = "auto",
    checkpoint: Callable[[str], None] | None = None,
) -> Captured:
    """Capture `target` with `strategy` (`auto`, `fx`, `export` or `eager`).

    A forced strategy that fails raises TargetError with the reason and torch's
    own message; `auto` raises only when every strategy failed. `checkpoint(name)`
    runs before each strategy is tried; what it raises stops the capture there.
    """
    order = STRATEGIES["torch"] if strategy == "auto" else (strategy,)
    if not set(order) <= set(STRATEGIES["torch"]):
        raise TargetError(
            f"Capture strategy {strategy!r} does not apply to a PyTorch model; "
            f"use one of: auto, {', '.join(STRATEGIES['torch'])}."
        )
    failures: list[dict[str, str]] = []
    for name in order:
        if checkpoint is not None:
            checkpoint(name)
        graph = Graph(target.name, "torch", model=target.spec)
        try:
            captured = _CAPTURES[name](target, graph)
        except Exception as exc:
            failures.append(
                {"strategy": name, "reason": explain(name, exc), "error": error_text(exc)}
            )
            continue
        graph.meta.update(capture=name, framework="torch", failures=failures, node_count=len(graph))
        return captured
    if strategy != "auto":
        fail = failures[0]
        raise TargetError(f"{strategy} capture failed: {fail['reason']}. {fail['error']}")
    reasons = "; ".join(f"{f['strategy']}: {f['reason']}" for f in failures)
    raise TargetError(f"No capture strategy worked for {target.spec}. {reasons}")


def _module_of(target: ModelTarget) -> torch.nn.Module:
    if not isinstance(target.model, torch.nn.Module):
        raise TypeError(f"{type(target.model).__name__} is not an nn.Module")
    return target.model


def _fx(target: ModelTarget, graph: Graph) -> Captured:
    module, nodes, timing = capture_fx(_module_of(target), target.example_inputs, graph)
    graph.meta["timing"] = timing
    return Captured(graph, module, "fx", target, {"fx_nodes": nodes, "timing": timing})


def _export(target: ModelTarget, graph: Graph) -> Captured:
    program = target.native if _is_exported_program(target.native) else None
    model = target.model if program is not None else _module_of(target)
    program, nodes, timing = capture_export(model, target.example_inputs, graph, program)
    graph.meta["timing"] = timing
    return Captured(graph, program, "export", target, {"fx_nodes": nodes, "timing": timing})


def _eager(target: ModelTarget, graph: Graph) -> Captured:
    recorder = EagerRecorder(target.model, name=target.name)
    t0 = time.perf_counter()
    recording = recorder.record(*target.example_inputs, graph=graph)
    timing = {"record": time.perf_counter() - t0}
    graph.meta["timing"] = timing
    return Captured(graph, recorder, "eager", target, {"recording": recording, "timing": timing})


def _is_exported_program(value: Any) -> bool:
    return isinstance(value, torch.export.ExportedProgram)


_CAPTURES = {"fx": _fx, "export": _export, "eager": _eager}
