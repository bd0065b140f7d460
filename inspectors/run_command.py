"""`graphstep run`: step a model headless to the end or the first break.

Plain output is one line per node and how the run stopped. `--json` prints one JSON
object per line per event (the schema is in the README). Exit codes: 0 finished,
3 stopped at a breakpoint, 2 on bad input or an exception in the model.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import sys
from typing import Any

from inspectors import events as ev
from inspectors.tensors import TensorSummary, summarize

EXIT_FINISHED, EXIT_ERROR, EXIT_BREAK = 0, 2, 3


def add_parser(sub: Any) -> None:
    run = sub.add_parser("run", help="step a model headless to the end or the first break")
    from inspectors.cli import CAPTURE_HELP, CAPTURES, SPEC_HELP

    run.add_argument("spec", metavar="SPEC", help=SPEC_HELP)
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


def captured_json(captured: Any) -> dict[str, Any]:
    """The `captured` event: the strategy used, the node count, and why the strategies
    tried before it failed (one line each)."""
    graph = captured.graph
    failed: dict[str, str] = {}
    for fail in graph.meta.get("failures", []):
        reason = str(fail.get("reason") or fail.get("error") or "").strip()
        failed[str(fail["strategy"])] = reason.splitlines()[0] if reason else ""
    return {
        "event": "captured",
        "strategy": captured.strategy,
        "nodes": len(graph),
        "failed": failed,
    }


class _Printer:
    """Turns session events into lines on stdout (plain or JSON)."""

    def __init__(self, session: Any, as_json: bool) -> None:
        self.session = session
        self.as_json = as_json
        self.closed = False  # stdout's reader went away: print nothing more, stop the run

    def out(self, obj: dict[str, Any]) -> None:
        print(json.dumps(obj), flush=True)

    def reader_gone(self) -> None:
        from inspectors.cli import silence_stdout

        self.closed = True
        silence_stdout()

    def __call__(self, event: ev.Event) -> None:
        """Runs on the engine thread (a Session listener)."""
        if self.closed:
            return
        try:
            self._show(event)
        except BrokenPipeError:  # `graphstep run ... | head`: no use running on
            self.reader_gone()
            self.session.pause()

    def _show(self, event: ev.Event) -> None:
        graph = self.session.graph
        if isinstance(event, ev.NodeAdded):
            if self.as_json:
                a = event.attrs
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
            op = graph.node(event.node_id).get("op") if event.node_id in graph else "?"
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


#: The exit status of a run stopped with Ctrl+C (128 + SIGINT, as shells expect).
EXIT_INTERRUPTED = 130


def run(args: argparse.Namespace) -> int:
    from inspectors.capture import capture
    from inspectors.session import Session
    from inspectors.target import TargetError, load_target

    target = load_target(args.spec)
    captured = capture(target, args.capture)
    if args.json:
        print(json.dumps(captured_json(captured)), flush=True)  # always the first event
    session = Session(captured)
    printer = _Printer(session, args.json)
    session.add_listener(printer)
    graph = session.graph
    for node in args.break_at:
        if captured.strategy != "eager" and node not in graph:
            close = difflib.get_close_matches(node, graph.nodes, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise TargetError(f"--break-at {node}: the graph has no node {node!r}.{hint}")
        session.breakpoints.add(node=node)
    if args.break_on:
        session.breakpoints.add(condition=args.break_on)
    if not args.json:
        print(captured.graph.summary(), file=sys.stderr)
    session.start()
    try:
        session.wait(None)
        session.continue_()
        pause = session.wait(None)
        assert pause is not None
        code = EXIT_FINISHED
        if pause.reason == ev.FINISHED:
            outputs = tuple(session.run.outputs or ())
            if args.json:
                printer.out(
                    {"event": "finished", "outputs": [summary_json(summarize(o)) for o in outputs]}
                )
            else:
                print(f"finished: {len(session.run.executed)} nodes run")
            if args.grad:
                session.backward()
                session.wait(None)
                if session.gradients is None:  # backward failed: a `failed` event said why
                    code = EXIT_ERROR
        elif pause.reason == ev.EXCEPTION:
            code = EXIT_ERROR
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
        else:
            code = EXIT_BREAK
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
    except BrokenPipeError:
        printer.reader_gone()
    except KeyboardInterrupt:
        # Ctrl+C: say where the model was, then stop (an op under way finishes first)
        running = session.run.current
        where = f"after {running}" if running else "before the first node"
        if args.json:
            printer.out({"event": "interrupted", "node": running})
        print(f"graphstep: interrupted {where}", file=sys.stderr)
        code = EXIT_INTERRUPTED
    finally:
        session.stop()
        session.join(2.0)
    if printer.closed:
        from inspectors.cli import EXIT_BROKEN_PIPE

        return EXIT_BROKEN_PIPE
    return code
