"""Recordings: one run of a model, kept in a file, replayed with no model and no framework.

A recording is a zip file (`.gsrec`) holding:

    recording.json   {"format": "graphstep-recording", "version": 1,
                      "events": [...], "values": {...}}   in the `inspectors.wire` schema
    arrays/<i>.npy   the arrays the JSON names as {"array": i, "dtype": ..., "shape": ...}

`events` are the engine's events of the run as it happened: the model `Loaded` (its
graph), `SessionStarted`, each `NodeAdded` (eager) and `NodeStepped` with its output
summaries, a `Failed` where a node raised, the last `Paused` (the end, with the
model's outputs), and `GradientsReady` when gradients were computed. `values` maps a
node id to its full output values, those the run kept within its value budget. Any
reader can open one with `zipfile`, `json` and `numpy.load(allow_pickle=False)`;
nothing in it is ever unpickled or evaluated.

`ReplayEngine` is an `EngineClient` over a recording: the same commands, the same
events as a live engine, its breakpoints applied to the recorded summaries and values,
so `graphstep run FILE` prints what the live run printed.
"""

from __future__ import annotations

import json
import threading
import traceback
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from inspectors import commands as cmds
from inspectors import events as ev
from inspectors import wire
from inspectors.breakpoints import BreakpointError, Breakpoints
from inspectors.engine import tell
from inspectors.target import TargetError

FORMAT = "graphstep-recording"
VERSION = 1
SUFFIX = ".gsrec"

Listener = Any  # Callable[[ev.Event], None]


class RecordingError(TargetError):
    """A file that is not a readable recording: the message says why."""


def is_recording(spec: str) -> bool:
    """Whether `spec` names a recording (by its suffix, or a zip that holds one)."""
    path = Path(spec)
    if path.suffix == SUFFIX:
        return True
    if not path.is_file() or not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return "recording.json" in z.namelist()


# ---------------------------------------------------------------- writing


class Recorder:
    """An engine listener that keeps what a recording needs, as the run goes."""

    KEPT = (
        ev.Loaded,
        ev.SessionStarted,
        ev.NodeAdded,
        ev.NodeStepped,
        ev.Failed,
        ev.GradientsReady,
    )

    def __init__(self) -> None:
        self.events: list[ev.Event] = []
        self.last_pause: ev.Paused | None = None
        self.values: dict[str, tuple[Any, ...]] = {}
        self._lock = threading.Lock()

    def __call__(self, event: ev.Event) -> None:
        with self._lock:
            if isinstance(event, ev.Loaded):
                self.events = [event]  # a recording holds one model's one run
                self.last_pause = None
            elif isinstance(event, ev.Restarted | ev.Stopped):
                self.events = [
                    e for e in self.events if isinstance(e, ev.Loaded | ev.SessionStarted)
                ]
            elif isinstance(event, ev.Paused) and event.reason != ev.GRADIENT:
                self.last_pause = event  # where the run ended (a gradient pause is after it)
            elif isinstance(event, self.KEPT):
                self.events.append(event)
            elif isinstance(event, ev.ValueReady) and _a_value(event):
                kept = list(self.values.get(event.node_id, ()))
                kept += [None] * (event.index + 1 - len(kept))
                kept[event.index] = event.array
                self.values[event.node_id] = tuple(kept)

    def nodes_run(self) -> list[tuple[str, int]]:
        """(node id, number of outputs) of every node the run ran, in order."""
        with self._lock:
            return [
                (e.node_id, len(e.summaries)) for e in self.events if isinstance(e, ev.NodeStepped)
            ]

    def save(self, path: str | Path) -> Path:
        with self._lock:
            events = list(self.events)
            if self.last_pause is not None:
                events.append(self.last_pause)
            values = {k: tuple(v) for k, v in self.values.items()}
        return write(path, events, values)


def _a_value(ready: ev.ValueReady) -> bool:
    """Whether a `ValueReady` holds a node's own output value (kept in a recording)."""
    return ready.array is not None and not ready.gradient and not ready.dropped


def write(path: str | Path, events: list[ev.Event], values: dict[str, tuple[Any, ...]]) -> Path:
    """Write a recording of `events` and the full `values` by node id."""
    message, buffers = wire.encode({"events": events, "values": values})
    arrays = _array_refs(message)
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        document = {"format": FORMAT, "version": VERSION, **message["map"]}
        z.writestr("recording.json", json.dumps(document, allow_nan=False))
        for index, ref in arrays.items():
            array = np.frombuffer(buffers[index], dtype=np.dtype(ref["dtype"]))
            with z.open(f"arrays/{index}.npy", "w", force_zip64=True) as f:
                np.save(f, array.reshape(ref["shape"]), allow_pickle=False)
    tmp.replace(path)
    return path


def _array_refs(message: Any) -> dict[int, dict[str, Any]]:
    """Every {"array": i, ...} in a wire message, by i."""
    found: dict[int, dict[str, Any]] = {}
    stack = [message]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if "array" in item and isinstance(item.get("array"), int):
                found[item["array"]] = item
            else:
                stack.extend(item.values())
    return found


# ---------------------------------------------------------------- reading


class Recording:
    """A recording read back: its events and values, as the engine made them."""

    def __init__(self, events: list[ev.Event], values: dict[str, tuple[Any, ...]]) -> None:
        self.events = events
        self.values = values
        loaded = [e for e in events if isinstance(e, ev.Loaded)]
        if not loaded:
            raise RecordingError("the recording holds no model (no Loaded event)")
        self.loaded: ev.Loaded = loaded[0]
        started = [e for e in events if isinstance(e, ev.SessionStarted)]
        self.started = (
            started[0] if started else ev.SessionStarted(self.loaded.spec, len(self.loaded.graph))
        )
        self.steps = [e for e in events if isinstance(e, ev.NodeStepped | ev.NodeAdded | ev.Failed)]
        pauses = [e for e in events if isinstance(e, ev.Paused)]
        self.end: ev.Paused | None = pauses[-1] if pauses else None
        self.nbytes = sum(
            v.nbytes for kept in values.values() for v in kept if isinstance(v, np.ndarray)
        )
        grads = [e for e in events if isinstance(e, ev.GradientsReady)]
        self.gradients: ev.GradientsReady | None = grads[-1] if grads else None


def read(path: str | Path) -> Recording:
    """Read a recording; a file that is not one raises `RecordingError` saying why."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            try:
                document = json.loads(z.read("recording.json").decode())
            except KeyError:
                raise RecordingError(
                    f"{path} is not a recording: it has no recording.json"
                ) from None
            if document.get("format") != FORMAT:
                raise RecordingError(f"{path} is not a Graphstep recording")
            if document.get("version") != VERSION:
                raise RecordingError(
                    f"{path} is a version {document.get('version')} recording; "
                    f"this Graphstep reads version {VERSION}"
                )
            refs = _array_refs(document.get("events")) | _array_refs(document.get("values"))
            buffers: list[Any] = [b""] * (max(refs) + 1 if refs else 0)
            for index, ref in refs.items():
                with z.open(f"arrays/{index}.npy") as f:
                    array = np.load(f, allow_pickle=False)
                if array.dtype != np.dtype(ref["dtype"]) or list(array.shape) != list(ref["shape"]):
                    raise RecordingError(f"{path}: arrays/{index}.npy is not the array named")
                buffers[index] = np.ascontiguousarray(array)
            body = wire.decode(
                {"map": {"events": document["events"], "values": document["values"]}}, buffers
            )
    except (zipfile.BadZipFile, OSError) as exc:
        raise RecordingError(f"{path} cannot be read as a recording: {exc}") from exc
    except RecordingError:
        raise
    except (KeyError, ValueError, TypeError) as exc:
        raise RecordingError(f"{path} is a damaged recording: {exc}") from exc
    events = [e for e in body["events"] if isinstance(e, ev.ALL)]
    values = {str(k): tuple(v) for k, v in dict(body["values"]).items()}
    return Recording(events, values)


# ---------------------------------------------------------------- replaying


class ReplayEngine:
    """An `EngineClient` that plays a recording back: continue, step, restart and
    breakpoints act on the recorded run, as a live engine acts on the model."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.breakpoints = Breakpoints()
        self._listeners: list[Listener] = []
        self._position = 0  # steps of the recording played (NodeAdded/Failed included)
        self._ran = 0  # nodes run so far
        self._prev_scope: tuple[str, ...] = ()
        self._lock = threading.RLock()
        self._closed = False

    def add_listener(self, listener: Listener) -> None:
        first = not self._listeners
        self._listeners.append(listener)
        if first:  # as an engine attached to: the model, its session, ready
            with self._lock:
                self._emit(self.recording.loaded)
                self._emit(
                    ev.Message(
                        "info",
                        f"Replaying a recorded run of {self.recording.loaded.name}: no model "
                        "runs, every value is as recorded.",
                    )
                )
                self._emit(self.recording.started)
                self._emit(ev.BreakpointsChanged(self.breakpoints.to_items()))
                self._pause(ev.READY, None)

    def close(self, timeout: float = 5.0) -> None:
        self._closed = True

    def send(self, command: cmds.Command) -> None:
        if self._closed:
            return
        with self._lock:
            try:
                self._handle(command)
            except Exception:  # a replay bug must not take its client down
                self._emit(ev.Message("error", f"Replay failed: {traceback.format_exc(limit=3)}"))

    # ------------------------------------------------------------ commands

    def _handle(self, command: cmds.Command) -> None:
        if isinstance(command, cmds.SetBreakpoints):
            ignored = self.breakpoints.set_items(command.items)
            if ignored:
                self._emit(ev.Message("warning", f"Breakpoints ignored: {'; '.join(ignored)}"))
            self._emit(ev.BreakpointsChanged(self.breakpoints.to_items()))
        elif isinstance(command, cmds.Restart):
            self._restart()
            self._pause(ev.READY, None)
        elif isinstance(command, cmds.Continue):
            self._play(lambda node_id: False)
        elif isinstance(command, cmds.Step | cmds.StepOver | cmds.StepOut):
            self._play(lambda node_id: True)
        elif isinstance(command, cmds.StepBack):
            self._back(self._ran - 1)
        elif isinstance(command, cmds.RunTo):
            self._play(lambda node_id: node_id == command.node_id)
        elif isinstance(command, cmds.Pause):
            pass  # a replay never runs long enough to need it
        elif isinstance(command, cmds.FetchValue):
            self._fetch(command)
        elif isinstance(command, cmds.Backward):
            grads = self.recording.gradients
            if grads is None:
                self._emit(ev.Failed(None, "This recording holds no gradients", ""))
            else:
                self._emit(grads)
            self._pause(ev.GRADIENT if grads is not None else ev.EXCEPTION, self._last_node())
        elif isinstance(command, cmds.SetBudget | cmds.SetStepPlumbing | cmds.FetchInputs):
            pass  # settings for a live model; a recording's inputs are its input nodes' values
        elif isinstance(command, cmds.TrainLoad):
            self._emit(ev.TrainingUnavailable("A recording holds one run, not a training loop."))
        elif isinstance(command, cmds.RUN_COMMANDS):
            self._emit(ev.Message("info", f"A recording cannot {type(command).__name__}."))
            self._pause(ev.STEP, self._last_node())
        else:
            self._emit(
                ev.Message("info", f"{type(command).__name__}: not available on a recording")
            )

    def _restart(self) -> None:
        self._position = 0
        self._ran = 0
        self._prev_scope = ()
        self.breakpoints.new_run()
        self._emit(ev.Restarted(False))

    def _play(self, stop_after: Any) -> None:
        steps = self.recording.steps
        if self._position >= len(steps):
            self._restart()  # as a live engine does: a run at its end starts again
        graph = self.recording.loaded.graph
        while self._position < len(steps):
            event = steps[self._position]
            self._position += 1
            self._emit(event)
            if isinstance(event, ev.Failed):
                end = self.recording.end
                said = end.message if end is not None and end.reason == ev.EXCEPTION else ""
                self._pause(ev.EXCEPTION, event.node_id, message=said or event.message)
                return
            if not isinstance(event, ev.NodeStepped):
                continue
            self._ran += 1
            attrs = dict(graph.node(event.node_id)) if event.node_id in graph else {}
            arrays = self.recording.values.get(event.node_id, ())
            previous, self._prev_scope = self._prev_scope, event.scope
            try:
                bp = self.breakpoints.check(
                    event.node_id,
                    {**attrs, "scope": event.scope},
                    previous,
                    event.summaries,
                    arrays,
                )
            except BreakpointError as exc:
                self._hit(event.node_id, exc.breakpoint.id, str(exc))
                return
            if bp is not None:
                self._hit(event.node_id, bp.id, bp.describe())
                return
            if stop_after(event.node_id):
                self._pause(ev.STEP, event.node_id)
                return
        end = self.recording.end
        if end is not None and end.reason == ev.EXCEPTION:
            self._pause(ev.EXCEPTION, end.node_id, message=end.message)
        else:
            outputs = end.outputs if end is not None else ()
            self._pause(ev.FINISHED, self._last_node(), outputs=outputs)

    def _back(self, target: int) -> None:
        """Back in time to `target` nodes run: the recorded steps up to there again,
        breakpoints not looked at (as a live engine's re-run)."""
        if target < 0:
            self._emit(ev.Message("info", "Already before the first node."))
            self._pause(ev.READY, None)
            return
        self._restart()
        steps = self.recording.steps
        while self._ran < target and self._position < len(steps):
            event = steps[self._position]
            self._position += 1
            self._emit(event)
            if isinstance(event, ev.NodeStepped):
                self._ran += 1
                self._prev_scope = event.scope
        if target == 0:
            self._pause(ev.READY, None)
        else:
            self._pause(ev.STEP, self._last_node())

    def _hit(self, node_id: str, bp_id: int, message: str) -> None:
        self._emit(ev.BreakpointsChanged(self.breakpoints.to_items()))
        self._pause(ev.BREAKPOINT, node_id, breakpoint_id=bp_id, message=message)

    def _fetch(self, command: cmds.FetchValue) -> None:
        if command.gradient:
            grads = self.recording.gradients
            values = grads.nodes.get(command.node_id) if grads is not None else None
            array = values[command.index] if values and command.index < len(values) else None
            summary_only = array is None or not isinstance(array, np.ndarray)
            self._emit(
                ev.ValueReady(
                    command.node_id,
                    command.index,
                    None if summary_only else array,
                    "the recording holds no such gradient" if summary_only else "",
                    gradient=True,
                )
            )
            return
        kept = self.recording.values.get(command.node_id, ())
        array = kept[command.index] if command.index < len(kept) else None
        self._emit(
            ev.ValueReady(
                command.node_id,
                command.index,
                array,
                "" if array is not None else "not in the recording (beyond its value budget)",
                dropped=array is None,
            )
        )

    # ------------------------------------------------------------ events

    def _last_node(self) -> str | None:
        for event in reversed(self.recording.steps[: self._position]):
            if isinstance(event, ev.NodeStepped):
                return event.node_id
        return None

    def _pause(self, reason: str, node_id: str | None, **kw: Any) -> None:
        total = self.recording.started.total
        kept = self.recording.nbytes
        self._emit(ev.Paused(reason, node_id, self._ran, total, memory=kept, **kw))

    def _emit(self, event: ev.Event) -> None:
        tell(self._listeners, event)


__all__ = [
    "Recorder",
    "Recording",
    "RecordingError",
    "ReplayEngine",
    "SUFFIX",
    "is_recording",
    "read",
    "write",
]
