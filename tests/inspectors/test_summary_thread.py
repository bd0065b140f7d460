"""A continue's batches: their summaries started while the next nodes run, optionally
on a thread of their own (`fused_summary.background`), give the very events, in the
very order, of summaries made on the spot."""

from __future__ import annotations

import pytest

from inspectors import events as ev
from inspectors import fused_summary
from inspectors.capture import capture
from inspectors.session import _BATCH_NODES, Session
from inspectors.target import ModelTarget

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


class Chain(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList(torch.nn.Linear(40, 40) for _ in range(200))

    def forward(self, x):
        for layer in self.layers:
            x = torch.tanh(layer(x)).transpose(0, 1).transpose(0, 1)  # views too
        return x


def continue_to_end(background: bool, monkeypatch) -> list[tuple]:
    monkeypatch.setattr(fused_summary, "background", background)
    torch.manual_seed(0)
    model = Chain().eval()
    target = ModelTarget("test:chain", "chain", "torch", model, (torch.randn(40, 40),))
    events: list[ev.Event] = []
    session = Session(capture(target, "fx"), listener=events.append)
    session.start()
    try:
        session.wait()
        session.continue_()
        pause = session.wait()
        assert pause is not None and pause.reason == ev.FINISHED
    finally:
        session.stop()
        session.join()
    seen = []
    for e in events:
        if isinstance(e, ev.NodeStepped):
            seen.append(("stepped", e.node_id, e.index, e.summaries))
        elif isinstance(e, ev.Paused):
            seen.append(("paused", e.reason, e.node_id, e.position))
    return seen


def test_summaries_on_a_thread_give_the_same_events_in_order(monkeypatch):
    here = continue_to_end(False, monkeypatch)
    threaded = continue_to_end(True, monkeypatch)
    stepped = [s for s in here if s[0] == "stepped"]
    assert len(stepped) > 3 * _BATCH_NODES  # several batches, some left in flight
    positions = [s[2] for s in stepped]
    assert positions == sorted(positions) == list(range(1, len(stepped) + 1))
    assert here[-1][:2] == ("paused", ev.FINISHED)  # the pause after every node's event
    assert threaded == here
    # the numbers are numpy's: a transposed view read from its copy is the same tensor
    last = stepped[-1][3][0]
    assert last.is_tensor and last.size == 1600 and sum(last.hist_counts) == 1600
