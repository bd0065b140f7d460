"""The Session's debugger logic over a small numpy stepper (no framework needed)."""

from __future__ import annotations

import numpy as np
import pytest

from inspectors import events as ev
from inspectors.graph import Graph
from inspectors.session import Session
from inspectors.stepping import GradientResult, NodeError


class NumpyStepper:
    """x -> scale (blk) -> shift (blk/inner) -> log (blk/inner) -> square -> out."""

    FUNCS = {
        "scale": lambda v: v * 2.0,
        "shift": lambda v: v - 1.0,
        "log": np.log,
        "square": lambda v: v * v,
    }
    SCOPES = {"scale": ("blk",), "shift": ("blk", "inner"), "log": ("blk", "inner"), "square": ()}

    def __init__(self, x: np.ndarray, fail_at: str | None = None) -> None:
        self.graph = Graph("numpy", "numpy")
        self.graph.add_node("x", kind="input", op="placeholder")
        prev = "x"
        for name, scope in self.SCOPES.items():
            self.graph.add_node(name, kind="op", op=name, scope=scope)
            self.graph.add_edge(prev, name)
            prev = name
        self.graph.add_node("out", kind="output", op="output")
        self.graph.add_edge(prev, "out")
        self.x = np.asarray(x, dtype=np.float64)
        self.fail_at = fail_at
        self.runs = 0

    def inputs(self):
        return (self.x,)

    def run(self, hook, inputs=None):
        self.runs += 1
        if inputs is not None:
            self.x = np.asarray(inputs[0], dtype=np.float64)
        value = self.x
        new = hook.node_done("x", (), (value,))
        value = new[0] if new else value
        for name, func in self.FUNCS.items():
            if name == self.fail_at:
                raise NodeError(name, ValueError(f"{name} exploded"))
            with np.errstate(all="ignore"):
                value = func(value)
            new = hook.node_done(name, self.SCOPES[name], (value,))
            value = new[0] if new else value
        hook.node_done("out", (), ("done", value.shape))
        return (value,)

    def backward(self):
        # d(sum(square(log(2x - 1))))/dx = 2 log(2x-1) * 2 / (2x - 1)
        b = 2 * self.x - 1
        dx = 2 * np.log(b) * 2 / b
        return GradientResult(
            float(np.sum(np.log(b) ** 2)), "sum of the first output", {"x": (dx,)}, {}
        )


def make(x=(1.0, 2.0, 3.0), **kw):
    stepper = NumpyStepper(np.array(x), **kw)
    events: list = []
    session = Session(
        None,
        stepper=stepper,
        stepper_factory=lambda: NumpyStepper(stepper.x),
        listener=events.append,
    )
    session.start()
    assert session.wait().reason == ev.READY
    return session, events


@pytest.fixture
def session():
    s, events = make()
    s.events = events
    yield s
    s.stop()
    s.join()


def test_step_pauses_after_each_node_in_order(session):
    seen = []
    for _ in range(3):
        session.step()
        seen.append(session.wait().node_id)
    assert seen == ["x", "scale", "shift"]
    assert session.last_pause.position == 3
    assert session.last_pause.total == 6
    np.testing.assert_allclose(session.value("shift"), [1.0, 3.0, 5.0])


def test_step_over_runs_nested_scopes_whole_and_step_out_leaves_the_scope(session):
    session.step()
    assert session.wait().node_id == "x"
    session.step_over()  # from scope (): blk and blk/inner run whole
    assert session.wait().node_id == "square"
    session.restart()
    session.wait()
    session.run_to("shift")
    assert session.wait().node_id == "shift"
    session.step_out()  # leave blk/inner
    assert session.wait().node_id == "square"


def test_continue_finishes_with_the_models_result(session):
    session.continue_()
    pause = session.wait()
    assert pause.reason == ev.FINISHED
    expected = np.log(2 * np.array([1.0, 2.0, 3.0]) - 1) ** 2
    np.testing.assert_allclose(session.run.outputs[0], expected)
    assert session.summaries["out"][0].kind == "str"  # non-tensor output described


def test_breakpoints_node_op_scope_threshold_expression(session):
    session.breakpoints.add(node="log")
    session.continue_()
    assert session.wait().node_id == "log"
    bp = session.breakpoints.add(scope=("blk", "inner"))
    session.restart()
    session.wait()
    session.continue_()
    pause = session.wait()
    assert (pause.reason, pause.node_id, pause.breakpoint_id) == (ev.BREAKPOINT, "shift", bp.id)
    session.continue_()
    assert session.wait().node_id == "log"  # node breakpoint; scope bp not re-entered
    for b in list(session.breakpoints):
        session.breakpoints.remove(b.id)
    session.breakpoints.add(condition="threshold", stat="max", above=True, value=5.5)
    expr = session.breakpoints.add(
        condition="expression", expression="abs(t).max() > 2.5 and t.min() < 0.5"
    )
    session.restart()
    session.wait()
    session.continue_()
    assert session.wait().node_id == "scale"  # max 6 > 5.5
    session.continue_()
    pause = session.wait()
    assert (pause.node_id, pause.breakpoint_id) == ("square", expr.id)
    assert expr.hits == 1


def test_stop_at_first_nan_stops_on_the_producing_node():
    session, events = make(x=(0.25, 1.0, 2.0))
    session.breakpoints.add(condition="nan")
    session.continue_()
    pause = session.wait()
    assert (pause.reason, pause.node_id) == (ev.BREAKPOINT, "log")
    assert session.summaries["log"][0].nan == 1
    assert session.summaries["shift"][0].nan == 0
    # the nodes after it only carry the NaN on: the run goes to the end
    session.continue_()
    pause = session.wait()
    assert pause.reason == ev.FINISHED
    assert session.summaries["square"][0].nan == 1  # ran after it, NaN and all
    # a new run stops at the first NaN again
    session.restart()
    session.wait()
    session.continue_()
    assert session.wait().node_id == "log"
    session.stop()


def test_exception_pauses_on_the_node_and_restart_works():
    session, events = make(fail_at="log")
    session.continue_()
    pause = session.wait()
    assert (pause.reason, pause.node_id) == (ev.EXCEPTION, "log")
    failed = [e for e in events if isinstance(e, ev.Failed)]
    assert failed and "log exploded" in failed[0].message and "ValueError" in failed[0].traceback
    session.stepper.fail_at = None
    session.restart()
    assert session.wait().reason == ev.READY
    session.continue_()
    assert session.wait().reason == ev.FINISHED
    session.stop()


def test_set_value_on_the_current_node_changes_what_follows(session):
    session.run_to("shift")
    session.wait()
    session.set_value("shift", np.full(3, 10.0))
    assert session.wait().node_id == "shift"
    np.testing.assert_allclose(session.value("shift"), 10.0)
    session.continue_()
    session.wait()
    np.testing.assert_allclose(session.run.outputs[0], np.log(10.0) ** 2)


def test_set_value_on_an_earlier_node_reruns_to_the_same_place(session):
    session.run_to("log")
    session.wait()
    runs = session.stepper.runs
    session.set_value("scale", np.full(3, 4.0))
    pause = session.wait()
    assert (pause.node_id, pause.position) == ("log", 4)
    assert session.stepper.runs == runs + 1
    np.testing.assert_allclose(session.value("log"), np.log(3.0))


def test_restart_with_new_inputs(session):
    session.restart((np.array([5.0, 5.0, 5.0]),))
    session.wait()
    session.continue_()
    session.wait()
    np.testing.assert_allclose(session.run.outputs[0], np.log(9.0) ** 2)
    assert any(isinstance(e, ev.Restarted) and e.new_inputs for e in session.events)


def test_backward_then_walk_gradients_in_reverse(session):
    session.backward()
    session.wait()
    assert any("finished run" in e.text for e in session.events if isinstance(e, ev.Message))
    session.continue_()
    session.wait()
    session.backward()
    session.wait()
    ready = [e for e in session.events if isinstance(e, ev.GradientsReady)][-1]
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(session.gradient("x"), 4 * np.log(2 * x - 1) / (2 * x - 1))
    assert ready.nodes["x"][0].shape == (3,)
    session.grad_step()
    pause = session.wait()
    assert (pause.reason, pause.node_id) == (ev.GRADIENT, "x")


def test_values_past_the_budget_are_dropped_and_recomputed():
    stepper = NumpyStepper(np.array([1.0, 2.0, 3.0]))
    events: list = []
    session = Session(
        None,
        stepper=stepper,
        stepper_factory=lambda: NumpyStepper(stepper.x),
        budget=48,
        listener=events.append,
    )
    session.start()
    session.wait()
    session.continue_()
    session.wait()
    assert session.value("scale") is None and session.store.is_dropped("scale")
    assert session.summaries["scale"][0].max == 6.0  # the summary stays
    assert session.store.nbytes <= 48
    session.fetch_value("scale")
    session.wait()
    ready = [e for e in events if isinstance(e, ev.ValueReady)][-1]
    np.testing.assert_allclose(ready.array, [2.0, 4.0, 6.0])
    assert "recomputed" in ready.message
    session.stop()
    session.join()
    assert isinstance(events[-1], ev.Stopped)


def test_restart_drops_overrides(session):
    session.run_to("shift")
    session.wait()
    session.set_value("shift", np.full(3, 10.0))
    session.wait()
    session.restart()
    session.wait()
    session.continue_()
    session.wait()
    np.testing.assert_allclose(
        session.run.outputs[0], np.log(2 * np.array([1.0, 2.0, 3.0]) - 1) ** 2
    )
    assert session.overrides == {}


def test_a_breakpoint_whose_expression_raises_pauses_once_and_is_disabled(session):
    bp = session.breakpoints.add(condition="expression", expression="t.no_such_attribute > 1")
    session.continue_()
    pause = session.wait()
    assert (pause.reason, pause.node_id, pause.breakpoint_id) == (ev.BREAKPOINT, "x", bp.id)
    assert "AttributeError" in pause.message and "disabled" in pause.message
    assert not bp.enabled and bp.hits == 0
    session.continue_()
    assert session.wait().reason == ev.FINISHED
