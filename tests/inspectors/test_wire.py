"""Every command and event goes through plain data and back (arrays as raw buffers)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from inspectors import commands, events, wire
from inspectors.tensors import summarize

ARRAY = np.arange(6, dtype=np.float32).reshape(2, 3)
SUMMARY = summarize(np.array([1.0, np.nan, -np.inf, 2.0], np.float32))
EMPTY = summarize(np.zeros(0, np.float32))  # NaN statistics

EXAMPLES = [
    commands.Step(),
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
    events.Stopped(),
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
