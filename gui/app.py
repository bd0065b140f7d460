"""`graphstep [SPEC] [--capture STRATEGY]`: start the desktop app.

The window appears first; the model named loads afterwards on a worker thread, so
importing a framework never delays the window. Without SPEC the welcome page shows,
with the recent models one click away: nothing runs that the user did not name today.
"""

from __future__ import annotations

import argparse
import os
import sys

from inspectors.cli import CAPTURES, FRESH_HELP


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="graphstep",
        description="Explore a PyTorch or TensorFlow model's computation graph.",
    )
    parser.add_argument(
        "spec",
        nargs="?",
        help="model file, file.py:NAME, module:NAME, sample name, .pt2, .keras or SavedModel",
    )
    parser.add_argument("--capture", choices=CAPTURES, default=None, help="capture strategy")
    parser.add_argument("--fresh", action="store_true", help=FRESH_HELP)
    parser.add_argument(
        "--attach", metavar="HOST:PORT", help="show an engine already running there"
    )
    parser.add_argument(
        "--token",
        default="",
        help="the token of the engine to attach to (default: $GRAPHSTEP_TOKEN)",
    )
    return parser.parse_args(argv)


def platform_problem() -> str | None:
    """Why Qt could not open a window here, in words, before Qt aborts with its own
    (misleading) message; None when nothing is known to be missing."""
    from gui.shell import platform_check

    if not platform_check.uses_xcb():
        return None
    missing = platform_check.missing_libraries()
    if not missing:
        return None
    message = platform_check.missing_message(missing)
    if platform_check.wayland_session():  # Qt may use its wayland plugin: warn, go on
        print(f"graphstep: warning: {message}", file=sys.stderr)
        return None
    return message


def main(argv: list[str] | None = None) -> int:
    """Run the app until its window closes; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "open":  # `graphstep open SPEC` reaches here unparsed too
        argv = argv[1:]
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    if QApplication.instance() is None and (problem := platform_problem()):
        print(f"graphstep: {problem}", file=sys.stderr)
        return 1
    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setOrganizationName("Graphstep")
    app.setApplicationName("Graphstep")
    app.setApplicationDisplayName("Graphstep")

    from gui.shell.main_window import MainWindow

    client = None
    if args.attach:
        from inspectors.remote import TOKEN_ENV, RemoteClient

        try:
            client = RemoteClient(args.attach, args.token or os.environ.get(TOKEN_ENV, ""))
        except (ConnectionError, PermissionError) as exc:
            print(f"graphstep: {exc}", file=sys.stderr)
            return 1
    if client is None and args.spec:
        from inspectors.recording import RecordingError, ReplayEngine, is_recording, read

        if is_recording(args.spec):  # a recorded run: replayed, no model, no framework
            try:
                client = ReplayEngine(read(args.spec))
            except RecordingError as exc:
                print(f"graphstep: {exc}", file=sys.stderr)
                return 2
            args.spec = None
    window = MainWindow(client=client)
    window.show()
    if args.spec:
        # After the first paint, so the window is on screen before any import starts.
        QTimer.singleShot(0, lambda: window.open_model(args.spec, args.capture))
    elif args.capture:
        window.capture_combo.setCurrentIndex(window.capture_combo.findData(args.capture))
    return int(app.exec())


if __name__ == "__main__":
    raise SystemExit(main())
