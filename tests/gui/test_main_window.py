"""The main window driven offscreen: open models, explore, export, fail and recover.

Loading runs on a worker thread, so every step waits on the window's signals.
TensorFlow is imported once per test process; later TF loads reuse it.
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QByteArray, QMimeData, QPoint, QPointF, QRect, QRectF, Qt, QUrl
from PySide6.QtGui import QColor, QDropEvent, QFontMetrics, QImage
from PySide6.QtWidgets import QApplication, QToolBar

from gui.shell.main_window import MainWindow, output_sizes, parameter_counts, spec_from_mime
from gui.shell.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
LOAD_TIMEOUT = 60_000  # ms: the first TensorFlow import alone takes seconds

TINY_TORCH = """
'''A tiny two-layer model written for a test.'''
import torch
from torch import nn


def build():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 2))


def example_inputs():
    return (torch.randn(2, 3),)
"""


#: The gated model below waits in `build()` until the test opens the gate, so a test
#: can cancel a load while the model's own code runs (the "import" stage).
GATE_REACHED = threading.Event()
GATE_OPEN = threading.Event()

GATED_TORCH = """
'''A model whose loading waits until the test opens a gate.'''
import torch
from torch import nn

from tests.gui.test_main_window import GATE_OPEN, GATE_REACHED


def build():
    GATE_REACHED.set()
    GATE_OPEN.wait(60)
    return nn.Linear(3, 2)


def example_inputs():
    return (torch.randn(2, 3),)
"""


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    return tmp_path / "settings.ini"


@pytest.fixture
def window(qtbot, settings_file: Path) -> MainWindow:
    win = MainWindow(Settings(settings_file))
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


def open_model(qtbot, window: MainWindow, spec: str, strategy: str | None = None) -> None:
    """Open `spec` and wait until it is loaded and laid out (or fail with its error)."""
    outcome: list[str] = []
    window.model_loaded.connect(lambda _r: outcome.append("loaded"))
    window.load_failed.connect(lambda message: outcome.append(f"failed: {message}"))
    laid_out: list[int] = []
    window.view.layout_finished.connect(laid_out.append)
    window.open_model(spec, strategy)
    qtbot.waitUntil(lambda: bool(outcome), timeout=LOAD_TIMEOUT)
    assert outcome[0] == "loaded", outcome[0]
    qtbot.waitUntil(lambda: bool(laid_out), timeout=LOAD_TIMEOUT)
    close_error_dialog(window)


def core(owner: Any) -> Any:
    """The in-process engine behind a window's (or a compare pane's) client: the
    frameworks' own answers for a test to check against, never the GUI's way in."""
    engine = getattr(owner, "_engine", None) or owner.engine
    return engine.client


def fetch(qtbot, engine: Any, node_id: str, index: int = 0, gradient: bool = False) -> Any:
    """A full value (or gradient) asked of the engine, as a panel asks for it."""
    from inspectors import commands as cmds

    with qtbot.waitSignal(
        engine.value_ready,
        timeout=LOAD_TIMEOUT,
        check_params_cb=lambda r: (r.node_id, r.index, r.gradient) == (node_id, index, gradient),
    ) as got:
        engine.send(cmds.FetchValue(node_id, index, gradient=gradient))
    return got.args[0].array


def close_error_dialog(window: MainWindow) -> None:
    if window.error_dialog is not None:
        window.error_dialog.close()


def first_node(graph, predicate) -> str:
    for node_id in graph.order or graph.nodes:
        if predicate(graph.node(node_id)):
            return node_id
    raise AssertionError("no node matches")


# ---------------------------------------------------------------------------- startup


def test_window_appears_before_any_framework_import(tmp_path: Path):
    """`graphstep SPEC` shows the window first, then loads on a worker thread."""
    code = (
        "import sys\n"
        "from PySide6.QtCore import QTimer\n"
        "from PySide6.QtWidgets import QApplication\n"
        "import gui.app\n"
        "app = QApplication([])\n"
        "def check():\n"
        "    w = [x for x in app.topLevelWidgets() if type(x).__name__ == 'MainWindow'][0]\n"
        "    print('shown', w.isVisible(), 'torch' in sys.modules, 'tensorflow' in sys.modules)\n"
        "    w.loader.loaded.connect(lambda r: (print('loaded', r.name, r.capture), app.quit()))\n"
        "    w.loader.failed.connect(lambda m, t: (print('failed', m), app.quit()))\n"
        "QTimer.singleShot(0, check)\n"
        "sys.exit(gui.app.main(['feedforward_torch']))\n"
    )
    env = {
        **__import__("os").environ,
        "QT_QPA_PLATFORM": "offscreen",
        "GRAPHSTEP_SETTINGS": str(tmp_path / "s.ini"),
    }
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "shown True False False", out.stdout
    assert lines[1].startswith("loaded feedforward_torch"), out.stdout + out.stderr


def test_loading_runs_off_the_gui_thread(qtbot, window: MainWindow):
    window.open_model("feedforward_torch")
    assert window.loader.is_busy()  # returned at once: the work is on another thread
    assert window.progress.isVisible() and window.cancel_button.isVisible()
    assert window.busy_label.text()  # the stage is shown
    qtbot.waitUntil(lambda: window.result is not None, timeout=LOAD_TIMEOUT)
    assert not window.progress.isVisible()


def test_samples_menu_groups_by_framework(window: MainWindow):
    texts = [a.text() for a in window.samples_menu.actions()]
    assert "PyTorch" in texts and "TensorFlow" in texts
    assert texts.index("PyTorch") < texts.index("feedforward_torch")
    tips = {a.text(): a.statusTip() for a in window.samples_menu.actions()}
    assert "feed-forward" in tips["feedforward_torch"].lower()
    assert window.welcome.samples.count() >= 3
    assert window.welcome.isVisible() and not window.view.isVisible()


# ------------------------------------------------------------------------ PyTorch


def test_open_torch_sample_and_inspect_a_node(qtbot, window: MainWindow):
    open_model(qtbot, window, "feedforward_torch")
    result = window.result
    assert result.framework == "torch" and result.name == "feedforward_torch"
    assert window.model_label.text() == "feedforward_torch"
    assert window.framework_label.text() == "PyTorch"
    assert result.capture in window.capture_label.text()
    assert f"{len(result.graph)} nodes" in window.counts_label.text()
    assert window.windowTitle().startswith("feedforward_torch")
    assert not hasattr(window, "captured")  # the model lives in the engine, not the window

    graph = result.graph
    fc1 = first_node(graph, lambda a: a["label"] == "fc1")
    window.select_node(fc1)
    assert window.node_panel.node_id() == fc1
    text = window.node_panel.text()
    assert graph.node(fc1)["op"] in text
    assert "[4, 20]" in text  # fc1 maps 4 rows of 10 to 4 rows of 20
    assert "[4, 20] float32 80 values" in " ".join(text.split())  # the size says what it counts
    assert "float32" in text
    if graph.node(fc1).get("params"):
        assert "weight" in text and "220" in text  # 20x10 weights + 20 biases
    assert "feedforward_torch.py:" in text  # source line with code around it

    # Following an input link navigates to that node.
    producer = graph.inputs_of(fc1)[0]
    assert producer in window.node_panel.link_targets()
    window.node_panel.node_requested.emit(producer)
    assert window.view.selected() == producer
    assert window.node_panel.node_id() == producer


def test_overlays_from_parameters_and_output_sizes(qtbot, window: MainWindow):
    open_model(qtbot, window, "feedforward_torch")
    graph = window.result.graph
    params = parameter_counts(graph)
    assert sum(params.values()) >= 20 * 10 + 20 + 5 * 20 + 5 - 1
    sizes = output_sizes(graph)
    assert max(sizes.values()) == 4 * 20
    window.set_overlay("params")
    assert window.overlay_combo.currentData() == "params"
    window.set_overlay("size")
    window.set_overlay("none")
    assert window.act_overlay["none"].isChecked()


def test_keras_parameter_counts_are_what_the_variables_hold(qtbot, window: MainWindow):
    """A TF parameter node outputs a variable's handle (shape []): count its value."""
    open_model(qtbot, window, "feedforward_keras")
    params = parameter_counts(window.result.graph)
    assert sorted(params.values()) == [5.0, 20.0, 100.0, 200.0]  # 10-20-5: kernels, biases


def test_capture_chooser_recaptures_and_shows_failures(qtbot, window: MainWindow, settings_file):
    open_model(qtbot, window, "feedforward_torch")
    assert window.result.capture == "fx"
    done: list[object] = []
    window.model_loaded.connect(done.append)
    window.capture_combo.setCurrentIndex(window.capture_combo.findData("eager"))
    qtbot.waitUntil(lambda: bool(done), timeout=LOAD_TIMEOUT)
    assert window.result.capture == "eager"
    assert "eager" in window.capture_label.text()
    assert Settings(settings_file).capture_strategy() == "eager"

    # A model fx cannot trace: auto falls back, and says why in the status bar and Log.
    window.capture_combo.setCurrentIndex(window.capture_combo.findData("auto"))
    qtbot.waitUntil(lambda: window.result.capture == "fx", timeout=LOAD_TIMEOUT)
    open_model(qtbot, window, "dynamic_torch")
    assert window.result.failures
    first = window.result.failures[0]
    assert f"{first['strategy']}" in window.capture_label.text()
    assert first["reason"] in window.capture_label.toolTip()
    warnings = [e for e in window.log_panel.entries() if e.level == "warning"]
    assert any(first["reason"] in e.message for e in warnings)


# --------------------------------------------------------------------- TensorFlow


def test_open_keras_sample_collapse_expand_and_find(qtbot, window: MainWindow):
    open_model(qtbot, window, "feedforward_keras")
    result = window.result
    assert result.framework == "tensorflow"
    assert window.framework_label.text() == "TensorFlow"
    view = window.view
    graph = result.graph

    # Collapse a scope to one node, then expand it again.
    scoped = first_node(graph, lambda a: len(a["scope"]) >= 1)
    scope = graph.node(scoped)["scope"][:1]

    def relaid(action) -> int:
        with qtbot.waitSignal(view.layout_finished, timeout=LOAD_TIMEOUT):
            action()
        return view.visible_node_count()

    expanded = relaid(window.expand_all)
    assert not view.collapsed_scopes()
    assert relaid(lambda: view.collapse(scope)) < expanded
    assert scope in view.collapsed_scopes()
    assert relaid(lambda: view.expand(scope)) == expanded
    assert relaid(lambda: window.collapse_to_depth(1)) < expanded
    assert relaid(window.expand_all) == expanded

    # Search: Ctrl+F opens the bar, typing counts matches, Enter / F3 walk them.
    window.act_find.trigger()
    assert window.find_bar.isVisible()
    qtbot.keyClicks(window.find_bar.field, "MatMul")
    matches = [n for n in graph.nodes if graph.node(n)["op"] == "MatMul"]
    assert len(matches) >= 2
    assert "match" in window.find_bar.count_label.text()
    qtbot.keyClick(window.find_bar.field, Qt.Key.Key_Return)
    first = view.selected()
    assert first in matches
    assert window.node_panel.node_id() == first
    assert "MatMul" in window.node_panel.text()
    qtbot.keyClick(view, Qt.Key.Key_F3)  # the shortcut itself, not only the action
    second = view.selected()
    assert second in matches and second != first
    qtbot.keyClick(view, Qt.Key.Key_F3, Qt.KeyboardModifier.ShiftModifier)
    assert view.selected() == first
    qtbot.keyClick(view, Qt.Key.Key_F3)
    assert view.selected() == second
    qtbot.keyClick(window.find_bar.field, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert view.selected() == first
    qtbot.keyClick(window.find_bar.field, Qt.Key.Key_Escape)
    assert not window.find_bar.isVisible()

    window.find("no such node anywhere")
    assert "No matches" in window.find_bar.count_label.text()


def test_open_while_body_and_go_back_up(qtbot, window: MainWindow):
    open_model(qtbot, window, "while_tf")
    graph = window.result.graph
    loop = first_node(graph, lambda a: a["subgraph"] is not None and "while" in a["op"].lower())
    assert not window.breadcrumbs.isVisible()
    assert_fitted_clear_of_the_legend(window)

    window.select_node(loop)
    assert "Open" in window.node_panel.text()  # the subgraph link
    window.node_panel.subgraph_requested.emit(loop)
    qtbot.waitUntil(lambda: len(window.breadcrumbs.path()) == 2, timeout=LOAD_TIMEOUT)
    assert window.breadcrumbs.isVisible() and window.breadcrumbs.up_button.isVisible()
    body = window.view.graph()
    assert body is not graph and len(body) > 0
    assert any(body.node(n)["op"] == "Tanh" for n in body.nodes)
    qtbot.waitUntil(lambda: not window.view.is_busy(), timeout=LOAD_TIMEOUT)
    assert_fitted_clear_of_the_legend(window)

    window.breadcrumbs.up_button.click()
    qtbot.waitUntil(lambda: len(window.breadcrumbs.path()) == 1, timeout=LOAD_TIMEOUT)
    assert window.view.graph() is graph
    assert not window.breadcrumbs.isVisible()


def assert_fitted_clear_of_the_legend(window: MainWindow) -> None:
    """The whole graph is on screen and none of it under the legend; or, when a fit
    would be too small to read, the first node is, at a readable zoom."""
    from gui.graph.graph_view import READABLE_SCALE

    view = window.view
    lay = view.current_layout()
    port = QRectF(view.viewport().rect())
    if view.transform().m11() == READABLE_SCALE:
        top = int(np.lexsort((lay.rects[:, 0], lay.rects[:, 1]))[0])
        shown = QRectF(view.mapFromScene(QRectF(*map(float, lay.rects[top]))).boundingRect())
        assert not port.contains(
            QRectF(view.mapFromScene(QRectF(0, 0, lay.width, lay.height)).boundingRect())
        )
    else:
        shown = QRectF(view.mapFromScene(QRectF(0, 0, lay.width, lay.height)).boundingRect())
    assert port.contains(shown)
    assert not shown.intersects(view.legend_rect())


# ------------------------------------------------------------------------ exports


def test_exports(qtbot, window: MainWindow, tmp_path: Path):
    open_model(qtbot, window, "feedforward_torch")
    png = window.export_view(tmp_path / "view.png")
    image = QImage(str(png))
    assert not image.isNull() and image.width() > 10
    svg = window.export_view(tmp_path / "view.svg")
    assert "<svg" in svg.read_text()
    for fmt, marker in (("json", '"nodes"'), ("graphml", "<graphml"), ("dot", "digraph")):
        out = window.export_graph(tmp_path / f"graph.{fmt}")
        assert marker in out.read_text()


# ------------------------------------------------------------------ bad input


def test_bad_model_shows_its_error_then_another_model_opens(qtbot, window, tmp_path: Path):
    open_model(qtbot, window, "feedforward_torch")
    shown = window.result

    bad = tmp_path / "broken_model.py"
    bad.write_text("import torch\n\ndef build(:\n    return None\n")
    with qtbot.waitSignal(window.load_failed, timeout=LOAD_TIMEOUT) as blocker:
        window.open_model(str(bad))
    assert "syntax error" in blocker.args[0]
    errors = [e for e in window.log_panel.entries() if e.level == "error"]
    assert errors and "syntax error" in errors[-1].message
    assert errors[-1].details  # the traceback, shown when the entry is expanded
    top = window.log_panel.tree.topLevelItem(window.log_panel.tree.topLevelItemCount() - 1)
    assert top.childCount() == 1
    dialog = window.error_dialog
    assert dialog is not None and dialog.isVisible()
    assert "syntax error" in dialog.text() and dialog.detailedText()
    dialog.close()
    assert window.result is shown and window.view.graph() is shown.graph  # previous stays

    good = tmp_path / "tiny_model.py"
    good.write_text(TINY_TORCH)
    open_model(qtbot, window, str(good))
    assert window.result.name == "tiny_model"
    assert window.result.graph is window.view.graph()


def test_cancel_drops_the_result(qtbot, window: MainWindow):
    window.open_model("feedforward_torch")
    with qtbot.waitSignal(window.loader.cancelled, timeout=5000):
        window.act_cancel.trigger()
    assert not window.loader.is_busy() and not window.progress.isVisible()
    qtbot.waitUntil(
        lambda: not any(t.name.startswith("graphstep-load") for t in threading.enumerate()),
        timeout=LOAD_TIMEOUT,
    )
    QApplication.processEvents()  # deliver the abandoned job's result, to be dropped
    assert window.result is None
    assert any("Cancelled loading" in e.message for e in window.log_panel.entries())


def test_cancel_stops_the_load_before_its_next_stage(qtbot, window, tmp_path, monkeypatch):
    """Cancel during the model's import: the window is free at once, the import runs
    to its end in the background (said so), and the model is never captured."""
    from inspectors.torch_inspector import capture as torch_capture

    captured: list[str] = []  # models a capture strategy ran on
    real_fx = torch_capture._CAPTURES["fx"]

    def recording_fx(target, graph):
        captured.append(target.name)
        return real_fx(target, graph)

    monkeypatch.setitem(torch_capture._CAPTURES, "fx", recording_fx)
    GATE_REACHED.clear()
    GATE_OPEN.clear()
    gated = tmp_path / "gated_model.py"
    gated.write_text(GATED_TORCH)
    window.open_model(str(gated))
    qtbot.waitUntil(GATE_REACHED.is_set, timeout=LOAD_TIMEOUT)  # the model's code runs

    with qtbot.waitSignal(window.loader.cancelled, timeout=5000) as blocker:
        window.cancel_button.click()
    assert blocker.args == ["the model's import finishes in the background"]
    message = "Cancelled; the model's import finishes in the background"
    assert window.statusBar().currentMessage() == message
    assert not window.loader.is_busy() and not window.cancel_button.isVisible()

    good = tmp_path / "tiny_model.py"  # usable at once: open another model
    good.write_text(TINY_TORCH)
    window.open_model(str(good))
    qtbot.waitUntil(lambda: "Waiting for the cancelled load" in window.busy_label.text())
    with qtbot.waitSignal(window.loader.stopped, timeout=LOAD_TIMEOUT) as stopped:
        GATE_OPEN.set()
    assert stopped.args == [str(gated), "after the model's import"]
    qtbot.waitUntil(lambda: window.result is not None, timeout=LOAD_TIMEOUT)
    assert window.result.name == "tiny_model"
    assert captured == ["tiny_model"]  # the cancelled model stopped before its capture
    logged = [e.message for e in window.log_panel.entries()]
    assert any("has stopped after the model's import" in m for m in logged)


def test_drop_a_model_file_opens_it(qtbot, window: MainWindow, tmp_path: Path):
    good = tmp_path / "dropped_model.py"
    good.write_text(TINY_TORCH)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(good))])
    assert spec_from_mime(mime) == str(good)
    other = QMimeData()
    other.setUrls([QUrl.fromLocalFile(str(tmp_path / "notes.txt"))])
    assert spec_from_mime(other) is None

    event = QDropEvent(
        QPointF(20, 20),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    loaded: list[object] = []
    window.model_loaded.connect(loaded.append)
    window.dropEvent(event)
    qtbot.waitUntil(lambda: bool(loaded), timeout=LOAD_TIMEOUT)
    assert window.result.name == "dropped_model"


# ----------------------------------------------------------------------- settings


def test_settings_persist_across_windows(qtbot, window: MainWindow, settings_file: Path):
    open_model(qtbot, window, "feedforward_torch")
    window.log_dock.hide()
    window.close()

    again = MainWindow(Settings(settings_file))
    qtbot.addWidget(again)
    assert again.settings.recent_models()[0] == "feedforward_torch"
    assert again.settings.last_model() == "feedforward_torch"
    assert "feedforward_torch" in [a.text() for a in again.recent_menu.actions()]
    assert again.welcome.recent.item(0).data(Qt.ItemDataRole.UserRole) == "feedforward_torch"
    again.show()
    assert not again.log_dock.isVisible()  # the dock layout came back too
    assert not again.act_reload.isEnabled()  # nothing open: the last model is not run unasked


def test_the_bottom_panels_open_tall_enough_for_their_plots(qtbot, window: MainWindow):
    """First start (no saved layout): the Watch and Training plots are visible at once."""
    qtbot.waitUntil(lambda: not window._dock_sizes_pending, timeout=5_000)
    for dock in (window.debugger.watch_dock, window.panels["Training"], window.log_dock):
        dock.raise_()
        qtbot.waitUntil(dock.isVisible, timeout=5_000)
        assert 200 <= dock.height() <= 300, (dock.windowTitle(), dock.height())
    assert window.view.parentWidget().height() >= 300  # the graph keeps most of the window


def test_a_garbage_saved_layout_opens_the_default_one(qtbot, settings_file: Path):
    noise = random.Random(9)
    settings = Settings(settings_file)
    settings.save_window(QByteArray(noise.randbytes(60)), QByteArray(noise.randbytes(400)))
    settings.sync()
    win = MainWindow(Settings(settings_file))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    assert (win.width(), win.height()) == (1280, 820)
    menus = [a.text() for a in win.menuBar().actions()]
    assert win.menuBar().isVisible() and menus[0] == "&File" and menus[-1] == "&Help"
    assert win.toolbar.isVisible() and win.debugger.toolbar.isVisible()
    assert win.node_dock.isVisible() and win.log_dock.isVisible()
    qtbot.waitUntil(lambda: not win._dock_sizes_pending, timeout=5_000)
    assert win.log_dock.height() >= 200  # the default sizes, as on a first start
    assert any("layout could not be read" in e.message for e in win.log_panel.entries())
    win.close()


def test_a_saved_layout_without_toolbars_gets_them_back(qtbot, window, settings_file: Path):
    window.toolbar.hide()
    window.debugger.toolbar.hide()
    window.close()
    again = MainWindow(Settings(settings_file))
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    assert again.menuBar().isVisible() and again.statusBar().isVisible()
    assert again.toolbar.isVisible() and again.debugger.toolbar.isVisible()
    again.close()


def test_recent_list_is_capped(settings_file: Path):
    settings = Settings(settings_file)
    for i in range(15):
        settings.add_recent(f"model_{i}.py")
    recent = settings.recent_models()
    assert len(recent) == 10 and recent[0] == "model_14.py"


def test_panels_are_dockable_and_listed(window: MainWindow):
    from PySide6.QtWidgets import QLabel

    names = [a.text() for a in window.panels_menu.actions()]
    assert names[:2] == ["Node", "Log"]
    assert {"Tensor", "Breakpoints", "Watch", "Inputs"} <= set(names)  # the debugger's
    dock = window.add_panel("Watch", QLabel("watch"), Qt.DockWidgetArea.RightDockWidgetArea)
    assert "Watch" in [a.text() for a in window.panels_menu.actions()]
    assert dock.features() & dock.DockWidgetFeature.DockWidgetClosable


def visible_tab_bars_over_docks(window: MainWindow) -> list[str]:
    """Tab bars drawn over a panel or the graph (a stray bar left by tabifying)."""
    from PySide6.QtWidgets import QTabBar

    docks = [d for d in window.panels.values() if d.isVisible() and not d.isFloating()]
    docks.append(window.centralWidget())
    found = []
    for bar in window.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly):
        if not bar.isVisible():
            continue
        for dock in docks:
            if bar.geometry().intersects(dock.geometry()):
                tabs = [bar.tabText(i) for i in range(bar.count())]
                found.append(f"{' | '.join(tabs)} over {dock.windowTitle()}")
    return found


def test_no_tab_bar_is_painted_over_the_panels(qtbot, settings_file):
    win = MainWindow(Settings(settings_file))
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    QApplication.processEvents()  # once: the layout settles, nothing deleted yet
    assert not visible_tab_bars_over_docks(win)
    win.resize(900, 650)
    qtbot.waitUntil(lambda: not visible_tab_bars_over_docks(win), timeout=5_000)
    win.close()

    again = MainWindow(Settings(settings_file))  # the saved dock layout, restored
    qtbot.addWidget(again)
    again.show()
    QApplication.processEvents()
    assert not visible_tab_bars_over_docks(again)
    again.resize(1300, 850)
    qtbot.waitUntil(lambda: not visible_tab_bars_over_docks(again), timeout=5_000)
    again.close()


def test_the_window_fits_a_small_screen(qtbot, window: MainWindow):
    open_model(qtbot, window, "cnn_torch")
    hint = window.minimumSizeHint()
    assert hint.width() <= 1000 and hint.height() <= 700, hint
    window.resize(900, 600)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == (900, 600), timeout=5_000)
    for name in ("Tensor", "Breakpoints", "Watch", "Inputs", "Training"):
        window.panels[name].raise_()
        assert window.minimumSizeHint().height() <= 600, name
    assert window.view.width() >= 300 and window.view.height() >= 200


def test_welcome_samples_show_their_whole_description(qtbot, window: MainWindow):
    samples = window.welcome.samples
    assert samples.count() > 3
    for size in ((1200, 800), (900, 620)):
        window.resize(*size)
        qtbot.waitUntil(lambda s=size: (window.width(), window.height()) == s, timeout=5_000)
        QApplication.processEvents()
        for row in range(samples.count()):
            item = samples.item(row)
            label = samples.itemWidget(item)
            assert label.height() >= label.heightForWidth(label.width()), item.toolTip()
    # the scroll bar is drawn in the window's colours: no solid black handle
    bar = samples.verticalScrollBar()
    assert bar.isVisible()
    area = QRect(bar.mapTo(window, QPoint(0, 0)), bar.size())
    image = window.grab(area).toImage().convertToFormat(QImage.Format.Format_RGB32)
    darkest = min(
        QColor(image.pixel(x, y)).value()
        for x in range(image.width())
        for y in range(image.height())
    )
    assert darkest > 80


def test_toolbar_glyphs_are_in_the_toolbar_font(window: MainWindow):
    for bar in window.findChildren(QToolBar):
        for action in bar.actions():
            button = bar.widgetForAction(action)
            if button is None or not action.iconText():
                continue
            metrics = QFontMetrics(button.font())
            missing = [c for c in action.iconText() if not metrics.inFontUcs4(ord(c))]
            assert not missing, (action.iconText(), missing)
