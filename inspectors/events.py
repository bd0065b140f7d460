"""Events a Session emits: plain data that can cross a thread or a process.

Each holds only str, int, float, tuples and TensorSummary (numpy inside), never a
framework object, so the GUI and a future remote engine see the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from inspectors.tensors import TensorSummary

# Why the session paused.
READY = "ready"  # loaded, before the first node
STEP = "step"
BREAKPOINT = "breakpoint"
EXCEPTION = "exception"
FINISHED = "finished"
PAUSED_BY_USER = "paused"
GRADIENT = "gradient"  # walking gradients backwards


@dataclass(frozen=True)
class NodeAdded:
    """Eager mode: the graph grew by one node (sent before that node's NodeStepped)."""

    node_id: str
    attrs: dict[str, Any]
    edges: tuple[tuple[str, str, dict[str, Any]], ...] = ()


@dataclass(frozen=True)
class NodeStepped:
    """A node ran; `index` counts executed nodes from 1 in this run."""

    node_id: str
    index: int
    scope: tuple[str, ...]
    summaries: tuple[TensorSummary, ...]
    overridden: bool = False


@dataclass(frozen=True)
class Paused:
    """The engine waits for a command. `node_id` is the last node run (None before any)."""

    reason: str
    node_id: str | None
    position: int
    total: int
    breakpoint_id: int | None = None
    message: str = ""
    memory: int = 0  # bytes of full values kept


@dataclass(frozen=True)
class Failed:
    """A node raised: the session pauses on it (a Paused with reason `exception` follows)."""

    node_id: str | None
    message: str
    traceback: str


@dataclass(frozen=True)
class GradientsReady:
    """Gradients of `loss` for every recorded node output and every parameter."""

    loss: float
    loss_source: str  # "loss() of the model file" or "sum of the first output"
    nodes: dict[str, tuple[TensorSummary | None, ...]]
    params: dict[str, TensorSummary]
    absent: dict[str, str] = field(default_factory=dict)  # node id -> why no gradient


@dataclass(frozen=True)
class Restarted:
    """A new run begins (new inputs when `new_inputs`); views reset their node states."""

    new_inputs: bool
    input_summaries: tuple[TensorSummary, ...] = ()


@dataclass(frozen=True)
class Message:
    """Something worth a line in the Log."""

    level: str  # "info", "warning", "error"
    text: str


@dataclass(frozen=True)
class ValueReady:
    """A full value asked for with `fetch_value` (recomputed when it had been dropped)."""

    node_id: str
    index: int
    array: Any  # numpy array, or None when it could not be had
    message: str = ""


@dataclass(frozen=True)
class InputsReady:
    """The inputs of the current run, asked for with `FetchInputs` (numpy arrays and
    their summaries; `message` says why there are none)."""

    arrays: tuple[Any, ...]
    summaries: tuple[TensorSummary, ...]
    message: str = ""


@dataclass(frozen=True)
class Stopped:
    """The engine thread has ended; the session accepts no more commands."""


Event = (
    NodeAdded
    | NodeStepped
    | Paused
    | Failed
    | GradientsReady
    | Restarted
    | Message
    | ValueReady
    | InputsReady
    | Stopped
)
