"""The GUI's Engine: an EngineClient's events as (batched) signals on the GUI thread,
and `running` while a run command is owed its pause."""

import pytest

from gui.debugging.engine import Engine
from inspectors import commands as cmds
from inspectors import events as ev
from tests.gui.fake_engine import SPEC, FakeEngine


@pytest.fixture
def engine(qtbot):
    fake = FakeEngine()
    eng = Engine(fake)
    with qtbot.waitSignal(eng.paused, timeout=5000) as ready:
        eng.send(cmds.Load(SPEC, "auto", 1))
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
    batches: list = []
    engine.nodes_stepped.connect(batches.append)
    with qtbot.waitSignal(engine.paused, timeout=5000) as done:
        engine.send(cmds.Continue())
        assert engine.running  # owed its pause until the events arrive
    assert [e.node_id for e in stepped] == ["x", "fc1", "relu", "output"]
    assert len(batches) == 1  # three nodes in one flush: one signal
    assert done.args[0].reason == ev.FINISHED
    assert not engine.running


def test_every_event_type_reaches_its_signal(qtbot, engine):
    got: list = []
    for name in ("gradients_ready", "value_ready", "inputs_ready", "breakpoints_changed"):
        getattr(engine, name).connect(got.append)
    engine.send(cmds.Continue())
    engine.send(cmds.Backward())
    engine.send(cmds.FetchValue("fc1"))
    engine.send(cmds.FetchInputs())
    engine.send(cmds.SetBreakpoints(()))
    qtbot.waitUntil(lambda: len(got) == 4, timeout=5000)
    assert [type(e) for e in got] == [
        ev.GradientsReady,
        ev.ValueReady,
        ev.InputsReady,
        ev.BreakpointsChanged,
    ]


def test_shutdown_closes_the_client_and_nothing_more_is_sent(qtbot, engine):
    fake = engine.client
    engine.shutdown()
    assert fake.closed
    engine.send(cmds.Step())
    assert not isinstance(fake.commands[-1], cmds.Step)
