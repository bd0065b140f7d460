"""`graphstep run` and `graphstep open` as a user runs them: events, messages, options."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from inspectors import cli
from inspectors.graph import Graph
from inspectors.run_command import at_node, captured_json
from tests.cli.test_cli import MODEL, graphstep
from tests.inspectors.test_target import FAILS_MID_WAY

FAILS_AT_FC2 = FAILS_MID_WAY  # fc2 takes 6 features and gets 8


def test_run_json_starts_with_the_captured_event(tmp_path):
    model = tmp_path / "net.py"
    model.write_text(MODEL)
    out = graphstep("run", str(model), "--json")
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert events[0] == {"event": "captured", "strategy": "fx", "nodes": 5, "failed": {}}
    assert events[-1]["event"] == "finished"
    assert [e["event"] for e in events].count("captured") == 1


def test_the_captured_event_says_why_earlier_strategies_failed():
    out = graphstep("run", "dynamic_torch", "--json")
    assert out.returncode == 0, out.stderr
    first = json.loads(out.stdout.splitlines()[0])
    assert first["event"] == "captured" and first["strategy"] == "eager"
    assert first["nodes"] > 0
    assert set(first["failed"]) == {"fx", "export"}
    assert "fx cannot follow Python control flow" in first["failed"]["fx"]
    assert "dynamic_torch.py:" in first["failed"]["export"]


def test_captured_json_keeps_one_line_per_failed_strategy():
    graph = Graph("m", "torch")
    graph.add_node("x", kind="input", op="input")
    graph.meta["failures"] = [
        {"strategy": "fx", "reason": "fx cannot follow it\nmore detail", "error": "E: long"},
        {"strategy": "export", "reason": "", "error": "ValueError: bad\ntraceback..."},
    ]
    failures = tuple(graph.meta["failures"])
    event = captured_json(SimpleNamespace(graph=graph, capture="eager", failures=failures))
    assert event == {
        "event": "captured",
        "strategy": "eager",
        "nodes": 1,
        "failed": {"fx": "fx cannot follow it", "export": "ValueError: bad"},
    }


def test_an_exception_names_its_node_once(tmp_path):
    model = tmp_path / "fails.py"
    model.write_text(FAILS_AT_FC2)
    out = graphstep("run", str(model))
    assert out.returncode == 2, out.stderr
    assert "failed at fc2: RuntimeError: mat1 and mat2 shapes" in out.stderr
    assert "stopped: exception at fc2: RuntimeError: mat1 and mat2 shapes" in out.stdout
    assert "fc2: fc2:" not in out.stderr + out.stdout


@pytest.mark.parametrize(
    ("node", "message", "expected"),
    [
        ("_0", "_0: ValueError: bad", "_0: ValueError: bad"),
        ("_0", "ValueError: bad", "_0: ValueError: bad"),
        ("_0", "_01: ValueError: bad", "_0: _01: ValueError: bad"),
        (None, "backward failed: E", "backward failed: E"),
    ],
)
def test_at_node_never_repeats_the_node(node, message, expected):
    assert at_node(node, message) == expected


def test_open_accepts_fresh_and_forwards_it(monkeypatch):
    seen: list[list[str]] = []
    monkeypatch.setattr(cli, "_open_gui", lambda argv: seen.append(argv) or 0)
    assert cli.main(["open", "--fresh", "feedforward_torch"]) == 0
    assert cli.main(["open", "--fresh"]) == 0
    assert cli.main(["open", "feedforward_torch", "--capture", "eager"]) == 0
    assert seen == [
        ["feedforward_torch", "--fresh"],
        ["--fresh"],
        ["feedforward_torch", "--capture", "eager"],  # no --capture given: the saved one
    ]
    from gui.app import parse_args  # what the app makes of it

    args = parse_args(seen[0])
    assert args.fresh and args.spec == "feedforward_torch" and args.capture is None


@pytest.mark.parametrize("argv", [["--help"], ["open", "--help"]])
def test_help_shows_fresh(argv, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 0
    assert "--fresh" in capsys.readouterr().out


def test_a_reader_that_goes_away_ends_the_run_quietly():
    """`graphstep run SPEC --json | head -1`: no traceback per remaining event."""
    import subprocess
    import sys

    from tests.cli.test_cli import ROOT

    code = "import sys\nfrom inspectors.cli import main\nraise SystemExit(main(sys.argv[1:]))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "run", "dynamic_torch", "--json"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with proc:
        assert proc.stdout is not None and proc.stderr is not None
        first = json.loads(proc.stdout.readline())
        proc.stdout.close()  # as `head -1` does
        err = proc.stderr.read()
        code = proc.wait(timeout=120)
    assert first["event"] == "captured"
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert code in (0, cli.EXIT_BROKEN_PIPE)  # 0 only if the run ended before the close


SLOW = """
import time
import torch
from torch import nn


class Slow(nn.Module):
    def forward(self, x):
        time.sleep(0.05)
        return x + 1


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList(Slow() for _ in range(100))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def build():
    return Net()


def example_inputs():
    return (torch.ones(1),)
"""


def test_ctrl_c_stops_a_run_and_says_where_it_was(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    model = tmp_path / "slow.py"
    model.write_text(SLOW)
    code = "import sys\nfrom inspectors.cli import main\nraise SystemExit(main(sys.argv[1:]))"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "run", str(model), "--capture", "eager"],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while "nodes" not in process.stderr.readline() and time.monotonic() < deadline:
        pass  # the graph summary: the capture (which runs the model once) is over
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "interrupted after" in err
