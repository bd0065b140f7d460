"""Recordings: `graphstep run SPEC --record FILE` writes one run; `graphstep run FILE`
replays it with the same events and exit codes, with neither framework importable."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from inspectors import cli
from inspectors import commands as cmds
from inspectors import events as ev
from inspectors.engine import EventLog
from inspectors.recording import ReplayEngine, read

ROOT = Path(__file__).resolve().parents[2]

#: Runs the CLI in a Python where torch, TensorFlow and Keras cannot be imported.
NO_FRAMEWORKS = (
    "import sys\n"
    "for name in ('torch', 'tensorflow', 'keras'):\n"
    "    sys.modules[name] = None  # `import torch` raises ImportError\n"
    "from inspectors.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def graphstep(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def without_frameworks(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", NO_FRAMEWORKS, *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def events_of(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture(scope="module")
def nan_recording(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("rec") / "nan_torch.gsrec"
    code = cli.main(["run", "nan_torch", "--json", "--record", str(path)])
    assert code == 0 and path.is_file()
    return path


@pytest.mark.torch
def test_a_replay_prints_what_the_live_run_printed(capsys, nan_recording):
    live = graphstep(capsys, "run", "nan_torch", "--json")
    replayed = without_frameworks("run", str(nan_recording), "--json")
    assert replayed.returncode == live[0] == 0, replayed.stderr
    assert replayed.stdout == live[1]


@pytest.mark.torch
def test_a_replayed_nan_run_breaks_after_log_with_exit_3(capsys, nan_recording):
    live = graphstep(capsys, "run", "nan_torch", "--json", "--break-on", "nan")
    replayed = without_frameworks("run", str(nan_recording), "--json", "--break-on", "nan")
    assert replayed.returncode == live[0] == 3, replayed.stderr
    mine, theirs = events_of(replayed.stdout), events_of(live[1])
    assert mine[-1] == theirs[-1]
    assert mine[-1]["event"] == "paused" and mine[-1]["node"] == "log"
    assert [e.get("node") for e in mine] == [e.get("node") for e in theirs]
    for a, b in zip(mine, theirs, strict=True):  # the same numbers, to float32 precision
        for x, y in zip(a.get("outputs", []), b.get("outputs", []), strict=True):
            assert x["nan"] == y["nan"] and x["shape"] == y["shape"]
            assert x["std"] == pytest.approx(y["std"], rel=1e-6, nan_ok=True)


@pytest.mark.torch
def test_the_recording_holds_every_value_as_the_model_made_it(nan_recording):
    import torch

    from inspectors.target import load_target

    recording = read(nan_recording)
    target = load_target("nan_torch")
    with torch.no_grad():
        expected = target.call().numpy()
    np.testing.assert_array_equal(recording.values["output"][0], expected)  # NaNs included
    names = zipfile.ZipFile(nan_recording).namelist()
    assert "recording.json" in names and any(n.endswith(".npy") for n in names)


@pytest.mark.torch
def test_a_replay_steps_fetches_and_restarts_as_an_engine_does(nan_recording):
    engine = ReplayEngine(read(nan_recording))
    log = EventLog()
    engine.add_listener(log)
    assert log.wait_for(ev.Paused, 1).reason == ev.READY
    mark = log.mark()
    engine.send(cmds.Step())
    engine.send(cmds.Step())
    pauses = [e for e in log.events[mark:] if isinstance(e, ev.Paused)]
    assert [(p.reason, p.node_id, p.position) for p in pauses] == [
        (ev.STEP, "x", 1),
        (ev.STEP, "fc1", 2),
    ]
    engine.send(cmds.FetchValue("fc1"))
    value = log.of(ev.ValueReady)[-1]
    assert value.array.shape == (3, 16) and not value.dropped
    engine.send(cmds.Continue())
    assert log.of(ev.Paused)[-1].reason == ev.FINISHED
    engine.send(cmds.Restart())
    assert (log.of(ev.Paused)[-1].reason, log.of(ev.Paused)[-1].position) == (ev.READY, 0)


def test_a_file_that_is_not_a_recording_exits_2_naming_it(capsys, tmp_path):
    bad = tmp_path / "broken.gsrec"
    bad.write_bytes(b"not a zip")
    code, out, err = graphstep(capsys, "run", str(bad), "--json")
    assert code == cli.EXIT_BAD_INPUT and out == ""
    assert "broken.gsrec cannot be read as a recording" in err
