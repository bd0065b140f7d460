"""Step a PyTorch model eagerly: the model really runs, and each torch call is a checkpoint.

The `EagerRecorder`'s TorchFunctionMode calls back after every op; this stepper turns
that into the hook's `node_added` (the graph grows) and `node_done` (the op ran).
Blocking in `node_done` pauses the model in the middle of its `forward`, on the
engine thread that called `run`. Inputs and parameters are reported when the graph
first meets them, so every node of the live graph is stepped, as with fx. Values go
to the hook as the op's own tensors, as with fx: the Session summarises them where
they live and copies what it keeps (an eager model may change a tensor in place
later).

Each run records a fresh graph: data-dependent control flow takes whatever path
this input takes, and `graph` is always the graph of the current run.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from inspectors.graph import Graph
from inspectors.stepping import GradientResult, NodeError, StepHook, zero_hook
from inspectors.torch_inspector import summaries as _summaries  # noqa: F401  (registers torch)
from inspectors.torch_inspector.eager import EagerRecorder
from inspectors.torch_inspector.gradients import OutputRecord, compute_gradients, scalar_loss
from inspectors.torch_inspector.numpy_io import (
    leaves_to_numpy,
    numpy_to_inputs,
    replaced,
    to_tensor,
    traced_inputs,
)
from inspectors.torch_inspector.values import flatten, rebuild

_LEAF_KINDS = frozenset({"input", "param", "const"})


class EagerStepper:
    """The Stepper for eager captures (`inspectors.stepping.Stepper`)."""

    def __init__(self, captured: Any) -> None:
        self.target = captured.target
        model = self.target.model
        name = getattr(captured.native, "name", "") or self.target.name
        self._recorder = EagerRecorder(
            model, on_node=self._on_node, on_node_added=self._on_node_added, name=name
        )
        self._recorder.on_scope_left = self._on_scope_left
        self._params = dict(model.named_parameters()) if isinstance(model, torch.nn.Module) else {}
        self._inputs: tuple[Any, ...] = tuple(self.target.example_inputs)
        self._hook: StepHook = zero_hook()
        self._record = OutputRecord()
        self._run_inputs: tuple[Any, ...] = ()
        self._output: Any = None
        self._finished = False
        self._last: str | None = None

    @property
    def graph(self) -> Graph:
        """The graph of the current run, growing as the model runs."""
        return self._recorder.graph

    @graph.setter
    def graph(self, graph: Graph) -> None:
        self._recorder.graph = graph

    # ------------------------------------------------------------------ Stepper

    def inputs(self) -> tuple[np.ndarray, ...]:
        return leaves_to_numpy(self._inputs)

    def run(self, hook: StepHook, inputs: tuple[np.ndarray, ...] | None = None) -> Any:
        if inputs is not None:
            self._inputs = numpy_to_inputs(tuple(inputs), self._inputs)
        self._hook = hook
        self._finished = False
        self._output = None
        self._last = None
        self._record.clear()
        run_inputs = traced_inputs(self._inputs)
        self._run_inputs = run_inputs
        recorder = self._recorder
        try:
            with torch.enable_grad():
                recording = recorder.record(*run_inputs)
        except Exception as exc:
            failed = recorder.add_failed_op(exc)
            if failed is None:
                # Raised by the model's own Python, not by a torch op: no node failed, so
                # say where in the run it happened rather than blame the last good op.
                failed = f"model code after {self._last}" if self._last else "model code"
            raise NodeError(failed, exc) from exc
        output = recording.output
        leaves = tuple(flatten(output))
        replacement = hook.node_done("output", (), leaves)
        if replacement:
            leaves = replaced(leaves, replacement)
            output = rebuild(output, iter(leaves))
        self._record.keep("output", leaves)
        self._output = output
        self._finished = True
        return leaves_to_numpy(leaves)

    def backward(self) -> GradientResult:
        if not self._finished:
            raise RuntimeError("gradients need a finished run")
        loss, source = scalar_loss(self._output, self._run_inputs, self.target.loss)
        return compute_gradients(loss, source, self._record, self._params)

    # --------------------------------------------------------- recorder callbacks

    def _on_node_added(self, node_id: str) -> None:
        self._hook.node_added(node_id)
        attrs = self._recorder.graph.nx._node[node_id]
        if attrs["kind"] not in _LEAF_KINDS:
            return
        # Inputs, parameters and constants "run" when the graph first meets them.
        tensor = self._recorder.leaf_value
        assert tensor is not None
        self._last = node_id
        replacement = self._hook.node_done(node_id, attrs["scope"], (tensor,))
        if replacement and attrs["kind"] == "input" and 0 in replacement:
            # The model already holds this tensor: write the new value into it.
            with torch.no_grad():
                tensor.copy_(to_tensor(replacement[0], tensor))
        self._record.keep(node_id, (tensor,))

    def _on_scope_left(self, scope: tuple[str, ...]) -> None:
        self._hook.scope_left(scope)

    def _on_node(self, node_id: str, outputs: tuple[Any, ...]) -> Any:
        self._last = node_id
        scope = self._recorder.current_scope
        # the tensors themselves, as the fx stepper hands them: the Session summarises
        # and keeps them where they live (a GPU's stay there) and copies what it keeps
        replacement = self._hook.node_done(node_id, scope, outputs)
        if replacement:
            outputs = replaced(outputs, replacement)
            self._record.keep(node_id, outputs)
            return outputs
        self._record.keep(node_id, outputs)
        return None
