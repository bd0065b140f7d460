"""The Training panel and the side-by-side training view, offscreen: iterations run on
the worker thread, plots fill as they land, phi approaches the hidden value."""

from __future__ import annotations

from pathlib import Path

import pytest

from gui.panels.training_panel import TrainingPanel
from gui.teaching.training import TrainingCompare
from inspectors import commands as cmds
from inspectors import events as ev
from tests.gui.test_main_window import open_model

RUN_TIMEOUT = 60_000
HIDDEN_PHI = 2.5
SHOTS = Path("/tmp/shots")


def shot(widget, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    widget.layout().activate()  # plots added since the last event loop pass get their size
    widget.grab().save(str(SHOTS / f"training_{name}.png"))


@pytest.fixture
def panel(qtbot):
    pytest.importorskip("torch")
    widget = TrainingPanel()
    qtbot.addWidget(widget)
    widget.resize(1000, 360)
    widget.show()
    yield widget
    widget.shutdown()


def ready(qtbot, panel: TrainingPanel, spec: str) -> None:
    with qtbot.waitSignal(panel.was_reset, timeout=RUN_TIMEOUT):
        panel.load_spec(spec)
    assert panel.available and panel.run_button.isEnabled()


def test_run_twenty_iterations_of_the_torch_fit(qtbot, panel):
    ready(qtbot, panel, "fit_exponent_torch")
    assert [panel.rule_combo.itemText(i) for i in range(panel.rule_combo.count())] == [
        "gradient descent",
        "SGD with momentum",
    ]
    assert panel.run_count.value() == 20
    assert (panel.progress.value(), panel.progress.maximum()) == (0, 20)  # "0 / 20"
    panel.run_count.setValue(7)
    assert panel.progress.maximum() == 7
    panel.run_count.setValue(20)
    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT) as done:
        panel.run_button.click()
        assert panel.stop_button.isEnabled() and not panel.step_button.isEnabled()
    assert done.args == [20]
    assert set(panel.plots) == {"loss", "phi", "grad_phi"}
    for plot in panel.plots.values():
        assert len(plot.xs) == 20 and plot.xs == list(range(1, 21))
    assert panel.plots["loss"].getPlotItem().ctrl.logYCheck.isChecked()
    phi = panel.history["phi"][-1]
    assert abs(phi - HIDDEN_PHI) < 0.2
    assert panel.progress.value() == 20
    assert "iteration 20" in panel.status.text()
    assert panel.plots["phi"].reference.value() == HIDDEN_PHI
    shot(panel, "panel")

    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT):
        panel.step_button.click()
    assert len(panel.plots["phi"].xs) == 21

    with qtbot.waitSignal(panel.was_reset, timeout=RUN_TIMEOUT):
        panel.reset_button.click()
    assert panel.history == {} and panel.plots == {}


def test_stop_ends_a_run_between_iterations(qtbot, panel):
    ready(qtbot, panel, "fit_exponent_torch")
    panel.run_count.setValue(100_000)
    panel.iterated.connect(lambda n, _m: panel.stop() if n == 3 else None)
    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT) as done:
        panel.run_button.click()
    assert 3 <= done.args[0] < 100_000
    assert not panel.running and panel.run_button.isEnabled()


def test_choosing_momentum_resets_and_trains_with_it(qtbot, panel):
    ready(qtbot, panel, "fit_exponent_torch")
    with qtbot.waitSignal(panel.was_reset, timeout=RUN_TIMEOUT):
        panel.set_rule("SGD with momentum")
    assert panel.info["rule"] == "SGD with momentum"
    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT):
        panel.run_iterations(10)
    # momentum has carried phi past the hidden value by iteration 10 (plain GD: 1.93)
    assert panel.history["phi"][-1] > HIDDEN_PHI


def test_a_model_without_train_step_says_so(qtbot, panel, tmp_path):
    path = tmp_path / "plain.py"
    path.write_text(
        "import torch\n"
        "def build():\n    return torch.nn.Linear(2, 1)\n"
        "def example_inputs():\n    return torch.ones(3, 2)\n"
    )
    panel.load_spec(str(path))
    qtbot.waitUntil(lambda: "no training loop" in panel.status.text(), timeout=RUN_TIMEOUT)
    assert not panel.available and not panel.run_button.isEnabled()


def test_side_by_side_trains_both_frameworks(qtbot):
    pytest.importorskip("torch")
    pytest.importorskip("tensorflow")
    compare = TrainingCompare()
    qtbot.addWidget(compare)
    compare.resize(1300, 760)
    compare.show()
    try:
        qtbot.waitUntil(lambda: all(p.available for p in compare.panels), timeout=RUN_TIMEOUT)
        assert compare.rule_combo.count() == 2
        frameworks = [p.info["framework"] for p in compare.panels]
        assert frameworks == ["torch", "tensorflow"]
        compare.run_button.click()
        qtbot.waitUntil(
            lambda: (
                not compare.is_running()
                and all(len(p.history.get("phi", [])) == 20 for p in compare.panels)
            ),
            timeout=RUN_TIMEOUT,
        )
        for side, panel in enumerate(compare.panels):
            phi = panel.history["phi"]
            assert abs(phi[-1] - HIDDEN_PHI) < abs(1.0 - HIDDEN_PHI) / 5
            assert compare.points[side][1] == phi
        torch_phi, tf_phi = (p.history["phi"] for p in compare.panels)
        assert torch_phi == pytest.approx(tf_phi, rel=1e-5)
        shot(compare, "side_by_side")
    finally:
        compare.shutdown()


def test_window_trains_the_loaded_model_and_steps_an_iteration_forward(qtbot, window):
    pytest.importorskip("torch")
    hookup = window.training
    assert "Training" in window.panels
    assert hookup.compare_action in window.menus["teaching"].actions()
    panel = hookup.panel
    with qtbot.waitSignal(panel.was_reset, timeout=RUN_TIMEOUT):
        open_model(qtbot, window, "fit_exponent_torch")
    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT):
        panel.run_iterations(5)
    phi = panel.history["phi"][-1]

    with qtbot.waitSignal(window.model_loaded, timeout=RUN_TIMEOUT) as loaded:
        panel.forward_button.click()
    result = loaded.args[0]
    assert result.name == "fit_exponent_torch · iteration 6 forward"
    assert len(panel.history["phi"]) == 5  # training was left as it was
    debugger = window.debugger
    qtbot.waitUntil(
        lambda: debugger.engine is not None and debugger.last_pause is not None,
        timeout=RUN_TIMEOUT,
    )
    engine = debugger.engine
    with qtbot.waitSignal(engine.paused, timeout=RUN_TIMEOUT) as paused:
        engine.send(cmds.Continue())
    assert paused.args[0].reason == ev.FINISHED
    value = window.debugger.summaries["phi"][0]
    assert value.mean == pytest.approx(phi)
    shot(window, "window")


def test_side_by_side_opens_from_the_teaching_menu(qtbot, window):
    pytest.importorskip("tensorflow")
    window.training.compare_action.trigger()
    compare = window.training.compare
    assert compare is not None and compare.isVisible()
    qtbot.waitUntil(lambda: all(p.available for p in compare.panels), timeout=RUN_TIMEOUT)
