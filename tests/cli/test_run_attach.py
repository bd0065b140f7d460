"""`graphstep run --attach`: an engine served elsewhere, driven headless, prints what a
local `graphstep run` prints, for every sample; a wrong token is refused."""

from __future__ import annotations

import pytest

from inspectors import cli
from inspectors import commands as cmds
from inspectors import events as ev
from inspectors.engine import EventLog
from inspectors.remote import EngineServer
from inspectors.target import list_samples

SAMPLES = [s.name for s in list_samples()]


@pytest.fixture(scope="module")
def server():
    served = EngineServer()
    served.start()
    log = EventLog()
    served.engine.add_listener(log)
    yield served, log
    served.engine.close()
    served.stop()


def serve(server, spec: str) -> None:
    """Load `spec` in the served engine and wait until its session is paused at start."""
    served, log = server
    mark = log.mark()
    served.engine.send(cmds.Load(spec))
    loaded = log.wait_for((ev.Loaded, ev.LoadFailed), timeout=120, after=mark)
    assert isinstance(loaded, ev.Loaded), loaded
    log.wait_for(ev.Paused, timeout=60, after=mark)


def graphstep(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("sample", SAMPLES)
def test_an_attached_run_prints_the_events_of_a_local_run(server, capsys, sample):
    served, _log = server
    breaks = ["--break-on", "nan"] if sample.startswith("nan") else []
    local = graphstep(capsys, "run", sample, "--json", *breaks)
    serve(server, sample)
    attached = graphstep(
        capsys, "run", "--attach", served.address, "--token", served.token, "--json", *breaks
    )
    assert attached[0] == local[0], attached[2]
    assert attached[1] == local[1]
    assert '"event": "stepped"' in local[1]
    assert local[0] == (3 if breaks else 0)


def test_an_engine_run_to_its_end_is_run_again_from_the_start(server, capsys):
    served, _log = server
    serve(server, "feedforward_torch")
    argv = ("run", "--attach", served.address, "--token", served.token, "--json")
    first = graphstep(capsys, *argv)
    again = graphstep(capsys, *argv)  # the engine is paused at the end: it restarts
    assert first[0] == again[0] == 0
    assert first[1] == again[1]


def test_a_wrong_token_is_refused_with_a_message(server, capsys):
    served, _log = server
    code, out, err = graphstep(capsys, "run", "--attach", served.address, "--token", "nope")
    assert code == cli.EXIT_BAD_INPUT
    assert out == ""
    assert f"the engine at {served.address} refused to attach: wrong token" in err


def test_the_token_can_come_from_the_environment(server, capsys, monkeypatch):
    served, _log = server
    serve(server, "feedforward_torch")
    monkeypatch.setenv("GRAPHSTEP_TOKEN", served.token)
    code, out, err = graphstep(capsys, "run", "--attach", served.address)
    assert code == 0, err
    assert "finished:" in out


def test_attach_without_a_token_says_where_to_get_one(capsys, monkeypatch):
    monkeypatch.delenv("GRAPHSTEP_TOKEN", raising=False)
    code, _out, err = graphstep(capsys, "run", "--attach", "127.0.0.1:9")
    assert code == cli.EXIT_BAD_INPUT
    assert "needs the token the engine printed" in err


def test_a_model_and_an_engine_at_once_are_refused(capsys):
    code, _out, err = graphstep(capsys, "run", "feedforward_torch", "--attach", "127.0.0.1:9")
    assert code == cli.EXIT_BAD_INPUT
    assert "not both" in err
