"""Step into an fx node that stands for a whole module (an fx leaf such as
`nn.TransformerEncoder` or `nn.MultiheadAttention`).

torch.fx keeps every `torch.nn` module as one `call_module` node, and it cannot trace
through most containers (their `forward` branches on tensors). When the user steps
into such a node, the module runs eagerly under an `EagerRecorder` on the inputs the
node received, and each op it runs is reported as `<node>/call/<op id>`, as a
TensorFlow call's body is. The body's graph is recorded once, on the first entry
(a quiet run under `no_grad`), and hung on the node as its `subgraph`, so the view can
open it and step over / out can read its plumbing and levels; the module node itself
is reported after its body, one level up.

Values flow on from the stepped run itself (overrides included), under autograd, so
gradients reach every inner output and the module's parameters as in a plain forward.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils import _pytree as pytree

from inspectors.graph import Graph
from inspectors.stepping import StepHook
from inspectors.torch_inspector.eager import EagerRecorder
from inspectors.torch_inspector.numpy_io import leaves_to_numpy, replaced, to_numpy

_LEAF_KINDS = frozenset({"input", "param", "const"})

Keep = Callable[[str, tuple[Any, ...]], None]


def opaque_module(module: Any) -> bool:
    """Whether an fx leaf module hides work worth stepping into (it has submodules)."""
    return isinstance(module, torch.nn.Module) and next(module.children(), None) is not None


def body_name(node_id: str) -> str:
    return f"{node_id}.body"


class _Prefixed:
    """The outer hook, seen from inside a module body: ids and scopes prefixed."""

    def __init__(self, hook: StepHook, prefix: str, scope: tuple[str, ...]) -> None:
        self.hook, self.prefix, self.scope = hook, prefix, scope

    def node_added(self, node_id: str) -> None:
        pass

    def node_done(self, node_id: str, scope: tuple[str, ...], values: tuple[Any, ...]) -> Any:
        return self.hook.node_done(self.prefix + node_id, self.scope + scope, values)

    def enter_subgraph(self, node_id: str) -> bool:
        return self.hook.enter_subgraph(self.prefix + node_id)

    def scope_left(self, scope: tuple[str, ...]) -> None:
        self.hook.scope_left(self.scope + scope)


class ModuleBody:
    """One fx module node's module, ready to be stepped into: exported (aten ops, down
    to the matmuls of an attention) where torch.export follows it on these inputs,
    else recorded eagerly (torch calls)."""

    def __init__(
        self, graph: Graph, node_id: str, module: torch.nn.Module, args: tuple[Any, ...]
    ) -> None:
        from inspectors.capture import capture
        from inspectors.target import ModelTarget
        from inspectors.torch_inspector.fx_stepper import FxStepper

        self.node_id, self.module = node_id, module
        label = str(graph.node(node_id).get("label") or node_id)
        example = tuple(a.detach() if isinstance(a, torch.Tensor) else a for a in args)
        spec = f"{graph.meta.get('model', '')}:{node_id}"
        target = ModelTarget(label, spec, "torch", module, example)
        self.stepper: Any = None
        try:
            captured = capture(target, "export")
            self.stepper = FxStepper(captured)
            body = captured.graph
            self.how = "export"
        except Exception as exc:  # noqa: BLE001 - torch.export could not follow it: record the calls
            self.export_error = f"{type(exc).__name__}: {exc}"  # kept for a look in a debugger
            with torch.no_grad():
                body = EagerRecorder(module, name=label).record(*example).graph
            self.how = "eager"
        name = body_name(node_id)
        graph.subgraphs[name] = body  # before the node names it: a reader never misses it
        attrs = graph.node(node_id)
        attrs["subgraphs"] = {"f": name}
        attrs["subgraph"] = name

    def run(
        self, hook: StepHook, scope: tuple[str, ...], args: tuple[Any, ...], record: Any
    ) -> Any:
        """Run the module on `args` (the tensors the node received, gradients flowing),
        each of its nodes reported to `hook` as `<node>/call/<inner>`."""
        from inspectors.torch_inspector.fx_stepper import _USER_INPUT

        prefix = f"{self.node_id}/call/"
        if self.stepper is None:
            return run_body(hook, self.node_id, scope, self.module, args, record.keep)
        stepper = self.stepper
        user = iter(pytree.tree_leaves(args))
        lifted = tuple(next(user) if v is _USER_INPUT else v for v in stepper._lifted)
        stepper._record.clear()
        result = stepper._step_all(_Prefixed(hook, prefix, scope), lifted)
        for inner, values in stepper._record.values.items():
            record.values[prefix + inner] = values
            record.versions[prefix + inner] = stepper._record.versions[inner]
        return stepper._model_output(result)


def run_body(
    hook: StepHook,
    node_id: str,
    scope: tuple[str, ...],
    module: torch.nn.Module,
    args: tuple[Any, ...],
    keep: Keep,
) -> Any:
    """Run `module` on `args`, reporting each op of it to `hook`; returns its output."""
    prefix = f"{node_id}/call/"
    recorder = EagerRecorder(module, name=node_id)

    def on_added(inner: str) -> None:
        attrs = recorder.graph.nx.nodes[inner]
        if attrs["kind"] not in _LEAF_KINDS:
            return
        tensor = recorder.leaf_value
        assert tensor is not None
        # an input's new value is set on the node that produced it, outside the body
        hook.node_done(prefix + inner, scope + tuple(attrs["scope"]), (to_numpy(tensor),))
        keep(prefix + inner, (tensor,))

    def on_node(inner: str, outputs: tuple[Any, ...]) -> Any:
        node = prefix + inner
        replacement = hook.node_done(node, scope + recorder.current_scope, leaves_to_numpy(outputs))
        if replacement:
            outputs = replaced(outputs, replacement)
            keep(node, outputs)
            return outputs
        keep(node, outputs)
        return None

    recorder.on_node = on_node
    recorder.on_node_added = on_added
    recorder.on_scope_left = lambda inner: hook.scope_left(scope + inner)
    return recorder.record(*args).output
