"""The debugger: a state machine over a framework Stepper, on its own engine thread.

The engine thread owns the model. Commands arrive on a queue from any thread; events
go out to listeners (called on the engine thread: a GUI re-posts them as queued
signals). Pausing is the engine thread blocking on the command queue inside the
stepper's per-node callback, the same in every mode.

Headless use::

    session = Session(capture(load_target("feedforward_torch")))
    session.start(); session.wait()          # paused: ready
    session.step(); session.wait()           # paused after the first node
    session.continue_(); session.wait()      # finished (or a breakpoint)
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inspectors import commands as cmds
from inspectors import events as ev
from inspectors.breakpoints import BreakpointError, Breakpoints
from inspectors.graph import Graph
from inspectors.procinfo import resident_memory
from inspectors.step_levels import frame_of, is_plumbing, is_within, node_attrs
from inspectors.stepping import GradientResult, Interrupt, NodeError, Stepper, names_node
from inspectors.tensors import (
    BATCH_MAX,
    DEFAULT_BUDGET,
    TensorSummary,
    ValueStore,
    as_numpy,
    describe,
    framework_of,
    start_batch,
    summarize,
)

Listener = Callable[[ev.Event], None]

#: `progress` is given this before a node's id while breakpoint expressions run on it.
BREAKPOINT_MARK = "\x00breakpoints:"
#: What the progress says while a stepper runs the whole graph as one call (no node
#: has finished in it yet): a process that dies then died in that call.
ONE_CALL_MARK = "\x00one call"


# Run modes: when to pause next.
_STEP, _OVER, _OUT, _CONTINUE, _RUN_TO, _TO_POSITION = (
    "step",
    "over",
    "out",
    "continue",
    "run_to",
    "to_position",
)
#: The mode each run command sets.
_MODE_OF: dict[type, str] = {
    cmds.Step: _STEP,
    cmds.StepOver: _OVER,
    cmds.StepOut: _OUT,
    cmds.Continue: _CONTINUE,
    cmds.RunTo: _RUN_TO,
}
_STEP_MODES = frozenset({_STEP, _OVER, _OUT})
_CALL_MODES = frozenset({_OVER, _OUT})


@dataclass
class _Queued:
    command: cmds.Command
    seq: int = 0


@dataclass
class _Pending:
    """Why a run was unwound, and what to do next."""

    action: str  # "restart", "stop", "rerun"
    inputs: tuple[np.ndarray, ...] | None = None
    position: int = 0


@dataclass
class RunState:
    """What the current run has done so far."""

    executed: list[str] = field(default_factory=list)
    scopes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    current: str | None = None
    failed: str | None = None
    finished: bool = False
    outputs: Any = None


#: Nodes summarised together during a continue (and the most a listener waits for).
_BATCH_NODES = 256
#: Nodes waiting in the batch longer than this are sent anyway (a slow or stuck node).
FLUSH_AFTER_S = 0.25


class Session:
    """Step a captured model like a debugger. Thread-safe commands, events out."""

    def __init__(
        self,
        captured: Any,
        *,
        stepper: Stepper | None = None,
        stepper_factory: Callable[[], Stepper] | None = None,
        budget: int = DEFAULT_BUDGET,
        listener: Listener | None = None,
    ) -> None:
        if stepper_factory is None and stepper is None:
            from inspectors.stepping import make_stepper

            def stepper_factory() -> Stepper:
                return make_stepper(captured)

        self.captured = captured
        self._factory = stepper_factory
        self.stepper: Stepper = stepper or stepper_factory()  # type: ignore[misc]
        self.breakpoints = Breakpoints()
        self.store = ValueStore(budget)
        self.summaries: dict[str, tuple[TensorSummary, ...]] = {}
        self.overrides: dict[str, dict[int, np.ndarray]] = {}
        self.gradients: GradientResult | None = None
        self.grad_summaries: dict[str, tuple[TensorSummary | None, ...]] = {}
        self.run = RunState()
        self.last_pause: ev.Paused | None = None
        self.keep_values = True
        self._share_values = bool(getattr(self.stepper, "immutable_values", False))
        # during a plain continue, small outputs are summarised (and their events sent)
        # in batches: (node id, position, scope, kept values, overridden)
        # (and an eager graph's NodeAdded events, in their place between them)
        self._deferred: list[
            tuple[str, int, tuple[str, ...], tuple[Any, ...], bool] | ev.NodeAdded
        ] = []
        self._defer_lock = threading.Lock()  # `_deferred` and its flush (two threads)
        self._flushed_at = time.monotonic()
        #: batches whose summaries are under way, and the calls that give them
        self._in_flight: list[tuple[list[Any], Callable[[], list[TensorSummary]]]] = []

        self._listeners: list[Listener] = [listener] if listener else []
        self._commands: queue.Queue[_Queued] = queue.Queue()
        self._seq_lock = threading.Condition()
        self._sent = 0
        self._idle_at = -1  # seq of the last command handled when the engine went idle
        self._thread: threading.Thread | None = None
        self._mode = _STEP
        self._mode_scope: tuple[str, ...] = ()
        self._run_to: str | None = None
        self._to_position = 0
        self._inputs: tuple[np.ndarray, ...] | None = None
        self._grad_cursor: int | None = None
        self._pause_asked = False
        self._prev_scope: tuple[str, ...] = ()
        self._stopped = False
        #: Called with each node's id once it has run (an engine process records it where
        #: its parent can read it should the process die).
        self.progress: Callable[[str], None] | None = None
        #: Step into / over / out also pause on plumbing (nodes that only move a value).
        self.step_plumbing = False
        self._frame: tuple[str, ...] = ()  # the frame execution stands in (step_levels)
        self._since = 0  # nodes (not plumbing) run since the last run command
        self._unwinding = False

    # ------------------------------------------------------------------ public API

    @property
    def graph(self) -> Graph:
        return self.stepper.graph

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def start(self) -> None:
        """Start the engine thread; it pauses `ready` before the first node."""
        if self._thread is not None:
            return
        thread = threading.Thread(target=self._engine, name="graphstep-engine", daemon=True)
        thread.start()
        self._thread = thread  # only once started: another thread may join it at once
        flusher = threading.Thread(target=self._flusher, name="graphstep-flush", daemon=True)
        flusher.start()

    def _flusher(self) -> None:
        """While the model is inside one long node, send the events of the nodes before
        it that wait in the batch: a window shows where a slow (or stuck) model is."""
        while not self._stopped:
            time.sleep(FLUSH_AFTER_S)
            idle = time.monotonic() - self._flushed_at
            if (self._deferred or self._in_flight) and idle >= FLUSH_AFTER_S:
                try:
                    self._flush()
                except Exception:  # never fatal: the engine thread flushes them anyway
                    traceback.print_exc()

    def step(self) -> None:
        """Step into: run exactly one node (into loop bodies, branches and calls) and pause."""
        self.send(cmds.Step())

    def step_over(self) -> None:
        """Run the next node of the current frame; a call met there (a module, a loop, a
        function call) runs whole and counts as one step (see `inspectors.step_levels`)."""
        self.send(cmds.StepOver())

    def step_out(self) -> None:
        """Finish the enclosing call: pause on its last node (as step over at its end)."""
        self.send(cmds.StepOut())

    def set_step_plumbing(self, show: bool) -> None:
        """Whether stepping pauses on plumbing too (`Identity`, `ReadVariableOp`, ...)."""
        self.send(cmds.SetStepPlumbing(bool(show)))

    def continue_(self) -> None:
        """Run until a breakpoint, an exception or the end."""
        self.send(cmds.Continue())

    def run_to(self, node_id: str) -> None:
        """Run until `node_id` has run (or a breakpoint / exception first)."""
        self.send(cmds.RunTo(node_id))

    def pause(self) -> None:
        """Pause a running continue as soon as the current node finishes (any thread)."""
        self.send(cmds.Pause())

    def restart(self, inputs: tuple[np.ndarray, ...] | None = None) -> None:
        """Start over with no overrides, on new inputs (numpy, same shapes) when given."""
        self.send(cmds.Restart(None if inputs is None else tuple(inputs)))

    def set_value(self, node_id: str, array: np.ndarray, index: int = 0) -> None:
        """Override output `index` of `node_id`; what runs after it uses the new value."""
        self.send(cmds.SetValue(node_id, np.asarray(array), index))

    def clear_value(self, node_id: str) -> None:
        """Remove an override (takes effect on the next run)."""
        self.send(cmds.ClearValue(node_id))

    def backward(self) -> None:
        """Gradients of the loss for every recorded output and parameter (after a run)."""
        self.send(cmds.Backward())

    def grad_step(self) -> None:
        """Walk gradients backwards: pause on the previous node in execution order."""
        self.send(cmds.GradStep())

    def fetch_inputs(self) -> None:
        """Ask for the current inputs; an `InputsReady` follows."""
        self.send(cmds.FetchInputs())

    def fetch_value(self, node_id: str, index: int = 0) -> None:
        """Ask for a full value; a `ValueReady` follows (recomputed when it was dropped)."""
        self.send(cmds.FetchValue(node_id, index))

    def set_breakpoints(self, items: Any) -> None:
        """Replace the breakpoints (`Breakpoints.to_items` data); a `BreakpointsChanged`
        follows."""
        self.send(cmds.SetBreakpoints(tuple(items)))

    def stop(self) -> None:
        """End the run and the engine thread."""
        self.send(cmds.Stop())

    def wait(self, timeout: float | None = 60.0) -> ev.Paused | None:
        """Block until every command sent so far is handled; the last pause (headless use)."""
        with self._seq_lock:
            done = self._seq_lock.wait_for(
                lambda: self._idle_at >= self._sent or self._stopped, timeout
            )
        if not done:
            raise TimeoutError(f"the session did not pause within {timeout} s")
        return self.last_pause

    def join(self, timeout: float | None = 10.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def value(self, node_id: str, index: int = 0) -> np.ndarray | None:
        """The kept full value, or None (never run, not a tensor, or dropped)."""
        return self.store.get(node_id, index)

    def gradient(self, node_id: str, index: int = 0) -> np.ndarray | None:
        if self.gradients is None:
            return None
        grads = self.gradients.nodes.get(node_id) or self.gradients.params.get(node_id)
        if isinstance(grads, np.ndarray):
            return grads if index == 0 else None
        if grads and index < len(grads):
            return grads[index]
        return None

    @property
    def position(self) -> int:
        return len(self.run.executed)

    def total(self) -> int:
        return len(self.graph.order)

    # ---------------------------------------------------------------- engine side

    def send(self, command: cmds.Command) -> None:
        """The one entry for commands (`inspectors.commands`), from any thread; the
        methods above are shorthands for it. Events answer."""
        if isinstance(command, cmds.Pause | cmds.Stop):
            self._pause_asked = True  # seen by a running continue before the queue is
        with self._seq_lock:
            self._sent += 1
            self._commands.put(_Queued(command, self._sent))

    def _emit(self, event: ev.Event) -> None:
        for listener in tuple(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken view must not kill the engine
                traceback.print_exc()

    def _next_command(self) -> _Queued:
        """Block for the next command, marking the engine idle while it waits."""
        try:
            return self._commands.get_nowait()
        except queue.Empty:
            pass
        with self._seq_lock:
            self._idle_at = self._handled
            self._seq_lock.notify_all()
        return self._commands.get()

    _handled = 0

    def _pause(self, reason: str, node_id: str | None, **kw: Any) -> None:
        self._flush()
        self._pause_asked = False
        if reason == ev.BREAKPOINT:  # a hit counted, or a broken expression disabled
            self._emit(ev.BreakpointsChanged(self.breakpoints.to_items()))
        self.last_pause = ev.Paused(
            reason,
            node_id,
            self.position,
            self.total(),
            memory=self.store.nbytes,
            process_memory=resident_memory(),
            **kw,
        )
        self._emit(self.last_pause)

    def _engine(self) -> None:
        pending: _Pending | None = None
        self._pause(ev.READY, None)
        prepare = getattr(self.stepper, "prepare", None)
        if prepare is not None:  # while the user reads the graph; commands wait for it
            self.running_as_one_call()
            with contextlib.suppress(Exception):  # a run meets (and reports) what failed
                prepare()
            if self.progress is not None:
                self.progress("")  # before the first node again
        try:
            while True:
                if pending is not None:
                    action, pending = pending, None
                    if action.action == "stop":
                        break
                    pending = self._begin(action)
                    continue
                queued = self._next_command()
                self._handled = queued.seq
                pending = self._idle_command(queued)
        finally:
            self._stopped = True
            with self._seq_lock:
                self._idle_at = self._sent
                self._seq_lock.notify_all()
            self._emit(ev.Stopped())

    def _begin(self, action: _Pending) -> _Pending | None:
        """Handle a restart / rerun decided while unwinding a run."""
        if action.action == "restart":
            self._reset(action.inputs, clear_overrides=True)  # a new run starts clean
            self.breakpoints.new_run()
            self._emit(
                ev.Restarted(
                    action.inputs is not None,
                    tuple(summarize(a) for a in (self._inputs or self.stepper.inputs())),
                )
            )
            self._pause(ev.READY, None)
            return None
        # rerun: same inputs, overrides applied, back to where the user was
        self._reset(None, clear_overrides=False)
        self._emit(ev.Restarted(False))
        if action.position <= 0:
            self._pause(ev.READY, None)
            return None
        self._mode, self._to_position = _TO_POSITION, action.position
        return self._execute()

    def _reset(self, inputs: tuple[np.ndarray, ...] | None, clear_overrides: bool) -> None:
        self.run = RunState()
        self.summaries.clear()
        self.store.clear()
        self.gradients = None
        self.grad_summaries.clear()
        self._grad_cursor = None
        self._prev_scope = ()
        self._frame = ()
        self._since = 0
        self._unwinding = False
        if inputs is not None:
            self._inputs = tuple(np.asarray(a) for a in inputs)
        if clear_overrides:
            self.overrides.clear()

    def _idle_command(self, queued: _Queued) -> _Pending | None:
        """A command while no run is in progress (ready, finished or failed)."""
        cmd = queued.command
        if isinstance(cmd, cmds.Stop):
            return _Pending("stop")
        if isinstance(cmd, cmds.Restart):
            return _Pending("restart", cmd.inputs)
        if isinstance(cmd, cmds.StepBack):
            return self._step_back()
        if type(cmd) in _MODE_OF:
            if self.run.finished or self.run.failed:
                self._emit(ev.Message("info", "The run is over: restart to run again."))
                self._pause(self.last_pause.reason if self.last_pause else ev.READY, None)
                return None
            self._set_mode(cmd)
            return self._execute()
        if isinstance(cmd, cmds.SetValue):
            node_id, array, index = cmd.node_id, cmd.array, cmd.index
            self.overrides.setdefault(node_id, {})[index] = array
            if node_id in self.run.scopes:  # already ran: run again with the new value
                return _Pending("rerun", position=self.position)
            self._emit(ev.Message("info", f"{node_id} output {index} will be overridden."))
            return None
        self._common_command(cmd)
        return None

    def _step_back(self) -> _Pending | None:
        """StepBack with no run under way: from a finished or failed run, back to the
        node before its last; before the first node it stays where it is."""
        if self.position <= 0:
            self._emit(ev.Message("info", "Already before the first node."))
            self._pause(ev.READY, None)
            return None
        return _Pending("rerun", position=self.position - 1)

    def _common_command(self, cmd: cmds.Command) -> None:
        """Commands that mean the same paused mid-run or idle."""
        if isinstance(cmd, cmds.ClearValue):
            self.overrides.pop(cmd.node_id, None)
        elif isinstance(cmd, cmds.Backward):
            self._backward()
        elif isinstance(cmd, cmds.GradStep):
            self._grad_step()
        elif isinstance(cmd, cmds.FetchValue):
            if cmd.gradient:
                self._fetch_gradient(cmd.node_id, cmd.index)
            else:
                self._fetch_value(cmd.node_id, cmd.index, cmd.recompute)
        elif isinstance(cmd, cmds.SetBreakpoints):
            ignored = self.breakpoints.set_items(cmd.items)
            if ignored:
                self._emit(ev.Message("warning", f"Breakpoints ignored: {'; '.join(ignored)}"))
            self._emit(ev.BreakpointsChanged(self.breakpoints.to_items()))
        elif isinstance(cmd, cmds.FetchInputs):
            self._fetch_inputs()
        elif isinstance(cmd, cmds.Pause):
            self._pause_asked = False
        elif isinstance(cmd, cmds.SetStepPlumbing):
            self.step_plumbing = cmd.show
        elif isinstance(cmd, cmds.SetBudget):
            self.store.budget = int(cmd.nbytes)

    def _set_mode(self, cmd: cmds.Command) -> None:
        self._mode = _MODE_OF[type(cmd)]
        self._mode_scope = self._frame
        self._since = 0
        self._run_to = cmd.node_id if isinstance(cmd, cmds.RunTo) else None

    def _execute(self) -> _Pending | None:
        """Run the stepper from the start; returns what to do after an unwind."""
        try:
            outputs = self.stepper.run(self, self._inputs)
        except _Unwind as unwind:
            self._flush()
            return unwind.pending
        except NodeError as exc:
            self._flush()
            self.run.failed = exc.node_id
            text = "".join(traceback.format_exception(exc.original))
            self._emit(ev.Failed(exc.node_id, str(exc), text))
            self._pause(ev.EXCEPTION, exc.node_id, message=str(exc))
            return None
        except Exception as exc:
            self._flush()
            self.run.failed = self.run.current or "?"
            text = "".join(traceback.format_exception(exc))
            message = f"{type(exc).__name__}: {exc}"
            self._emit(ev.Failed(self.run.current, message, text))
            self._pause(ev.EXCEPTION, self.run.current, message=message)
            return None
        self.run.finished = True
        self.run.outputs = outputs
        summaries = tuple(summarize(o) for o in outputs or ())
        self._pause(ev.FINISHED, self.run.current, outputs=summaries)
        return None

    # --------------------------------------------------------- the stepper's hook

    def node_added(self, node_id: str) -> None:
        # An eager run adds every node as it runs: read networkx's own dicts (what
        # `in_edges(data=True)` walks) rather than build its views, 3 us -> 0.7 us.
        nxg = self.graph.nx
        edges = tuple(
            (src, node_id, dict(a))
            for src, keys in nxg._pred[node_id].items()
            for a in keys.values()
        )
        added = ev.NodeAdded(node_id, dict(nxg._node[node_id]), edges)
        if self._mode == _CONTINUE and not self._pause_asked and not len(self.breakpoints):
            with self._defer_lock:  # in the batch, in its place: after the nodes before it
                self._deferred.append(added)
            return
        self._flush()  # the nodes that ran before it are reported first
        self._emit(added)

    def enter_subgraph(self, node_id: str) -> bool:
        if self._mode == _STEP:
            return True
        if self._mode == _RUN_TO and self._run_to and self._run_to not in self.graph:
            return True  # the target is inside some body
        return self.breakpoints.has_conditions() or bool(
            self.breakpoints.on_nodes() - set(self.graph.nodes)
        )

    def running_as_one_call(self) -> None:
        """The stepper is about to run the graph as one call: should the process die in
        it, no node is to blame, and a new engine runs op by op (`remote.py`)."""
        if self.progress is not None:
            self.progress(ONE_CALL_MARK)

    def node_done(
        self, node_id: str, scope: tuple[str, ...], values: tuple[Any, ...]
    ) -> dict[int, np.ndarray] | None:
        # The hot path of a continue: runs after every node, so it is kept to the bare
        # bookkeeping (see bench/stepping.py, per-node overhead).
        override = self.overrides.get(node_id)
        if override:
            values = tuple(override.get(i, v) for i, v in enumerate(values))
        run = self.run
        run.executed.append(node_id)
        run.scopes[node_id] = scope
        run.current = node_id
        if self.progress is not None:
            self.progress(node_id)
        if (
            self._mode == _CONTINUE
            and not self._pause_asked
            and not len(self.breakpoints)
            and (
                type(values[0]) is not np.ndarray or values[0].size <= BATCH_MAX
                if len(values) == 1
                else all(type(v) is not np.ndarray or v.size <= BATCH_MAX for v in values)
            )
        ):
            # nothing can pause here: summarise later, with the next ones, in one batch
            kept = self._keep(node_id, values)
            with self._defer_lock:
                self._deferred.append((node_id, len(run.executed), scope, kept, bool(override)))
            if len(self._deferred) >= _BATCH_NODES:
                self._flush(wait=False)  # summarised while the next nodes run
            if self._sent > self._handled:  # a command came meanwhile (no lock on this test)
                self._flush()
                self._poll_commands(node_id)
            final = self.overrides.get(node_id)
            return {i: a for i, a in final.items() if i < len(values)} if final else None
        self._flush()
        if len(values) == 1:
            summaries: tuple[TensorSummary, ...] = (summarize(values[0]),)
        else:
            summaries = tuple(map(summarize, values))
        self.summaries[node_id] = summaries
        if self.keep_values:
            put = self.store.put
            share = self._share_values
            for i, v in enumerate(values):
                if isinstance(v, np.ndarray):
                    # an immutable stepper's read-only view needs no copy (not an override)
                    put(node_id, i, v, not (share and not v.flags.writeable))
                elif framework_of(v) is not None:
                    put(node_id, i, v, not share)
        position = len(run.executed)
        self._emit(ev.NodeStepped(node_id, position, scope, summaries, bool(override)))

        previous, self._prev_scope = self._prev_scope, scope
        if self._mode == _CONTINUE and not self._pause_asked and not len(self.breakpoints):
            reason: str | None = None  # a continue with nothing to check
        else:
            reason, bp_id, message = self._should_pause(
                node_id, scope, previous, summaries, tuple(map(as_numpy, values))
            )
        if reason is not None:
            self._frame = self._frame_of(node_id, scope)
            self._pause(reason, node_id, breakpoint_id=bp_id, message=message)
            self._wait_paused(node_id)
        elif self._sent > self._handled:  # a command came meanwhile (no lock on this test)
            self._poll_commands(node_id)
        # overrides, including one set while paused on this very node, reach the model
        final = self.overrides.get(node_id)
        if not final:
            return None
        return {i: a for i, a in final.items() if i < len(values)}

    def _keep(self, node_id: str, values: tuple[Any, ...]) -> tuple[Any, ...]:
        """The values as they are now (a copy unless they can never change), stored
        within the budget; their summaries come later, in `_flush`."""
        share = self._share_values
        store = self.store if self.keep_values else None
        kept = []
        for i, v in enumerate(values):
            if type(v) is np.ndarray:
                if not (share and not v.flags.writeable):
                    v = v.copy()  # a later in-place op must not change what is reported
                if store is not None:
                    store.put(node_id, i, v, False)
            elif (framework := framework_of(v)) is not None:
                if not share:
                    v = framework.copy(v)
                if store is not None:
                    store.keep(node_id, i, v, framework)
            kept.append(v)
        return tuple(kept)

    def _flush(self, wait: bool = True) -> None:
        """Summarise the deferred nodes in one batch and send their events, in order.

        The batch's compiled passes start now (`tensors.start_batch`) and run while the
        engine goes on: with `wait=False` (a full batch during a continue) the newest
        batch is left in flight, reported at the next flush. Every other caller waits
        for all of them: the engine before an event of its own (a pause, a failure, a
        node reported on its own), and the flusher thread for a model that spends long
        inside one node. The lock keeps the batches whole and in order."""
        with self._defer_lock:
            deferred, self._deferred = self._deferred, []
            self._flushed_at = time.monotonic()
            in_flight = self._in_flight
            if deferred:
                in_flight.append((deferred, self._start_summaries(deferred)))
            while len(in_flight) > (0 if wait else 1):
                self._report(*in_flight.pop(0))

    @staticmethod
    def _values_of(deferred: list[Any]) -> list[Any]:
        return [v for entry in deferred if not isinstance(entry, ev.NodeAdded) for v in entry[3]]

    def _start_summaries(self, deferred: list[Any]) -> Callable[[], list[TensorSummary]]:
        values = self._values_of(deferred)
        try:
            return start_batch(values)
        except Exception as exc:  # a bug in a summary must not lose the run: say so
            return self._failed_summaries(values, exc)

    def _failed_summaries(
        self, values: list[Any], exc: Exception
    ) -> Callable[[], list[TensorSummary]]:
        traceback.print_exc()
        self._emit(ev.Message("error", f"Summaries failed: {type(exc).__name__}: {exc}"))
        return lambda: [describe(v) for v in values]

    def _report(self, deferred: list[Any], summarized: Callable[[], list[TensorSummary]]) -> None:
        """Send a batch's events, in order, with its summaries."""
        try:
            summaries = summarized()
        except Exception as exc:
            summaries = self._failed_summaries(self._values_of(deferred), exc)()
        start = 0
        table = self.summaries
        emit = self._emit
        listeners = tuple(self._listeners)  # `_emit`'s loop, inline: a call per node less
        stepped = ev.NodeStepped
        scope = self._prev_scope
        for entry in deferred:
            if type(entry) is not tuple:  # an eager graph's NodeAdded, in its place
                emit(entry)
                continue
            node_id, position, scope, values, overridden = entry
            if len(values) == 1:
                mine: tuple[TensorSummary, ...] = (summaries[start],)
                start += 1
            else:
                end = start + len(values)
                mine = tuple(summaries[start:end])
                start = end
            table[node_id] = mine
            event = stepped(node_id, position, scope, mine, overridden)
            for listener in listeners:
                try:
                    listener(event)
                except Exception:  # a broken view must not kill the engine
                    traceback.print_exc()
        self._prev_scope = scope

    def _should_pause(
        self,
        node_id: str,
        scope: tuple[str, ...],
        previous: tuple[str, ...],
        summaries: tuple[TensorSummary, ...],
        values: tuple[Any, ...],
    ) -> tuple[str | None, int | None, str]:
        if self._mode == _TO_POSITION:
            return (ev.STEP if self.position >= self._to_position else None), None, ""
        if len(self.breakpoints):  # the common case, no breakpoints, costs nothing
            attrs = self.graph.node(node_id) if node_id in self.graph else {}
            said = self.progress is not None and self.breakpoints.has_expressions()
            if said:  # an expression is the user's code: it may never finish
                self.progress(BREAKPOINT_MARK + node_id)  # type: ignore[misc]
            try:
                bp = self.breakpoints.check(
                    node_id, {**attrs, "scope": scope}, previous, summaries, values
                )
            except BreakpointError as exc:
                return ev.BREAKPOINT, exc.breakpoint.id, str(exc)
            finally:
                if said:
                    self.progress(node_id)  # type: ignore[misc]
            if bp is not None:
                return ev.BREAKPOINT, bp.id, bp.describe()
        if self._pause_asked:
            return ev.PAUSED_BY_USER, None, ""
        mode = self._mode
        if mode == _RUN_TO:
            return (ev.STEP if names_node(self._run_to or "", node_id) else None), None, ""
        if mode not in _STEP_MODES:
            return None, None, ""
        if not self.step_plumbing and is_plumbing(node_id, node_attrs(self.graph, node_id)):
            return None, None, ""
        self._since += 1
        if mode == _STEP or self._frame_done(self._frame_of(node_id, scope)):
            return ev.STEP, None, ""
        return None, None, ""

    def _frame_of(self, node_id: str, scope: tuple[str, ...]) -> tuple[str, ...]:
        graph = self.graph
        return frame_of(node_id, scope, node_attrs(graph, node_id), graph.framework)

    def _frame_done(self, frame: tuple[str, ...]) -> bool:
        """Whether step over / out has reached its end now that execution is in `frame`."""
        start = self._mode_scope
        if self._mode == _OVER:
            return is_within(start, frame)
        return len(frame) < len(start) and is_within(start, frame)

    def scope_left(self, scope: tuple[str, ...]) -> None:
        """A module call returned: step over / out may end here, on the node that ran last."""
        if self._mode not in _CALL_MODES or self._unwinding:
            return
        self._frame = scope
        if self._since and self._frame_done(scope) and not self._pause_asked:
            node_id = self.run.current
            self._flush()
            self._pause(ev.STEP, node_id)
            if node_id is not None:
                self._wait_paused(node_id, between=True)

    def _poll_commands(self, node_id: str) -> None:
        """During a continue: act on pause / stop / restart sent meanwhile."""
        try:
            queued = self._commands.get_nowait()
        except queue.Empty:
            return
        self._handled = queued.seq
        if isinstance(queued.command, cmds.Pause):
            self._frame = self._frame_of(node_id, self.run.scopes.get(node_id, ()))
            self._pause(ev.PAUSED_BY_USER, node_id)
            self._wait_paused(node_id)
            return
        self._paused_command(queued.command, node_id)

    def _wait_paused(self, node_id: str, between: bool = False) -> None:
        """Block on the command queue until a command resumes the run.

        `between`: paused after `node_id`'s hook returned (a call ended), so a new value
        for it can no longer reach the model in this run: setting one reruns."""
        while True:
            queued = self._next_command()
            self._handled = queued.seq
            if self._paused_command(queued.command, node_id, between):
                return

    def _paused_command(self, cmd: cmds.Command, node_id: str, between: bool = False) -> bool:
        """Handle a command while paused inside a run; True when the run goes on."""
        if type(cmd) in _MODE_OF:
            self._set_mode(cmd)
            return True
        if isinstance(cmd, cmds.Stop):
            self._unwinding = True
            raise _Unwind(_Pending("stop"))
        if isinstance(cmd, cmds.Restart):
            self._unwinding = True
            raise _Unwind(_Pending("restart", cmd.inputs))
        if isinstance(cmd, cmds.StepBack):
            self._unwinding = True
            raise _Unwind(_Pending("rerun", position=self.position - 1))
        if isinstance(cmd, cmds.SetValue):
            target, array, index = cmd.node_id, cmd.array, cmd.index
            self.overrides.setdefault(target, {})[index] = array
            if target == node_id and not between:
                values = list(self.summaries[node_id])
                if index < len(values):
                    values[index] = summarize(array)
                self.summaries[node_id] = tuple(values)
                if self.keep_values:
                    self.store.put(node_id, index, array)
                self._emit(
                    ev.NodeStepped(
                        node_id, self.position, self.run.scopes[node_id], tuple(values), True
                    )
                )
                self._pause(ev.STEP, node_id, message=f"{node_id} output {index} overridden")
                return False
            if target in self.run.scopes:
                self._unwinding = True
                raise _Unwind(_Pending("rerun", position=self.position))
            self._emit(ev.Message("info", f"{target} output {index} will be overridden."))
            self._pause(self.last_pause.reason if self.last_pause else ev.STEP, node_id)
            return False
        if isinstance(cmd, cmds.Backward):
            self._emit(
                ev.Message("warning", "Gradients need a finished run: continue to the end first.")
            )
            self._pause(self.last_pause.reason if self.last_pause else ev.STEP, node_id)
            return False
        self._common_command(cmd)
        return False

    # ------------------------------------------------------------------ gradients

    def _backward(self) -> None:
        if not self.run.finished:
            self._emit(
                ev.Message("warning", "Gradients need a finished run: continue to the end first.")
            )
            return
        try:
            result = self.stepper.backward()
        except Exception as exc:
            text = "".join(traceback.format_exception(exc))
            self._emit(ev.Failed(None, f"backward failed: {type(exc).__name__}: {exc}", text))
            return
        self.gradients = result
        nodes = {
            n: tuple(None if g is None else summarize(g) for g in grads)
            for n, grads in result.nodes.items()
        }
        self.grad_summaries = dict(nodes)
        params = {name: summarize(g) for name, g in result.params.items()}
        self._grad_cursor = len(self.run.executed)
        self._emit(ev.GradientsReady(result.loss, result.loss_source, nodes, params, result.absent))

    def _grad_step(self) -> None:
        if self.gradients is None or self._grad_cursor is None:
            self._emit(ev.Message("warning", "No gradients yet: run backward first."))
            return
        i = self._grad_cursor - 1
        executed, graph = self.run.executed, self.graph
        while i >= 0 and (
            executed[i] not in self.gradients.nodes
            or (not self.step_plumbing and is_plumbing(executed[i], node_attrs(graph, executed[i])))
        ):
            i -= 1
        if i < 0:
            self._pause(ev.GRADIENT, None, message="reached the inputs")
            return
        self._grad_cursor = i
        node_id = self.run.executed[i]
        self._pause(ev.GRADIENT, node_id)

    # ------------------------------------------------------------------- values

    def _fetch_inputs(self) -> None:
        try:
            arrays = tuple(self._inputs if self._inputs is not None else self.stepper.inputs())
        except Exception as exc:  # a display problem only: the run goes on
            self._emit(ev.InputsReady((), (), f"Inputs could not be read: {exc}"))
            return
        self._emit(ev.InputsReady(arrays, tuple(summarize(a) for a in arrays)))

    def _fetch_gradient(self, node_id: str, index: int) -> None:
        array = self.gradient(node_id, index)
        message = "" if array is not None else f"{node_id} output {index} has no gradient."
        self._emit(ev.ValueReady(node_id, index, array, message, gradient=True))

    def _fetch_value(self, node_id: str, index: int, recompute: bool = True) -> None:
        array = self.store.get(node_id, index)
        if array is not None:
            self._emit(ev.ValueReady(node_id, index, array))
            return
        if node_id not in self.run.scopes:
            self._emit(ev.ValueReady(node_id, index, None, f"{node_id} has not run yet."))
            return
        if not recompute:
            dropped = self.store.is_dropped(node_id, index)
            self._emit(ev.ValueReady(node_id, index, None, dropped=dropped))
            return
        if self._factory is None:
            self._emit(ev.ValueReady(node_id, index, None, "no way to recompute it"))
            return
        try:
            array = self._recompute(node_id, index)
        except Exception as exc:
            self._emit(ev.ValueReady(node_id, index, None, f"recomputing failed: {exc}"))
            return
        message = "recomputed (it had been dropped to stay within the memory budget)"
        self._emit(ev.ValueReady(node_id, index, array, message))

    def _recompute(self, node_id: str, index: int) -> np.ndarray | None:
        """Run a fresh stepper up to `node_id` with the same inputs and overrides."""
        found: dict[str, Any] = {}
        overrides = self.overrides

        class Catch:
            def node_added(self, nid: str) -> None:
                pass

            def enter_subgraph(self, nid: str) -> bool:
                return True

            def scope_left(self, scope: tuple[str, ...]) -> None:
                pass

            def node_done(self, nid: str, scope: tuple[str, ...], values: tuple[Any, ...]) -> Any:
                if nid == node_id:
                    found["value"] = values[index] if index < len(values) else None
                    raise _Unwind(_Pending("stop"))
                return overrides.get(nid)

        assert self._factory is not None
        with contextlib.suppress(_Unwind):
            self._factory().run(Catch(), self._inputs)
        value = as_numpy(found.get("value"))
        return value if isinstance(value, np.ndarray) else None


class _Unwind(Interrupt):  # noqa: N818
    def __init__(self, pending: _Pending) -> None:
        super().__init__(pending.action)
        self.pending = pending
