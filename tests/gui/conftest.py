"""The window most GUI tests drive: fresh settings, 1400 x 900, shown and active."""

from __future__ import annotations

from pathlib import Path

import pytest

from gui.main_window import MainWindow
from gui.settings import Settings


@pytest.fixture
def window(qtbot, tmp_path: Path) -> MainWindow:
    win = MainWindow(Settings(tmp_path / "settings.ini"), show_error_dialogs=False)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    yield win
    win.close()
