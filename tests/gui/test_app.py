"""`graphstep` with and without SPEC: what the app opens at start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Runs gui.app.main(ARGS) with a settings file whose last model is a model file that
#: must not run, and reports what the window shows once the start-up timers have fired.
PROBE = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
import gui.app
app = QApplication([])
def report():
    w = [x for x in app.topLevelWidgets() if type(x).__name__ == 'MainWindow'][0]
    recent = [w.welcome.recent.item(i).data(256) for i in range(w.welcome.recent.count())]
    print('page', w.stack.currentIndex(), 'busy', w.loader.is_busy(), 'recent', recent)
    print('torch', 'torch' in sys.modules)
    app.quit()
# main() queues its open after this timer: look after a second turn of the loop
QTimer.singleShot(0, lambda: QTimer.singleShot(50, report))
sys.exit(gui.app.main(ARGS))
"""


def _start(tmp_path: Path, args: list[str]) -> list[str]:
    untrusted = tmp_path / "untrusted.py"
    marker = tmp_path / "ran"
    untrusted.write_text(f"open({str(marker)!r}, 'w').close()\ndef build(): ...\n")
    settings = tmp_path / "s.ini"
    settings.write_text(f"[models]\nlast={untrusted}\nrecent={untrusted}\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "GRAPHSTEP_SETTINGS": str(settings)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE.replace("ARGS", repr(args))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert not marker.exists(), "the last model's code ran"
    return out.stdout.splitlines()


@pytest.mark.parametrize("args", [[], ["--fresh"], ["open"]])
def test_no_spec_opens_the_welcome_page_and_not_the_last_model(tmp_path: Path, args):
    lines = _start(tmp_path, args)
    untrusted = str(tmp_path / "untrusted.py")
    assert lines[0] == f"page 0 busy False recent [{untrusted!r}]", lines
    assert lines[1] == "torch False"
