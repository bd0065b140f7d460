"""The engine behind `EngineClient`: loading, the session, queries and training, all
through `send(command)` and events, checked against the frameworks themselves."""

from __future__ import annotations

import numpy as np
import pytest

from inspectors import commands as cmds
from inspectors import events as ev
from inspectors.engine import Engine, EventLog


@pytest.fixture
def engine():
    log = EventLog()
    engine = Engine(log)
    engine.log = log  # type: ignore[attr-defined]
    yield engine
    engine.close()


def load(engine, spec: str, job: int = 1) -> ev.Loaded:
    log = engine.log
    mark = log.mark()
    engine.send(cmds.Load(spec, "auto", job))
    loaded = log.wait_for((ev.Loaded, ev.LoadFailed), after=mark)
    assert isinstance(loaded, ev.Loaded), loaded
    log.wait_for(ev.Paused, after=mark)  # ready
    return loaded


def run(engine, command: cmds.Command) -> ev.Paused:
    mark = engine.log.mark()
    engine.send(command)
    return engine.log.wait_for(ev.Paused, after=mark)


def ask(engine, command: cmds.Command, kind: type) -> object:
    mark = engine.log.mark()
    engine.send(command)
    return engine.log.wait_for(kind, after=mark)


def test_load_then_continue_gives_the_models_own_output(engine):
    loaded = load(engine, "feedforward_torch")
    events = engine.log.events
    kinds = [type(e) for e in events]
    # stages, then the graph, then the session, then its ready pause
    assert kinds.index(ev.LoadStage) < kinds.index(ev.Loaded) < kinds.index(ev.SessionStarted)
    assert kinds.index(ev.SessionStarted) < kinds.index(ev.Paused)
    started = engine.log.of(ev.SessionStarted)[0]
    assert started.total == len(loaded.graph.order) and loaded.capture == "fx"
    assert loaded.origin == "load" and not loaded.trainable
    assert run(engine, cmds.Continue()).reason == ev.FINISHED
    value = ask(engine, cmds.FetchValue("output"), ev.ValueReady)
    target = engine.target
    expected = target.call().detach().numpy()
    np.testing.assert_allclose(value.array, expected, rtol=1e-6)


def test_breakpoints_are_sent_whole_and_hits_come_back(engine):
    load(engine, "feedforward_torch")
    item = {"node": "relu", "enabled": True, "id": 41, "hits": 0}
    changed = ask(engine, cmds.SetBreakpoints((item,)), ev.BreakpointsChanged)
    assert [(b["node"], b["id"], b["hits"]) for b in changed.items] == [("relu", 41, 0)]
    mark = engine.log.mark()
    pause = run(engine, cmds.Continue())
    assert (pause.reason, pause.node_id, pause.breakpoint_id) == (ev.BREAKPOINT, "relu", 41)
    hit = engine.log.wait_for(ev.BreakpointsChanged, after=mark)
    assert hit.items[0]["hits"] == 1
    # replacing the list keeps the engine's hit count for the same breakpoint
    again = ask(engine, cmds.SetBreakpoints((item,)), ev.BreakpointsChanged)
    assert again.items[0]["hits"] == 1
    assert ask(engine, cmds.SetBreakpoints(()), ev.BreakpointsChanged).items == ()
    assert run(engine, cmds.Continue()).reason == ev.FINISHED


def test_gradients_are_fetched_as_values(engine):
    load(engine, "feedforward_torch")
    run(engine, cmds.Continue())
    ready = ask(engine, cmds.Backward(), ev.GradientsReady)
    assert "fc1" in ready.nodes
    grad = ask(engine, cmds.FetchValue("fc1", 0, gradient=True), ev.ValueReady)
    assert grad.gradient and grad.array is not None
    np.testing.assert_array_equal(grad.array, engine.session.gradient("fc1", 0))
    none = ask(engine, cmds.FetchValue("x", 5, gradient=True), ev.ValueReady)
    assert none.array is None and "no gradient" in none.message


def test_a_value_dropped_by_the_budget_is_recomputed_only_when_asked(engine):
    engine.send(cmds.SetBudget(1))  # kept for the session the load starts
    load(engine, "feedforward_torch")
    run(engine, cmds.Continue())
    dropped = ask(engine, cmds.FetchValue("fc1", 0, recompute=False), ev.ValueReady)
    assert dropped.array is None and dropped.dropped
    again = ask(engine, cmds.FetchValue("fc1", 0), ev.ValueReady)
    assert again.array is not None and "recomputed" in again.message


def test_a_model_file_with_a_syntax_error_fails_to_load_and_keeps_the_model(engine, tmp_path):
    load(engine, "feedforward_torch")
    bad = tmp_path / "bad.py"
    bad.write_text("def build(:\n")
    failed = ask(engine, cmds.Load(str(bad), "auto", 2), ev.LoadFailed)
    assert failed.job == 2 and "syntax error at line 1" in failed.message
    assert engine.target.name == "feedforward_torch" and engine.session is not None
    assert run(engine, cmds.Step()).reason == ev.STEP


def test_session_commands_before_any_model_say_so(engine):
    message = ask(engine, cmds.Continue(), ev.Message)
    assert "open one first" in message.text
    failed = ask(engine, cmds.Recapture("eager", 5), ev.LoadFailed)
    assert failed.origin == "recapture" and "No model" in failed.message


def test_recapture_with_another_strategy_starts_a_new_session(engine):
    load(engine, "feedforward_torch")
    mark = engine.log.mark()
    engine.send(cmds.Recapture("eager", 2))
    loaded = engine.log.wait_for(ev.Loaded, after=mark)
    started = engine.log.wait_for(ev.SessionStarted, after=mark)
    assert (loaded.capture, loaded.origin, started.eager) == ("eager", "recapture", True)
    engine.log.wait_for(ev.Paused, after=mark)
    assert run(engine, cmds.Continue()).reason == ev.FINISHED


def test_cancel_answers_and_the_load_never_lands(engine):
    mark = engine.log.mark()
    engine.send(cmds.Load("feedforward_torch", "auto", 9))
    engine.send(cmds.CancelLoad())
    cancelled = engine.log.wait_for(ev.LoadCancelled, after=mark)
    assert cancelled.job == 9
    engine.log.wait_for(ev.LoadStopped, after=mark)
    assert not engine.log.of(ev.Loaded) and engine.session is None


def test_training_runs_on_the_engine(engine):
    mark = engine.log.mark()
    engine.send(cmds.TrainLoad("fit_exponent_torch", fresh=False))
    ready = engine.log.wait_for((ev.TrainingReady, ev.TrainingUnavailable), after=mark)
    assert isinstance(ready, ev.TrainingReady) and ready.info["rules"]
    mark = engine.log.mark()
    engine.send(cmds.TrainStep(3))
    finished = engine.log.wait_for(ev.TrainingFinished, after=mark)
    iterations = [e.number for e in engine.log.events[mark:] if isinstance(e, ev.Iterated)]
    assert finished.done == 3 and iterations == [1, 2, 3]
    assert all(np.isfinite(e.metrics["loss"]) for e in engine.log.of(ev.Iterated))
    mark = engine.log.mark()
    engine.send(cmds.TrainForward())
    loaded = engine.log.wait_for(ev.Loaded, after=mark)
    assert loaded.origin == "training" and loaded.detail == 4
    engine.log.wait_for(ev.SessionStarted, after=mark)


def test_a_model_without_a_training_loop_says_how_to_add_one(engine):
    load(engine, "feedforward_torch")
    unavailable = ask(engine, cmds.TrainLoad(), ev.TrainingUnavailable)
    assert "train_step" in unavailable.text
