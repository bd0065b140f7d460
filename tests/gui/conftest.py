"""What the GUI tests drive: the window (fresh settings, 1400 x 900, shown and active)
and a bare graph view (900 x 700)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gui.graph.graph_view import GraphView
from gui.shell.main_window import MainWindow
from gui.shell.settings import Settings


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


@pytest.fixture
def view(qtbot) -> GraphView:
    v = GraphView()
    v.resize(900, 700)
    qtbot.addWidget(v)
    v.show()
    qtbot.waitExposed(v)
    return v
