"""Commands a Session takes: plain data, the other half of `events`.

`Session.send(command)` is the one entry; a query (a value) is answered by an event
(`ValueReady`). Like the events, commands hold only str, int, bool, tuples and numpy
arrays, so `inspectors.wire` can carry them to an engine in another process.
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
    """Ask for a full value: a `ValueReady` answers (recomputed when it was dropped)."""

    node_id: str
    index: int = 0


Command = (
    Step
    | StepOver
    | StepOut
    | Continue
    | RunTo
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
)

#: The commands that run the model (and end in a pause).
RUN_COMMANDS = (Step, StepOver, StepOut, Continue, RunTo)

ALL = (
    Step,
    StepOver,
    StepOut,
    Continue,
    RunTo,
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
)
