"""`graphstep`: the headless commands, and the door to the desktop app.

    graphstep samples
    graphstep trace SPEC [--capture auto|fx|export|eager] [--format json|graphml|dot] [-o FILE]
    graphstep diff SPEC_A SPEC_B [--capture ...] [--json]
    graphstep render SPEC -o FILE.svg|FILE.png [--depth N] [--colour-by MODE] [--width PX]
    graphstep [open] [SPEC] [--capture ...] [--fresh]    (the GUI)

Exit codes: 0 success, 2 bad input (a clear message on stderr, never a bare traceback),
141 when the reader of standard output went away (`graphstep run ... | head`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

CAPTURES = ("auto", "fx", "export", "eager", "function")
EXIT_BAD_INPUT = 2
EXIT_BROKEN_PIPE = 128 + 13  # SIGPIPE, as the shell reports a writer whose reader left

#: What SPEC may be, for every command's help.
SPEC_HELP = (
    "a model file (build() and example_inputs()), file.py:NAME, package.module:NAME, "
    "a sample name (graphstep samples), a .pt2 or .keras file or a SavedModel folder; "
    "SPEC@NAME runs it on what the file's NAME() returns"
)
CAPTURE_HELP = (
    "how to capture the graph: auto tries fx, export, then eager for PyTorch; "
    "function is TensorFlow's concrete graph (default: auto)"
)
#: `graphstep [open] --fresh`: what it meant (skip reopening the last model) is now
#: what always happens.
FRESH_HELP = (
    "reopen nothing from an earlier session; always so now, since the last model is "
    "never reopened by itself (accepted so scripts that pass it keep working)"
)


def silence_stdout() -> None:
    """The reader of standard output went away (`| head`): send the rest to /dev/null,
    so neither later lines nor the interpreter's final flush raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no file descriptor behind sys.stdout
        pass


def _quiet_frameworks() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="graphstep",
        description="Step through a PyTorch or TensorFlow model's computation graph.",
        epilog="`graphstep [open] SPEC` opens SPEC in the desktop app; `graphstep` alone "
        "opens the app on its welcome page (recent models listed, none reopened). "
        f"`--fresh`: {FRESH_HELP}.",
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("samples", help="list the sample models")

    trace = sub.add_parser("trace", help="capture a model's graph and write it out")
    trace.add_argument("spec", metavar="SPEC", help=SPEC_HELP)
    trace.add_argument("--capture", default="auto", choices=CAPTURES, help=CAPTURE_HELP)
    trace.add_argument(
        "--format",
        default="json",
        choices=("json", "graphml", "dot"),
        help="json (node-link, reads back), graphml or dot (default: json)",
    )
    trace.add_argument("-o", "--output", help="file to write (default: standard output)")

    render = sub.add_parser(
        "render",
        help="draw a model's graph as the app does, to SVG or PNG (no window)",
        description="Draw SPEC's graph as the desktop app does (layout, colours, legend) "
        "and write it as SVG or PNG, with no window: for papers, slides and CI.",
    )
    render.add_argument("spec", metavar="SPEC", help=SPEC_HELP)
    render.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE",
        help="the picture to write: FILE.svg (every label, scalable) or FILE.png",
    )
    render.add_argument(
        "--depth",
        type=int,
        metavar="N",
        help="collapse every module / name scope deeper than N into one box, as View > "
        "Collapse to depth N (0: each top-level scope is one box); default: everything "
        "expanded, except that a huge graph is collapsed as the app opens it",
    )
    render.add_argument(
        "--colour-by",
        "--color-by",
        dest="colour_by",
        default="category",
        choices=("category", "params", "size"),
        help="colour the boxes by op category, parameter count or output size, as the "
        "app's Colour by (default: category)",
    )
    render.add_argument("--capture", default="auto", choices=CAPTURES, help=CAPTURE_HELP)
    render.add_argument(
        "--width",
        type=int,
        metavar="PX",
        help="the PNG's width in pixels (the graph scales to fit), or the width an SVG "
        "declares; default: the graph at up to 2x (PNG), at 1x (SVG)",
    )

    serve = sub.add_parser(
        "serve",
        help="run an engine on a model and wait for a window to attach "
        "(`graphstep attach`): for a model on a GPU server",
    )
    serve.add_argument("spec", metavar="SPEC", help=SPEC_HELP)
    serve.add_argument("--capture", default="auto", choices=CAPTURES, help=CAPTURE_HELP)
    serve.add_argument("--port", type=int, default=0, help="the port (default: a free one)")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on (default: this machine only; reach it through an "
        "SSH tunnel rather than opening it to the network)",
    )
    attach = sub.add_parser("attach", help="open the desktop app on an engine (`serve`)")
    attach.add_argument("address", metavar="HOST:PORT")
    attach.add_argument("--token", required=True, help="the token the engine printed")

    open_ = sub.add_parser("open", help="open the desktop app (the default)")
    open_.add_argument("spec", metavar="SPEC", nargs="?", help=SPEC_HELP)
    open_.add_argument("--capture", choices=CAPTURES, help=CAPTURE_HELP)
    open_.add_argument("--fresh", action="store_true", help=FRESH_HELP)

    from inspectors import diff_command, run_command

    run_command.add_parser(sub)
    diff_command.add_parser(sub)
    return parser


def cmd_samples() -> int:
    from inspectors.target import list_samples

    samples = list_samples()
    width = max((len(s.name) for s in samples), default=0)
    for s in samples:
        print(f"{s.name:<{width}}  {s.framework:<10}  {s.description}")
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    from inspectors.capture import capture
    from inspectors.target import TargetError, load_target

    target = load_target(args.spec)
    captured = capture(target, args.capture)
    text = captured.graph.export(args.format)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise TargetError(f"Cannot write {args.output}: {exc.strerror or exc}.") from exc
    else:
        sys.stdout.write(text)
    print(captured.graph.summary(), file=sys.stderr)
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from inspectors.capture import capture
    from inspectors.target import TargetError, load_target

    if Path(args.output).suffix.lower() not in (".svg", ".png"):  # before importing Qt
        raise TargetError(f"Cannot render to {args.output}: the output must end in .svg or .png.")
    if args.depth is not None and args.depth < 0:
        raise TargetError(f"--depth {args.depth}: use 0 or more.")
    try:
        from gui.graph.render import RenderError, check_request, render
    except ImportError as exc:
        raise TargetError(
            f"graphstep render draws with the desktop app's code, which needs PySide6 and "
            f"pyqtgraph (`pip install graphstep[gui]`): {exc}"
        ) from exc
    try:
        check_request(Path(args.output), colour_by=args.colour_by, width=args.width)
        captured = capture(load_target(args.spec), args.capture)
        done = render(
            captured.graph,
            args.output,
            depth=args.depth,
            colour_by=args.colour_by,
            width=args.width,
        )
    except RenderError as exc:
        raise TargetError(str(exc)) from exc
    for note in done.notes:
        print(f"graphstep: {note}", file=sys.stderr)
    scopes = f" ({done.scopes} of them collapsed scopes)" if done.scopes else ""
    print(f"wrote {done.path}: {done.nodes} nodes drawn{scopes}, {done.width}x{done.height} px")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """An engine on SPEC that waits for a window: prints the command that attaches."""
    from inspectors import commands as cmds
    from inspectors.procinfo import keep_freed_memory
    from inspectors.remote import EngineServer, exit_now, serve_forever

    keep_freed_memory()  # this process is the engine's own
    server = EngineServer(host=args.host, port=args.port, end_process=True)
    server.engine.send(cmds.Load(args.spec, args.capture, 0))
    print(f"graphstep attach {server.address} --token {server.token}", flush=True)
    print(
        "Whoever attaches with this token can run code here, as with any debugger. "
        "From another machine, tunnel the port over SSH: "
        f"ssh -N -L {server.port}:127.0.0.1:{server.port} THIS_HOST",
        file=sys.stderr,
    )
    # Ctrl+C, or a window that ended the engine: a model stuck in its own code must not
    # keep the process alive.
    exit_now(serve_forever(server))


def _open_gui(argv: list[str]) -> int:
    try:
        from gui.app import main as gui_main
    except ImportError as exc:
        print(
            f"graphstep: the desktop app needs PySide6 and pyqtgraph "
            f"(`pip install graphstep[gui]`): {exc}",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    return int(gui_main(argv) or 0)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `graphstep` console script."""
    _quiet_frameworks()
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {
        "samples",
        "trace",
        "render",
        "run",
        "diff",
        "open",
        "serve",
        "attach",
        "-h",
        "--help",
    }
    if not argv or argv[0] not in commands:
        return _open_gui(argv)  # `graphstep SPEC` and plain `graphstep` open the app
    args = _parser().parse_args(argv)
    from inspectors.target import TargetError

    try:
        if args.command == "samples":
            return cmd_samples()
        if args.command == "trace":
            return cmd_trace(args)
        if args.command == "render":
            return cmd_render(args)
        if args.command == "run":
            from inspectors import run_command

            return run_command.run(args)
        if args.command == "diff":
            from inspectors import diff_command

            return diff_command.run(args)
        if args.command == "serve":
            return cmd_serve(args)
        if args.command == "attach":
            return _open_gui(["--attach", args.address, "--token", args.token])
        if args.command == "open":
            rest = [args.spec] if args.spec else []
            rest += ["--capture", args.capture] if args.capture else []  # else the saved one
            rest += ["--fresh"] if args.fresh else []
            return _open_gui(rest)
    except TargetError as exc:
        print(f"graphstep: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        silence_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # a bug of ours or a framework crash: say so, then show it
        import traceback

        traceback.print_exc()
        print(f"graphstep: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
