"""Step back: one node back in time, live (the model runs again to there) and in a
recording (it rewinds); each pause's values are those the node had the first time."""

from __future__ import annotations

import numpy as np
import pytest

from inspectors import commands as cmds
from inspectors import events as ev
from inspectors.engine import Engine, EventLog
from inspectors.recording import Recorder, ReplayEngine, read
from inspectors.target import load_target


def ask(client, log, command, kind=ev.Paused):
    mark = log.mark()
    client.send(command)
    return log.wait_for(kind, 60, after=mark)


def pauses_of(client, log, sequence):
    return [(p.reason, p.node_id, p.position) for p in (ask(client, log, c) for c in sequence)]


SEQUENCE = [cmds.Step(), cmds.Step(), cmds.Step(), cmds.StepBack(), cmds.StepBack()]


@pytest.fixture
def live():
    engine = Engine()
    log = EventLog()
    recorder = Recorder()
    engine.add_listener(log)
    engine.add_listener(recorder)
    engine.open_target(load_target("feedforward_torch"), "fx")
    log.wait_for(ev.Paused, 60)
    yield engine, log, recorder
    engine.close()


@pytest.mark.torch
def test_step_back_pauses_on_the_node_before_with_its_first_value(live):
    engine, log, _recorder = live
    pauses = pauses_of(engine, log, SEQUENCE)
    ran = [p[1] for p in pauses[:3]]
    assert pauses == [
        (ev.STEP, ran[0], 1),
        (ev.STEP, ran[1], 2),
        (ev.STEP, ran[2], 3),
        (ev.STEP, ran[1], 2),
        (ev.STEP, ran[0], 1),
    ]
    assert ask(engine, log, cmds.StepBack()).reason == ev.READY  # before the first node
    assert ask(engine, log, cmds.StepBack()).reason == ev.READY  # and it stays there
    first = ask(engine, log, cmds.Continue())
    assert first.reason == ev.FINISHED
    back = ask(engine, log, cmds.StepBack())  # from the end: the node before the last
    assert (back.reason, back.position) == (ev.STEP, first.position - 1)
    value = ask(engine, log, cmds.FetchValue(back.node_id), ev.ValueReady)
    assert ask(engine, log, cmds.Restart()).reason == ev.READY
    assert ask(engine, log, cmds.RunTo(back.node_id)).node_id == back.node_id
    again = ask(engine, log, cmds.FetchValue(back.node_id), ev.ValueReady)
    np.testing.assert_array_equal(value.array, again.array)


@pytest.mark.torch
def test_a_recording_steps_back_as_the_live_engine_does(live, tmp_path):
    engine, log, recorder = live
    ask(engine, log, cmds.Continue())
    path = recorder.save(tmp_path / "run.gsrec")
    ask(engine, log, cmds.Restart())
    expected = pauses_of(engine, log, SEQUENCE)
    replay = ReplayEngine(read(path))
    replay_log = EventLog()
    replay.add_listener(replay_log)
    assert pauses_of(replay, replay_log, SEQUENCE) == expected
