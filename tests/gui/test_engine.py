"""The Engine delivers a Session's events on the GUI thread as (batched) signals."""

import numpy as np
import pytest

from gui.engine import Engine
from inspectors import commands as cmds
from inspectors import events as ev
from inspectors.session import Session
from tests.inspectors.test_session import NumpyStepper


@pytest.fixture
def engine(qtbot):
    stepper = NumpyStepper(np.array([1.0, 2.0, 3.0]))
    eng = Engine(Session(None, stepper=stepper, stepper_factory=lambda: NumpyStepper(stepper.x)))
    with qtbot.waitSignal(eng.paused, timeout=5000) as ready:
        eng.start()
    assert ready.args[0].reason == ev.READY
    yield eng
    eng.shutdown()


def test_step_and_continue_arrive_as_signals_in_order(qtbot, engine):
    stepped: list = []
    engine.nodes_stepped.connect(stepped.extend)
    with qtbot.waitSignal(engine.paused, timeout=5000) as pause:
        engine.send(cmds.Step())
    assert pause.args[0].node_id == "x" and [e.node_id for e in stepped] == ["x"]
    assert not engine.running
    with qtbot.waitSignals([engine.running_changed, engine.paused], timeout=5000):
        engine.send(cmds.Continue())
    assert pause.args[0].node_id == "x"
    assert [e.node_id for e in stepped] == ["x", "scale", "shift", "log", "square", "out"]
    assert engine.session.last_pause.reason == ev.FINISHED


def test_failure_and_gradients_signals(qtbot, engine):
    engine.session.stepper.fail_at = "shift"
    with qtbot.waitSignal(engine.failed, timeout=5000) as failed:
        engine.send(cmds.Continue())
    assert failed.args[0].node_id == "shift"
    engine.session.stepper.fail_at = None
    with qtbot.waitSignal(engine.restarted, timeout=5000):
        engine.send(cmds.Restart())
    with qtbot.waitSignal(engine.paused, timeout=5000):
        engine.send(cmds.Continue())
    with qtbot.waitSignal(engine.gradients_ready, timeout=5000) as grads:
        engine.send(cmds.Backward())
    assert "x" in grads.args[0].nodes


def test_shutdown_ends_the_engine_thread(qtbot, engine):
    with qtbot.waitSignal(engine.stopped, timeout=5000):
        engine.shutdown()
    assert not engine.session._thread.is_alive()
