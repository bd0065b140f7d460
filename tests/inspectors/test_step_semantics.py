"""The step commands' contract (README, "Stepping: what each command does"), as exact
sequences of pauses on every sample, in every capture strategy that applies.

Step into pauses on every node that is not plumbing, in execution order. Step over
from the start pauses once per unit of the model's own top level: a node run there,
or a whole call (module / loop / function call), on its last node. Both end on the
output node and then `finished`. A few sequences are spelled out by hand as well, so
the rule and its implementation cannot drift together unnoticed.
"""

from __future__ import annotations

import pytest

from inspectors import events as ev
from inspectors.capture import STRATEGIES, capture
from inspectors.session import Session
from inspectors.step_levels import frame_of, is_plumbing, node_attrs
from inspectors.target import TargetError, list_samples, load_target

SAMPLES = [(s.name, s.framework) for s in list_samples()]
CASES = [(name, strategy) for name, framework in SAMPLES for strategy in STRATEGIES[framework]]

#: Hand-written sequences of step over from the start (the `finished` pause not shown).
STEP_OVER = {
    ("feedforward_torch", "fx"): ["x", "fc1", "relu", "fc2", "output"],
    ("feedforward_torch", "export"): ["x", "linear", "relu", "linear_1", "output"],
    ("feedforward_torch", "eager"): ["x", "op_0000", "op_0001", "op_0002", "output"],
    ("feedforward_keras", "function"): [
        "input",
        "feedforward_1/fc1_1/MatMul",
        "feedforward_1/fc1_1/BiasAdd",
        "feedforward_1/fc1_1/Relu",
        "feedforward_1/fc2_1/MatMul",
        "feedforward_1/fc2_1/BiasAdd",
        "output",
    ],
    ("while_tf", "function"): (
        [
            "x",
            "steps",
            "range",
            "sub",
            "floordiv",
            "mod",
            "NotEqual",
            "Cast",
            "add",
            "Maximum",
            "while",
            "output",
        ]
    ),
}


def walk(session: Session, command: str) -> list[tuple[str | None, str]]:
    """Restart, then repeat `command` until the run ends: every (node, reason) paused at."""
    session.restart()
    session.wait()
    pauses: list[tuple[str | None, str]] = []
    while not pauses or pauses[-1][1] == ev.STEP:
        getattr(session, command)()
        pause = session.wait()
        assert pause is not None
        pauses.append((pause.node_id, pause.reason))
        assert len(pauses) <= 2 * len(session.run.executed) + 2, f"{command} never finished"
    return pauses


def breakpoint_hits(session: Session) -> list[str]:
    """Continue until the run stops for something other than a breakpoint: the nodes hit."""
    hits: list[str] = []
    while True:
        session.continue_()
        pause = session.wait()
        if pause.reason != ev.BREAKPOINT:
            return hits
        hits.append(pause.node_id)


def step_over_units(session: Session) -> list[str]:
    """The last node of each unit of the top level, from a finished run's execution."""
    graph = session.graph
    ends: list[str] = []
    unit, last, real = None, None, False
    for node_id in session.run.executed:
        attrs = node_attrs(graph, node_id)
        frame = frame_of(node_id, session.run.scopes[node_id], attrs, graph.framework)
        key = frame[0] if frame else ("node", node_id)
        if key != unit:
            if real:
                ends.append(last)
            unit, real = key, False
        last = node_id
        real = real or not is_plumbing(node_id, attrs)
    if real:
        ends.append(last)
    return ends


@pytest.fixture(scope="module")
def targets():
    return {}


@pytest.mark.parametrize(("name", "strategy"), CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_step_into_and_step_over_pause_where_the_table_says(targets, name, strategy):
    if name not in targets:
        targets[name] = load_target(name)
    try:
        captured = capture(targets[name], strategy)
    except TargetError as exc:
        pytest.skip(f"{strategy} does not apply: {exc}")
    session = Session(captured)
    session.start()
    try:
        session.wait()
        session.continue_()
        end = session.wait()
        if end.reason != ev.FINISHED:
            pytest.skip(f"{name} does not run to the end: {end.message}")
        executed = list(session.run.executed)
        graph = session.graph
        output = executed[-1]

        session.set_step_plumbing(True)  # every node, into loop bodies and branches
        every = [n for n, reason in walk(session, "step") if reason == ev.STEP]
        if not graph.subgraphs:
            assert every == executed
        session.set_step_plumbing(False)
        real = [n for n in every if not is_plumbing(n, node_attrs(graph, n))]
        into = walk(session, "step")
        assert into == [(n, ev.STEP) for n in real] + [(output, ev.FINISHED)]

        over = walk(session, "step_over")
        units = step_over_units(session)
        assert over == [(n, ev.STEP) for n in units] + [(output, ev.FINISHED)]
        if (name, strategy) in STEP_OVER:
            assert units == STEP_OVER[name, strategy]

        out = walk(session, "step_out")  # from the top level: to the end
        assert out == [(output, ev.FINISHED)]
    finally:
        session.stop()
        session.join()
