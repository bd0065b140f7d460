"""Commands an engine takes: plain data, the other half of `events`.

`EngineClient.send(command)` is the one entry (`inspectors.engine`); the engine hands
the run commands to its `Session` (`Session.send`). A query (a value, the inputs) is
answered by an event (`ValueReady`, `InputsReady`). Like the events, commands hold
only str, int, float, bool, tuples, dicts of those and numpy arrays, so
`inspectors.wire` can carry them to an engine in another process.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Step:
    """Step into: run exactly one node (into loop bodies, branches, calls) and pause."""


@dataclass(frozen=True)
class StepOver:
    """Run the next node of the current level; a call met there runs whole."""


@dataclass(frozen=True)
class StepOut:
    """Finish the enclosing call: pause on its last node."""


@dataclass(frozen=True)
class Continue:
    """Run until a breakpoint, an exception or the end."""


@dataclass(frozen=True)
class RunTo:
    """Run until `node_id` has run (or a breakpoint / exception first)."""

    node_id: str


@dataclass(frozen=True)
class StepBack:
    """Back one node in time: pause after the node before the last one run (before the
    first node from the first). A live engine runs the model again to there, with the
    same inputs and overrides, pausing nowhere else; a recording rewinds."""


@dataclass(frozen=True)
class Pause:
    """Pause a running continue once the current node has finished."""


@dataclass(frozen=True)
class Restart:
    """Start over with no overrides; on new inputs (numpy, same shapes) when given."""

    inputs: tuple[np.ndarray, ...] | None = None


@dataclass(frozen=True)
class Stop:
    """End the run and the engine."""


@dataclass(frozen=True)
class SetValue:
    """Override output `index` of `node_id`; what runs after it uses the new value."""

    node_id: str
    array: np.ndarray
    index: int = 0


@dataclass(frozen=True)
class ClearValue:
    """Remove an override (takes effect on the next run)."""

    node_id: str


@dataclass(frozen=True)
class SetStepPlumbing:
    """Whether stepping pauses on plumbing (Identity, ReadVariableOp, ...) too."""

    show: bool


@dataclass(frozen=True)
class SetBudget:
    """Bytes of full values the session keeps (from the next value on)."""

    nbytes: int


@dataclass(frozen=True)
class Backward:
    """Gradients of the loss for every recorded output and parameter (after a run)."""


@dataclass(frozen=True)
class GradStep:
    """Walk gradients backwards: pause on the previous node that has one."""


@dataclass(frozen=True)
class FetchInputs:
    """Ask for the current run's inputs: an `InputsReady` answers."""


@dataclass(frozen=True)
class FetchValue:
    """Ask for a full value (`gradient`: its gradient): a `ValueReady` answers. A value
    dropped to stay within the budget is recomputed when `recompute`, else the answer
    says it was dropped."""

    node_id: str
    index: int = 0
    gradient: bool = False
    recompute: bool = True


@dataclass(frozen=True)
class SetBreakpoints:
    """Replace the breakpoints with `items` (`Breakpoints.to_list` data, ids kept); a
    `BreakpointsChanged` answers with the engine's list (hits included)."""

    items: tuple[dict, ...]


# ---------------------------------------------------------------- the loaded model


@dataclass(frozen=True)
class Load:
    """Load `spec` and capture it with `strategy`, then start a session on it.

    Events: `LoadStage` as it goes, then `Loaded` (and `SessionStarted`) or
    `LoadFailed`; `job` (the client's number) tags them. A load under way is dropped.
    """

    spec: str
    strategy: str = "auto"
    job: int = 0


@dataclass(frozen=True)
class Recapture:
    """Capture the loaded model again with another strategy (no reload)."""

    strategy: str
    job: int = 0


@dataclass(frozen=True)
class CancelLoad:
    """Give up the load under way: it stops at its next checkpoint (`LoadStopped`)."""


@dataclass(frozen=True)
class Retrace:
    """TensorFlow: call the model's function with inputs of batch size `batch`."""

    batch: int
    job: int = 0


@dataclass(frozen=True)
class SwitchTrace:
    """TensorFlow: show the model's concrete function number `index`."""

    index: int
    job: int = 0


# ------------------------------------------------------------------------ training


@dataclass(frozen=True)
class TrainLoad:
    """Train a model file: the loaded model's (`spec` "") or `spec`'s. `fresh` builds a
    new model, leaving the loaded one (the debugger's) untouched."""

    spec: str = ""
    fresh: bool = True


@dataclass(frozen=True)
class TrainStep:
    """Run `n` training iterations (until `TrainStop`); `Iterated` after each."""

    n: int = 1


@dataclass(frozen=True)
class TrainStop:
    """Stop training between two iterations."""


@dataclass(frozen=True)
class TrainReset:
    """A fresh model from build(), with update rule `rule` when given."""

    rule: str | None = None


@dataclass(frozen=True)
class TrainForward:
    """Capture the next iteration's forward at the current parameters and load it."""


@dataclass(frozen=True)
class EndEngine:
    """End an engine that does not answer (its process is killed; an `EngineDied`
    follows). An engine in this process cannot be ended: a `Message` says so."""


@dataclass(frozen=True)
class Shutdown:
    """End the engine: its session, its training and its loads."""


Command = (
    Step
    | StepOver
    | StepOut
    | Continue
    | RunTo
    | StepBack
    | Pause
    | Restart
    | Stop
    | SetValue
    | ClearValue
    | SetStepPlumbing
    | SetBudget
    | Backward
    | GradStep
    | FetchInputs
    | FetchValue
    | SetBreakpoints
    | Load
    | Recapture
    | CancelLoad
    | Retrace
    | SwitchTrace
    | TrainLoad
    | TrainStep
    | TrainStop
    | TrainReset
    | TrainForward
    | EndEngine
    | Shutdown
)

#: The commands that run the model (and end in a pause).
RUN_COMMANDS = (Step, StepOver, StepOut, Continue, RunTo, StepBack)

ALL = (
    Step,
    StepOver,
    StepOut,
    Continue,
    RunTo,
    StepBack,
    Pause,
    Restart,
    Stop,
    SetValue,
    ClearValue,
    SetStepPlumbing,
    SetBudget,
    Backward,
    GradStep,
    FetchInputs,
    FetchValue,
    SetBreakpoints,
    Load,
    Recapture,
    CancelLoad,
    Retrace,
    SwitchTrace,
    TrainLoad,
    TrainStep,
    TrainStop,
    TrainReset,
    TrainForward,
    EndEngine,
    Shutdown,
)

#: The commands the engine's Session takes; the others are the engine's own.
SESSION_COMMANDS = ALL[: ALL.index(SetBreakpoints) + 1]
