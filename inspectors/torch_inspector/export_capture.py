"""Capture with torch.export: the aten-level graph torch itself compiles and saves (.pt2).

Export traces with fake tensors (shapes, no values), so every layer opens into its
aten ops (`aten.linear`, `aten.conv2d`, ...), parameters arrive as graph inputs
(named in the graph signature) and `nn_module_stack` says which module each op
ran in. Non-strict mode runs `forward` as ordinary Python, which accepts more models
than dynamo's strict mode.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import time
from typing import Any

import torch
import torch.fx
from torch.export import ExportedProgram
from torch.export.graph_signature import InputKind

from inspectors.graph import Graph
from inspectors.torch_inspector.fx_graph import NodeInfo, fx_nodes, to_graph
from inspectors.torch_inspector.names import CallScopes, WorkLabels, op_name, scope_of
from inspectors.torch_inspector.source import source_from_stack_trace
from inspectors.torch_inspector.values import specs_of


def export(model: torch.nn.Module, inputs: tuple[Any, ...]) -> ExportedProgram:
    """torch.export.export in non-strict mode.

    Strict mode (dynamo) rejects the same data-dependent branches and takes seconds
    longer to say so, so it is not tried as a fallback. When export fails it prints
    its partial graph and warnings to stderr: that text goes into the exception's
    notes instead (the failure's reason already says what went wrong).
    """
    with _QuietExport() as quiet:
        try:
            return torch.export.export(model, inputs, strict=False)
        except Exception as exc:
            if quiet.text():
                exc.add_note("torch.export printed:\n" + quiet.text())
            raise


class _QuietExport:
    """Collects what torch.export writes to stderr and logs through torch's handlers."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._redirect = contextlib.redirect_stderr(self._buffer)
        names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] == "torch"]
        handlers = {id(h): h for n in names for h in logging.getLogger(n).handlers}
        self._handlers = list(handlers.values())
        self._records: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self._records.append(f"{record.levelname} {record.name}: {record.getMessage()}")
        return False

    def text(self) -> str:
        return "\n".join([*self._records, self._buffer.getvalue().strip()]).strip()

    def __enter__(self) -> _QuietExport:
        self._redirect.__enter__()
        for handler in self._handlers:
            handler.addFilter(self)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        for handler in self._handlers:
            handler.removeFilter(self)
        self._redirect.__exit__(*exc_info)
        printed = self._buffer.getvalue().strip()
        if exc_info[0] is None and printed:  # a success: what was printed still shows
            print(printed, file=sys.stderr)


def capture_export(
    model: torch.nn.Module,
    inputs: tuple[Any, ...],
    graph: Graph,
    program: ExportedProgram | None = None,
) -> tuple[ExportedProgram, dict[str, torch.fx.Node], dict[str, float]]:
    """Fill `graph` from an ExportedProgram (made here unless a .pt2 gave one).

    Returns the program, Graph node id -> fx node of `program.graph`, and timing.
    """
    t0 = time.perf_counter()
    if program is None:
        program = export(model, inputs)
    t1 = time.perf_counter()
    to_graph(program.graph, _Describer(program), graph)
    t2 = time.perf_counter()
    return program, fx_nodes(program.graph), {"trace": t1 - t0, "convert": t2 - t1}


class _Describer:
    """NodeInfo for export nodes; placeholders are classified by the graph signature.

    Scopes are module calls (`CallScopes`: each key of `nn_module_stack` is one call),
    and an op a module runs itself is titled with the module's path (`WorkLabels`);
    the op stays in `op`.
    """

    _INPUT_KIND = {
        InputKind.PARAMETER: "param",
        InputKind.BUFFER: "const",
        InputKind.CONSTANT_TENSOR: "const",
        InputKind.USER_INPUT: "input",
    }

    def __init__(self, program: ExportedProgram) -> None:
        self.inputs = {spec.arg.name: spec for spec in program.graph_signature.input_specs}
        self.calls = CallScopes()
        self.labels = WorkLabels(self.calls)
        #: nodes that depend on a user input (what `WorkLabels` calls working on the data)
        self.fed: set[str] = set()

    def __call__(self, node: torch.fx.Node) -> NodeInfo:
        outputs = specs_of(node.meta.get("val"))
        source = source_from_stack_trace(node.meta.get("stack_trace"))
        if node.op == "placeholder":
            spec = self.inputs.get(node.name)
            kind = self._INPUT_KIND.get(spec.kind, "const") if spec is not None else "input"
            fqn = spec.target if spec is not None and spec.target else node.name
            scope = scope_of(fqn.rpartition(".")[0]) if kind != "input" else ()
            extra = {"target": fqn} if kind != "input" else {}
            if kind == "input":
                self.fed.add(node.name)
            return NodeInfo(kind, kind, fqn, scope, outputs, source, extra)
        if node.op == "get_attr":  # lifted constants and submodules of control flow
            return NodeInfo("const", "const", str(node.target), (), outputs, source)
        if node.op == "call_function":
            scope = self.calls.of_stack(node.meta.get("nn_module_stack"))
            op = op_name(node.target)
            fed = any(arg.name in self.fed for arg in node.all_input_nodes)
            if fed:
                self.fed.add(node.name)
            label = self.labels.label(scope, op, fed) or node.name
            return NodeInfo("op", op, label, scope, outputs, source)
        return NodeInfo("output", "output", "output", (), [], source)
