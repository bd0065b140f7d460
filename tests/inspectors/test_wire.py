"""Every command and event goes through plain data and back (arrays as raw buffers)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from inspectors import commands, events, wire
from inspectors.graph import Graph
from inspectors.tensors import TensorSummary, summarize

ARRAY = np.arange(6, dtype=np.float32).reshape(2, 3)
SUMMARY = summarize(np.array([1.0, np.nan, -np.inf, 2.0], np.float32))
EMPTY = summarize(np.zeros(0, np.float32))  # NaN statistics


def _graph() -> Graph:
    graph = Graph("tiny", "torch", capture="fx")
    graph.add_node("x", kind="input", op="input", outputs=[((2, None), "float32")])
    graph.add_node("fc1", kind="module", op="Linear", scope=("fc1",), subgraph="fc1.body")
    graph.add_edge("x", "fc1", shape=(2, None), dtype="float32")
    body = Graph("body", "torch")
    body.add_node("inner", kind="op", op="relu")
    graph.subgraphs["fc1.body"] = body
    return graph


GRAPH = _graph()
BREAKPOINT = {"node": "fc1", "op": None, "scope": None, "condition": "threshold",
              "stat": "absmax", "above": True, "value": 1e30, "expression": "",
              "enabled": True, "id": 7, "hits": 2}  # fmt: skip

EXAMPLES = [
    commands.Step(),
    commands.StepBack(),
    commands.StepOver(),
    commands.StepOut(),
    commands.Continue(),
    commands.RunTo("fc1"),
    commands.Pause(),
    commands.Restart(),
    commands.Restart((ARRAY, np.array([1, 2], np.int64))),
    commands.Stop(),
    commands.SetValue("fc1", ARRAY, 1),
    commands.ClearValue("fc1"),
    commands.SetStepPlumbing(True),
    commands.SetBudget(1 << 30),
    commands.Backward(),
    commands.GradStep(),
    commands.FetchValue("relu", 0),
    events.NodeAdded("op_0001", {"kind": "op", "scope": ("a", "b")}, (("x", "op_0001", {}),)),
    events.NodeStepped("fc1", 2, ("fc1",), (SUMMARY, EMPTY), True),
    events.Paused(events.BREAKPOINT, "fc1", 2, 5, 3, "on fc1", 160),
    events.Failed("fc2", "fc2: RuntimeError: shapes", "Traceback ..."),
    events.GradientsReady(
        1.5, "sum", {"fc1": (SUMMARY, None)}, {"fc1.weight": SUMMARY}, {"x": "int"}
    ),
    events.Restarted(True, (SUMMARY,)),
    events.Message("info", "hello"),
    events.ValueReady("fc1", 0, ARRAY, "recomputed"),
    events.ValueReady("fc1", 0, None, "dropped"),
    events.InputsReady((ARRAY,), (SUMMARY,)),
    commands.FetchInputs(),
    commands.FetchValue("relu", 1, gradient=True, recompute=False),
    commands.SetBreakpoints((BREAKPOINT,)),
    commands.Load("feedforward_torch", "fx", 3),
    commands.Recapture("export", 4),
    commands.CancelLoad(),
    commands.Retrace(8, 5),
    commands.SwitchTrace(1, 6),
    commands.TrainLoad("fit_exponent_torch", fresh=False),
    commands.TrainStep(50),
    commands.TrainStop(),
    commands.TrainReset("sgd"),
    commands.TrainForward(),
    commands.EndEngine(),
    events.EngineDied(-11, "killed by SIGSEGV (a crash in native code)", "fc1"),
    events.Receiving("ValueReady", 4 << 20, 12 << 20),
    commands.Shutdown(),
    events.Stopped(),
    events.ValueReady("fc1", 1, None, "", gradient=True, dropped=True),
    events.BreakpointsChanged((BREAKPOINT,)),
    events.LoadStage(3, "Capturing (fx)…"),
    events.Loaded(
        3,
        "feedforward_torch",
        "feedforward",
        "torch",
        "fx",
        GRAPH,
        "A net",
        "/x.py",
        0.25,
        ({"strategy": "fx", "reason": "no"},),
        ("note",),
        "switch",
        2,
        True,
    ),
    events.LoadFailed(3, "SyntaxError: bad", "Traceback", "retrace"),
    events.LoadCancelled(3, "the fx capture under way finishes in the background"),
    events.LoadStopped("feedforward_torch", "after the model's import"),
    events.SessionStarted("feedforward_torch", 5, True),
    events.SessionUnavailable("Stepping is not available", "Traceback"),
    events.TrainingReady({"name": "fit", "rules": ["sgd", "adam"], "learning_rate": None}),
    events.TrainingUnavailable("no loop"),
    events.Iterated(3, {"loss": 0.5, "phi": float("nan")}),
    events.TrainingFinished(-1),
    events.TrainingFailed("ValueError: x", "Traceback"),
]


def test_every_command_and_event_type_has_an_example():
    named = {type(e).__name__ for e in EXAMPLES}
    assert named | {"TensorSummary"} == set(wire.TYPES)


@pytest.mark.parametrize("obj", EXAMPLES, ids=lambda o: type(o).__name__)
def test_round_trip_through_json_and_raw_buffers(obj):
    message, buffers = wire.encode(obj)
    text = json.dumps(message, allow_nan=False)  # plain JSON: no NaN, no objects
    back = wire.decode(json.loads(text), [bytes(b) for b in buffers])
    assert type(back) is type(obj)
    # the same message again (NaN statistics compare equal this way), and equal arrays
    again, again_buffers = wire.encode(back)
    assert again == message and again_buffers == buffers
    for field in dataclasses.fields(obj):
        mine, theirs = getattr(obj, field.name), getattr(back, field.name)
        if isinstance(mine, np.ndarray):
            assert theirs.dtype == mine.dtype and np.array_equal(theirs, mine)
        if isinstance(mine, Graph):  # a Graph compares by its data
            assert theirs.to_dict() == mine.to_dict() and theirs.order == mine.order
            return
    if not buffers and '"nan"' not in text:  # nothing NaN-valued: plain equality holds
        assert back == obj


def test_tuples_stay_tuples_and_summaries_keep_their_health_counts():
    stepped = next(e for e in EXAMPLES if isinstance(e, events.NodeStepped))
    back = wire.decode(*wire.encode(stepped))
    assert back.scope == ("fc1",) and isinstance(back.summaries, tuple)
    assert (back.summaries[0].nan, back.summaries[0].neg_inf) == (1, 1)


def test_only_known_types_are_built_and_object_arrays_never_travel():
    with pytest.raises(ValueError, match="unknown message type"):
        wire.decode({"type": "os.system", "fields": {}}, [])
    with pytest.raises(TypeError):
        wire.encode(commands.SetValue("x", np.array([object()]), 0))
    with pytest.raises(ValueError):
        wire.decode({"array": 0, "dtype": "|O", "shape": [1]}, [b"12345678"])


def test_a_batch_of_node_events_crosses_columnar_and_whole():
    import math

    odd = TensorSummary(
        shape=(2, 3),
        dtype="float32",
        size=6,
        nbytes=24,
        min=-math.inf,
        max=math.nan,
        mean=math.nan,
        std=0.5,
        abs_max=math.inf,
        negative=1,
        zero=2,
        positive=1,
        nan=1,
        neg_inf=1,
        pos_inf=0,
        hist_counts=(1, 0, 3),
        hist_range=(-1.0, 2.5),
        extra={"note": "x", "big": 2**40},
    )
    plain = TensorSummary(kind="tuple", text="(1, 2)")
    steps = [
        events.NodeStepped("fc1", 1, ("layers", "0"), (odd,), overridden=True),
        events.NodeStepped("pair", 2, (), (plain, odd)),
        events.NodeStepped("none", 3, (), ()),
    ]
    message, buffers = wire.encode_steps(steps)
    again = wire.decode_steps(json.loads(json.dumps(message, allow_nan=False)), buffers)
    assert [s.node_id for s in again] == ["fc1", "pair", "none"]
    assert again[0].overridden and again[0].scope == ("layers", "0")
    got = again[1].summaries[1]
    for name in ("shape", "dtype", "size", "negative", "nan", "hist_counts", "hist_range", "extra"):
        assert getattr(got, name) == getattr(odd, name), name
    assert got.min == -math.inf and math.isnan(got.max) and got.abs_max == math.inf
    back = again[1].summaries[0]  # a non-tensor output: its numbers are NaN, as sent
    assert (back.kind, back.text, back.size) == ("tuple", "(1, 2)", 0) and math.isnan(back.min)
    assert again[2].summaries == ()
    with pytest.raises(ValueError):
        wire.decode_steps({"steps": [["a", 1, [], False, 1]], "summaries": []}, buffers)
