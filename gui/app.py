"""`graphstep [SPEC] [--capture STRATEGY]`: start the desktop app.

The window appears first; the model (the one named, else the last one opened) loads
afterwards on a worker thread, so importing a framework never delays the window.
"""

from __future__ import annotations

import argparse
import os
import sys

CAPTURES = ("auto", "fx", "export", "eager", "function")


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
    parser.add_argument(
        "--fresh", action="store_true", help="do not reopen the last model when SPEC is absent"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the app until its window closes; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "open":  # `graphstep open SPEC` reaches here unparsed too
        argv = argv[1:]
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setOrganizationName("Graphstep")
    app.setApplicationName("Graphstep")
    app.setApplicationDisplayName("Graphstep")

    from gui.main_window import MainWindow

    window = MainWindow()
    window.show()
    spec = args.spec or (None if args.fresh else window.settings.last_model())
    if spec:
        # After the first paint, so the window is on screen before any import starts.
        QTimer.singleShot(0, lambda: window.open_model(spec, args.capture))
    elif args.capture:
        window.capture_combo.setCurrentIndex(window.capture_combo.findData(args.capture))
    return int(app.exec())


if __name__ == "__main__":
    raise SystemExit(main())
