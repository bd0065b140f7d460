"""The contract between the Session and a framework's Stepper.

A Stepper runs a captured graph one node at a time and calls a `StepHook` after each
node with that node's outputs as numpy (the Session never sees a framework tensor).
The hook may return replacement values: that is how `set_value` reaches the model.
Pausing is the hook blocking; stopping or restarting is the hook raising `Interrupt`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from inspectors.graph import _FRAME, Graph


class Interrupt(BaseException):  # noqa: N818 - BaseException: user code must not swallow it
    """Raised out of a hook to unwind a run (restart, stop, rerun)."""


class NodeError(Exception):
    """A node raised while it executed: names the node, keeps the framework's exception."""

    def __init__(self, node_id: str, exc: BaseException) -> None:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        super().__init__(f"{node_id}: {type(exc).__name__}: {first}")
        self.node_id = node_id
        self.original = exc


class StepHook(Protocol):
    """What a stepper calls while it runs (implemented by the Session)."""

    def node_added(self, node_id: str) -> None:
        """Eager mode: `node_id` was just added to `stepper.graph` (before it runs)."""

    def node_done(
        self, node_id: str, scope: tuple[str, ...], values: tuple[Any, ...]
    ) -> dict[int, np.ndarray] | None:
        """`node_id` ran; `values` are its outputs: numpy arrays, tensors of a framework
        registered in `inspectors.tensors` (kept where they live; the hook turns them
        into numpy only when something asks), or plain Python objects for non-tensor
        outputs. Return {output index: replacement array} to override."""

    def enter_subgraph(self, node_id: str) -> bool:
        """Whether to step into the body of a control-flow / call node, op by op."""

    def scope_left(self, scope: tuple[str, ...]) -> None:
        """PyTorch: a module call returned, and execution is back in `scope` (called
        between nodes, so step over and step out can pause when a call ends)."""

    # Optional method `running_as_one_call()`: a stepper calls it just before it runs
    # the whole graph as one call (TensorFlow's `whole.py`), whose nodes it reports
    # after: a crash inside that call is no node's.


@dataclass
class GradientResult:
    """Gradients of one scalar loss, as numpy."""

    loss: float
    loss_source: str
    nodes: dict[str, tuple[np.ndarray | None, ...]]
    params: dict[str, np.ndarray]
    absent: dict[str, str] = field(default_factory=dict)  # node id -> why no gradient


class Stepper(Protocol):
    """One framework's node-by-node executor over a captured graph."""

    graph: Graph
    # Optional attribute `immutable_values` (default False): True when the values handed
    # to the hook can never change afterwards (read-only views of immutable framework
    # tensors; the tensors of a graph without in-place ops), so the Session keeps them
    # without a copy. Optional method `prepare()`: work the first run would otherwise
    # wait for (TensorFlow's optimised whole-graph call), which the Session does on its
    # thread after `ready`, before the first command.

    def run(self, hook: StepHook, inputs: tuple[np.ndarray, ...] | None = None) -> Any:
        """Run every node in order, calling `hook`; returns the model's outputs (numpy).

        `inputs` replaces the example inputs (same shapes); None keeps the current ones.
        A node that raises becomes a `NodeError`; `Interrupt` from the hook propagates.
        """

    def inputs(self) -> tuple[np.ndarray, ...]:
        """The inputs of the current run, as numpy."""

    def backward(self) -> GradientResult:
        """Gradients of the loss for the last completed run."""


class QuietHook:
    """A hook that never pauses or overrides (a base for hooks that only watch)."""

    def node_added(self, node_id: str) -> None:
        pass

    def node_done(self, node_id: str, scope: tuple[str, ...], values: tuple[Any, ...]) -> Any:
        return None

    def enter_subgraph(self, node_id: str) -> bool:
        return False

    def scope_left(self, scope: tuple[str, ...]) -> None:
        pass


def zero_hook() -> StepHook:
    """A hook that never pauses or overrides: for plain runs and recomputation."""
    return QuietHook()


def make_stepper(captured: Any) -> Stepper:
    """The stepper for a capture (`inspectors.capture.Captured`), by framework."""
    framework = captured.target.framework
    if framework == "torch":
        from inspectors.torch_inspector.stepper import make_torch_stepper

        return make_torch_stepper(captured)
    from inspectors.tf_inspector.stepper import make_tf_stepper

    return make_tf_stepper(captured)


#: How a node inside a control-flow body or a call is named while it runs:
#: `<node>/body[<i>]/<inner>`, `<node>/cond[<i>]/<inner>`, `<node>/then/<inner>`,
#: `<node>/else/<inner>`, `<node>/branch[<k>]/<inner>`, `<node>/call/<inner>`.


def frame_tags(node_id: str) -> list[str]:
    """The body tags along a node's path: `while/body[2]/if/then/add` -> [`body[2]`, `then`]."""
    return _FRAME.findall(node_id)


def innermost_id(node_id: str) -> str:
    """The node's id in the graph that holds it: `while/body[2]/while/cell/Tanh` ->
    `while/cell/Tanh` (what a breakpoint set on the opened body names)."""
    matches = list(_FRAME.finditer(node_id))
    return node_id[matches[-1].end() :] if matches else node_id


def names_node(target: str, node_id: str) -> bool:
    """Whether `target` (a top-level id, or an id in a body's own graph) is `node_id`."""
    return target == node_id or ("/" in node_id and innermost_id(node_id) == target)
