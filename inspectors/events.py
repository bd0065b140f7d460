"""Events an engine emits: plain data that can cross a thread or a process.

Each holds only str, int, float, tuples, dicts, numpy arrays, TensorSummary and the
neutral `Graph`, never a framework object, so the GUI and a remote engine see the
same thing. The Session's events come first; the engine's own (loading, training)
after them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from inspectors.graph import Graph
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
    process_memory: int = 0  # the engine process's resident memory, in bytes
    outputs: tuple[TensorSummary, ...] = ()  # the model's outputs, when the run finished


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
    """A full value (`gradient`: its gradient) asked for with `FetchValue`; `dropped`
    when it was dropped to stay within the budget and not recomputed."""

    node_id: str
    index: int
    array: Any  # numpy array, or None when it could not be had
    message: str = ""
    gradient: bool = False
    dropped: bool = False


@dataclass(frozen=True)
class InputsReady:
    """The inputs of the current run, asked for with `FetchInputs` (numpy arrays and
    their summaries; `message` says why there are none)."""

    arrays: tuple[Any, ...]
    summaries: tuple[TensorSummary, ...]
    message: str = ""


@dataclass(frozen=True)
class BreakpointsChanged:
    """The session's breakpoints (`Breakpoints.to_list` data with `id` and `hits`):
    after `SetBreakpoints`, a hit, or a breakpoint the engine disabled."""

    items: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Stopped:
    """The session's engine thread has ended; it accepts no more commands."""


# ----------------------------------------------------------- the engine's own events


@dataclass(frozen=True)
class LoadStage:
    """A load, recapture or retrace advances (`text` says to what)."""

    job: int
    text: str


@dataclass(frozen=True)
class Loaded:
    """A model was captured: the neutral graph and plain facts about it.

    `origin` is what made it: `load`, `recapture`, `retrace` (`detail` the batch),
    `switch` (`detail` the concrete function's index) or `training` (`detail` the
    iteration whose forward it is). `trainable`: the model file has a training loop.
    """

    job: int
    spec: str
    name: str
    framework: str
    capture: str
    graph: Graph
    description: str = ""
    source_path: str | None = None
    seconds: float = 0.0
    failures: tuple[dict[str, str], ...] = ()
    notes: tuple[str, ...] = ()
    origin: str = "load"
    detail: int = 0
    trainable: bool = False


@dataclass(frozen=True)
class LoadFailed:
    """A load (or recapture, retrace: `origin`) failed; `message` names the cause."""

    job: int
    message: str
    details: str = ""
    origin: str = "load"


@dataclass(frozen=True)
class LoadCancelled:
    """The answer to `CancelLoad`: `still_running` says what finishes in the
    background ("" when the job stopped at once)."""

    job: int
    still_running: str = ""


@dataclass(frozen=True)
class LoadStopped:
    """The thread of a cancelled or replaced load has ended (`where` it stopped)."""

    spec: str
    where: str


@dataclass(frozen=True)
class SessionStarted:
    """A session runs on the model just loaded: it pauses `ready` next."""

    spec: str
    total: int
    eager: bool = False


@dataclass(frozen=True)
class SessionUnavailable:
    """The loaded model cannot be stepped (its graph can still be explored)."""

    message: str
    details: str = ""


@dataclass(frozen=True)
class TrainingReady:
    """A model file's training loop is ready (after `TrainLoad` or `TrainReset`):
    `info` has `name`, `framework`, `rules`, `rule`, `references`, `learning_rate`."""

    info: dict[str, Any]


@dataclass(frozen=True)
class TrainingUnavailable:
    """The model cannot be trained here (`text` says how a model file can be)."""

    text: str


@dataclass(frozen=True)
class Iterated:
    """One training iteration ran (`number` counts from 1), with its metrics."""

    number: int
    metrics: dict[str, float]


@dataclass(frozen=True)
class TrainingFinished:
    """A `TrainStep` ended after `done` iterations (-1 when it failed)."""

    done: int


@dataclass(frozen=True)
class EngineDied:
    """The engine's process ended without being asked (`how`: a signal, an exit
    status, or "ended by you"); `last_node` is the node it last reported."""

    code: int
    how: str
    last_node: str | None = None
    # it ended while breakpoint expressions were evaluated after `last_node` (one of
    # them did not finish: a client disables them, so a restart does not hang again)
    in_breakpoint: bool = False
    # it ended inside a run of the whole graph as one call (TensorFlow), before any of
    # that run's nodes was reported: the engines started after it run op by op
    in_one_call: bool = False


@dataclass(frozen=True)
class TrainingFailed:
    """Training raised: `message` names the cause."""

    message: str
    details: str = ""


@dataclass(frozen=True)
class Receiving:
    """A large event (a full value, inputs) is arriving from an engine elsewhere, in
    chunks: `received` of `total` bytes so far. The client's own event: an engine never
    sends it, and the event itself follows once whole."""

    what: str  # the arriving event's type, such as "ValueReady"
    received: int
    total: int


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
    | BreakpointsChanged
    | Stopped
    | LoadStage
    | Loaded
    | LoadFailed
    | LoadCancelled
    | LoadStopped
    | SessionStarted
    | SessionUnavailable
    | TrainingReady
    | TrainingUnavailable
    | Iterated
    | TrainingFinished
    | TrainingFailed
    | EngineDied
    | Receiving
)

ALL = (
    NodeAdded,
    NodeStepped,
    Paused,
    Failed,
    GradientsReady,
    Restarted,
    Message,
    ValueReady,
    InputsReady,
    BreakpointsChanged,
    Stopped,
    LoadStage,
    Loaded,
    LoadFailed,
    LoadCancelled,
    LoadStopped,
    SessionStarted,
    SessionUnavailable,
    TrainingReady,
    TrainingUnavailable,
    Iterated,
    TrainingFinished,
    TrainingFailed,
    EngineDied,
    Receiving,
)
