"""`graphstep run`: step a model headless to the end or the first break.

Plain output is one line per node and how the run stopped. `--json` prints one JSON
object per line per event (the schema is in the README). Exit codes: 0 finished,
3 stopped at a breakpoint, 2 on bad input or an exception in the model, 130 on Ctrl+C.

The run is driven through an engine client, like the window: an in-process `Engine`
for `graphstep run SPEC`, a `RemoteClient` for `graphstep run --attach HOST:PORT`
(an engine from `graphstep serve` or `graphstep.debug(..., listen=PORT)`), so both
print the same events.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import sys
from typing import Any

from inspectors import commands as cmds
from inspectors import events as ev
from inspectors.remote import TOKEN_ENV
from inspectors.tensors import TensorSummary

EXIT_FINISHED, EXIT_ERROR, EXIT_BREAK = 0, 2, 3
#: The exit status of a run stopped with Ctrl+C (128 + SIGINT, as shells expect).
EXIT_INTERRUPTED = 130
#: Where `--attach` reads the token from when `--token` is not given.


def add_parser(sub: Any) -> None:
    run = sub.add_parser("run", help="step a model headless to the end or the first break")
    from inspectors.cli import CAPTURE_HELP, CAPTURES, SPEC_HELP

    run.add_argument("spec", metavar="SPEC", nargs="?", help=SPEC_HELP)
    run.add_argument("--capture", default="auto", choices=CAPTURES, help=CAPTURE_HELP)
    run.add_argument(
        "--break-at",
        action="append",
        default=[],
        metavar="NODE",
        help="stop after this node runs (a node id as `trace` prints it; repeatable)",
    )
    run.add_argument(
        "--break-on",
        choices=("nan", "inf", "nonfinite"),
        help="stop at the first node whose output holds a NaN, an Inf, or either",
    )
    run.add_argument("--grad", action="store_true", help="compute gradients after the run")
    run.add_argument("--json", action="store_true", help="one JSON object per event per line")
    run.add_argument(
        "--record",
        metavar="FILE",
        help="write the run (graph, events, summaries, the values kept) to FILE.gsrec, "
        "which `graphstep run FILE.gsrec` and `graphstep open FILE.gsrec` replay",
    )
    run.add_argument(
        "--attach",
        metavar="HOST:PORT",
        help="drive the engine `graphstep serve` (or graphstep.debug(..., listen=PORT)) runs "
        "there instead of loading SPEC here; the engine keeps running afterwards",
    )
    run.add_argument(
        "--token",
        help=f"the token that engine printed (default: ${TOKEN_ENV}, which keeps it off "
        "the command line)",
    )


def summary_json(s: TensorSummary | None) -> dict[str, Any] | None:
    """The documented summary object; NaN statistics become null (strict JSON)."""
    if s is None:
        return None
    if not s.is_tensor:
        return {"kind": s.kind, "text": s.text}

    def num(v: float) -> float | None:
        return None if math.isnan(v) else (v if math.isfinite(v) else (1e308 if v > 0 else -1e308))

    return {
        "shape": list(s.shape),
        "dtype": s.dtype,
        "min": num(s.min),
        "max": num(s.max),
        "mean": num(s.mean),
        "std": num(s.std),
        "nan": s.nan,
        "posinf": s.pos_inf,
        "neginf": s.neg_inf,
        "neg": s.negative,
        "zero": s.zero,
        "pos": s.positive,
    }


def at_node(node_id: str | None, message: str) -> str:
    """`node: message`, without naming the node twice (a NodeError's message already
    starts with its node id)."""
    if not node_id or message.startswith(f"{node_id}:"):
        return message
    return f"{node_id}: {message}"


def captured_json(loaded: ev.Loaded) -> dict[str, Any]:
    """The `captured` event: the strategy used, the node count, and why the strategies
    tried before it failed (one line each)."""
    failed: dict[str, str] = {}
    for fail in loaded.failures:
        reason = str(fail.get("reason") or fail.get("error") or "").strip()
        failed[str(fail["strategy"])] = reason.splitlines()[0] if reason else ""
    return {
        "event": "captured",
        "strategy": loaded.capture,
        "nodes": len(loaded.graph),
        "failed": failed,
    }


class _Printer:
    """Turns engine events into lines on stdout (plain or JSON). A listener: it runs
    on the engine's (or the connection's) thread."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.ops: dict[str, Any] = {}  # node id -> op, from the graph and added nodes
        self.last_node: str | None = None  # the last node that ran
        self.closed = False  # stdout's reader went away: print nothing more, stop the run
        self.client: Any = None  # told to pause when the reader goes

    def out(self, obj: dict[str, Any]) -> None:
        print(json.dumps(obj), flush=True)

    def reader_gone(self) -> None:
        from inspectors.cli import silence_stdout

        self.closed = True
        silence_stdout()

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.NodeStepped):
            self.last_node = event.node_id
        if self.closed:
            return
        try:
            self._show(event)
        except BrokenPipeError:  # `graphstep run ... | head`: no use running on
            self.reader_gone()
            if self.client is not None:
                self.client.send(cmds.Pause())

    def _show(self, event: ev.Event) -> None:
        if isinstance(event, ev.Loaded):
            graph = event.graph
            self.ops = {n: graph.node(n).get("op") for n in graph.nodes}
            if self.as_json:
                self.out(captured_json(event))  # always the first event
            else:
                print(graph.summary(), file=sys.stderr)
        elif isinstance(event, ev.NodeAdded):
            a = event.attrs
            self.ops[event.node_id] = a.get("op")
            if self.as_json:
                self.out(
                    {
                        "event": "node_added",
                        "node": event.node_id,
                        "op": a.get("op"),
                        "kind": a.get("kind"),
                        "scope": list(a.get("scope", ())),
                    }
                )
        elif isinstance(event, ev.NodeStepped):
            op = self.ops.get(event.node_id, "?")
            if self.as_json:
                self.out(
                    {
                        "event": "stepped",
                        "node": event.node_id,
                        "op": op,
                        "index": event.index,
                        "outputs": [summary_json(s) for s in event.summaries],
                    }
                )
            else:
                first = event.summaries[0] if event.summaries else None
                text = first.line() if first is not None else "no outputs"
                more = (
                    f" (+{len(event.summaries) - 1} more outputs)"
                    if len(event.summaries) > 1
                    else ""
                )
                print(
                    f"{event.index:5d}  {event.node_id:<32} {str(op):<24} {text}{more}", flush=True
                )
        elif isinstance(event, ev.Failed):
            if self.as_json:
                self.out(
                    {
                        "event": "failed",
                        "node": event.node_id,
                        "error": event.message,
                        "traceback": event.traceback,
                    }
                )
            else:
                where = f"failed at {at_node(event.node_id, event.message)}"
                text = where if event.node_id else f"failed: {event.message}"
                print(text, file=sys.stderr, flush=True)
        elif isinstance(event, ev.GradientsReady):
            if self.as_json:
                self.out(
                    {
                        "event": "gradients",
                        "loss": event.loss,
                        "loss_source": event.loss_source,
                        "params": {k: summary_json(v) for k, v in event.params.items()},
                        "nodes": {k: [summary_json(s) for s in v] for k, v in event.nodes.items()},
                        "absent": event.absent,
                    }
                )
            else:
                print(f"gradients of loss {event.loss:.6g} ({event.loss_source}):")
                for name, s in event.params.items():
                    print(f"       param {name:<30} {s.line()}")
                for node_id, reason in event.absent.items():
                    print(f"       no gradient at {node_id}: {reason}")
        elif isinstance(event, ev.Message) and not self.as_json:
            print(f"{event.level}: {event.text}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from inspectors.engine import EventLog
    from inspectors.target import TargetError

    if bool(args.spec) == bool(args.attach):
        raise TargetError(
            "give a model (SPEC) or an engine to drive (--attach HOST:PORT), not both"
        )
    from inspectors import recording

    printer = _Printer(args.json)
    log = EventLog()
    replay = bool(args.spec) and recording.is_recording(args.spec)
    if args.attach:
        client: Any = _attach(args.attach, args.token or os.environ.get(TOKEN_ENV, ""))
    elif replay:
        client = recording.ReplayEngine(recording.read(args.spec))
    else:
        from inspectors.engine import Engine
        from inspectors.target import load_target

        target = load_target(args.spec)
        client = Engine()
    printer.client = client

    def hear(event: ev.Event) -> None:  # one listener: an attached engine replays its
        printer(event)  # state to the first listener only
        log(event)

    recorder = recording.Recorder() if getattr(args, "record", None) else None
    if recorder is not None:
        client.add_listener(recorder)
    client.add_listener(hear)
    try:
        if not args.attach and not replay:
            client.open_target(target, args.capture)  # captures here; a failure raises
        code = _drive(client, log, printer, args)
        if recorder is not None and not printer.closed:
            _save_recording(client, log, recorder, args.record)
    finally:
        if args.attach:
            client.detach(timeout=2.0)  # the engine keeps serving
        else:
            client.close(timeout=2.0)
    if printer.closed:
        from inspectors.cli import EXIT_BROKEN_PIPE

        return EXIT_BROKEN_PIPE
    return code


def _save_recording(client: Any, log: Any, recorder: Any, path: str) -> None:
    """Ask for every value the run kept (none is recomputed), then write the recording."""
    for node_id, outputs in recorder.nodes_run():
        for index in range(outputs):
            mark = log.mark()
            client.send(cmds.FetchValue(node_id, index, recompute=False))
            log.wait_for(ev.ValueReady, timeout=None, after=mark)
    written = recorder.save(path)
    kept = sum(1 for values in recorder.values.values() for v in values if v is not None)
    print(
        f"recorded {len(recorder.nodes_run())} nodes and {kept} values to {written}",
        file=sys.stderr,
    )


def _attach(address: str, token: str) -> Any:
    from inspectors.remote import RemoteClient
    from inspectors.target import TargetError

    if not token:
        raise TargetError(
            f"--attach {address} needs the token the engine printed: --token TOKEN "
            f"(or ${TOKEN_ENV})"
        )
    try:
        return RemoteClient(address, token)
    except (ConnectionError, PermissionError, OSError) as exc:
        raise TargetError(str(exc)) from exc


def _drive(client: Any, log: Any, printer: _Printer, args: argparse.Namespace) -> int:
    """From the model as loaded to the end, a break or an exception."""

    from inspectors.breakpoints import Breakpoints
    from inspectors.target import TargetError

    def wait(kinds: type | tuple[type, ...], after: int = 0) -> Any:
        """The next event of `kinds`; an engine that ended meanwhile ends the run."""
        kinds = kinds if isinstance(kinds, tuple) else (kinds,)
        got = log.wait_for((*kinds, ev.EngineDied), timeout=None, after=after)
        if isinstance(got, ev.EngineDied):
            where = f" after {got.last_node}" if got.last_node else ""
            raise TargetError(f"the engine ended: {got.how}{where}")
        return got

    loaded = wait((ev.Loaded, ev.LoadFailed))
    if isinstance(loaded, ev.LoadFailed):
        raise TargetError(loaded.message)
    started = wait((ev.SessionStarted, ev.SessionUnavailable))
    if isinstance(started, ev.SessionUnavailable):
        raise TargetError(started.message)
    pause = wait(ev.Paused)  # the session's own (an engine's last)
    breakpoints = Breakpoints()
    for node in args.break_at:
        if loaded.capture != "eager" and node not in loaded.graph:
            close = difflib.get_close_matches(node, loaded.graph.nodes, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise TargetError(f"--break-at {node}: the graph has no node {node!r}.{hint}")
        breakpoints.add(node=node, id=len(breakpoints.to_items()) + 1)
    if args.break_on:  # numbered from 1 in every run, local or attached
        breakpoints.add(condition=args.break_on, id=len(breakpoints.to_items()) + 1)

    def ask(command: cmds.Command, answer: type | tuple[type, ...]) -> Any:
        mark = log.mark()
        client.send(command)
        return wait(answer, after=mark)

    try:
        if pause.reason != ev.READY or pause.position:  # an attached engine mid-run
            ask(cmds.Restart(), ev.Paused)
        ask(cmds.SetBreakpoints(breakpoints.to_items()), ev.BreakpointsChanged)
        pause = ask(cmds.Continue(), ev.Paused)
        if pause.reason == ev.FINISHED:
            if args.json:
                printer.out(
                    {"event": "finished", "outputs": [summary_json(s) for s in pause.outputs]}
                )
            else:
                print(f"finished: {pause.position} nodes run")
            if args.grad:
                done = ask(cmds.Backward(), (ev.GradientsReady, ev.Failed))
                if isinstance(done, ev.Failed):  # the `failed` event said why
                    return EXIT_ERROR
            return EXIT_FINISHED
        if pause.reason == ev.EXCEPTION:
            if args.json:
                printer.out(
                    {
                        "event": "paused",
                        "reason": pause.reason,
                        "node": pause.node_id,
                        "message": pause.message,
                    }
                )
            else:
                print(f"stopped: exception at {at_node(pause.node_id, pause.message)}")
            return EXIT_ERROR
        if args.json:
            printer.out(
                {
                    "event": "paused",
                    "reason": pause.reason,
                    "node": pause.node_id,
                    "breakpoint": pause.breakpoint_id,
                    "message": pause.message,
                }
            )
        else:
            print(
                f"stopped at breakpoint {pause.breakpoint_id} ({pause.message}) after {pause.node_id}"
            )
        return EXIT_BREAK
    except BrokenPipeError:
        printer.reader_gone()
        return EXIT_ERROR
    except KeyboardInterrupt:
        # Ctrl+C: say where the model was, then stop (an op under way finishes first)
        client.send(cmds.Pause())
        running = printer.last_node
        where = f"after {running}" if running else "before the first node"
        if args.json:
            printer.out({"event": "interrupted", "node": running})
        print(f"graphstep: interrupted {where}", file=sys.stderr)
        return EXIT_INTERRUPTED
