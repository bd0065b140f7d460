"""A model that spends long inside one node: the nodes it ran before are reported
anyway (the batch they wait in is sent after a moment), so a window shows where the
model is, not where the last full batch ended."""

from __future__ import annotations

import time

import pytest

from inspectors import commands as cmds
from inspectors import events as ev
from inspectors.engine import Engine, EventLog
from inspectors.session import FLUSH_AFTER_S
from inspectors.target import load_target
from tests.inspectors.test_remote import HANGS

pytestmark = pytest.mark.torch


def test_the_nodes_before_a_long_one_are_reported_while_it_runs(tmp_path):
    model = tmp_path / "hangs.py"
    model.write_text(HANGS)
    engine = Engine()
    log = EventLog()
    engine.add_listener(log)
    try:
        engine.open_target(load_target(str(model)), "eager")
        log.wait_for(ev.Paused, 60)
        (tmp_path / "armed").touch()
        mark = log.mark()
        engine.send(cmds.Continue())  # no breakpoint: nodes are summarised in batches
        deadline = time.monotonic() + 20 * FLUSH_AFTER_S

        def reported() -> list[str]:
            return [e.node_id for e in log.events[mark:] if isinstance(e, ev.NodeStepped)]

        # the op before the endless loop (the last node added) is reported while it spins
        while time.monotonic() < deadline:
            added = [e.node_id for e in log.events[mark:] if isinstance(e, ev.NodeAdded)]
            if len(added) >= 2 and added[-1] in reported():
                break
            time.sleep(0.05)
        assert len(added) >= 2 and added[-1] in reported(), (added, reported())
        assert "output" not in reported()  # still inside the model
        assert not [e for e in log.events[mark:] if isinstance(e, ev.Paused)]
    finally:
        (tmp_path / "armed").unlink(missing_ok=True)  # the forward returns
        engine.close()
