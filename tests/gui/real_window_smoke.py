"""The app in a real X window: open a sample, step once with a real F11, save a screenshot.

Run by `test_real_window.py` under Xvfb and openbox, as
`python -m tests.gui.real_window_smoke SCREENSHOT.png SETTINGS.ini`. Prints what it saw,
one `key: value` line each; exits 0 when every check held, 1 (with the reason) if not.
Every wait turns the Qt event loop until a condition holds or a deadline passes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable

from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from gui.shell.main_window import MainWindow
from gui.shell.settings import Settings
from inspectors import events as ev

SAMPLE = "feedforward_torch"


class Failure(Exception):
    pass


def wait_until(what: str, condition: Callable[[], object], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {timeout_s:.0f} s waiting for {what}")
        loop = QEventLoop()
        QTimer.singleShot(20, loop.quit)
        loop.exec()


def press_f11(window: MainWindow) -> str:
    """F11 through the X server (XTEST) when xdotool is here, else through Qt."""
    if shutil.which("xdotool"):
        subprocess.Popen(["xdotool", "key", "F11"])  # the event loop must keep turning
        return "xdotool"
    QTest.keyClick(window, Qt.Key.Key_F11)
    return "qtest"


def run(screenshot: str, settings: str) -> None:
    app = QApplication.instance() or QApplication([sys.argv[0]])
    print(f"platform: {app.platformName()}")
    if app.platformName() != "xcb":
        raise Failure(f"expected the xcb platform, got {app.platformName()}")
    window = MainWindow(Settings(settings), show_error_dialogs=False)
    window.resize(1280, 800)
    window.show()
    window.raise_()
    window.activateWindow()
    wait_until("the window to be exposed", lambda: window.windowHandle().isExposed(), 20)
    # Under a window manager the window gets the keyboard focus: the F11 below needs it.
    wait_until("the window to be active", window.isActiveWindow, 20)

    outcome: list[str] = []
    window.model_loaded.connect(lambda _r: outcome.append("loaded"))
    window.load_failed.connect(lambda message: outcome.append(f"failed: {message}"))
    laid_out: list[int] = []
    window.view.layout_finished.connect(laid_out.append)
    window.open_model(SAMPLE)
    wait_until(f"{SAMPLE} to load", lambda: outcome, 90)
    if outcome[0] != "loaded":
        raise Failure(outcome[0])
    wait_until("the graph layout", lambda: laid_out, 30)
    debugger = window.debugger
    wait_until("the debugger to be ready", lambda: debugger.last_pause is not None, 30)
    before = debugger.position_label.text()
    print(f"before: {before}")

    pauses: list[ev.Paused] = []
    debugger.engine.paused.connect(pauses.append)
    print(f"key: {press_f11(window)}")
    wait_until("the pause after F11", lambda: pauses, 30)
    pause = pauses[0]
    after = debugger.position_label.text()
    print(f"paused: {pause.reason} at {pause.node_id}, position {pause.position}")
    print(f"after: {after}")
    if pause.position != 1 or after == before or not after.startswith("node 1 of"):
        raise Failure(f"one step should stand at node 1: {pause} / {after!r}")
    wait_until("the paused node to be selected", lambda: window.view.selected(), 10)

    window.repaint()  # the frame with the step drawn, then the X server's pixels
    loop = QEventLoop()
    QTimer.singleShot(200, loop.quit)
    loop.exec()
    image = window.screen().grabWindow(0)  # the whole screen: what a user would see
    if image.isNull() or not image.save(screenshot):
        raise Failure(f"could not save the screenshot to {screenshot}")
    print(f"screenshot: {screenshot} {image.width()}x{image.height()}")
    window.close()


def main(argv: list[str]) -> int:
    try:
        run(argv[0], argv[1])
    except Failure as exc:
        print(f"FAILED: {exc}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
