"""The engine in its own process (`ProcessEngine`) and over ZeroMQ (`EngineServer`,
`RemoteClient`): the same events as in process, and a model that crashes, hangs or
loads forever never takes the client down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from inspectors import commands as cmds
from inspectors import events as ev
from inspectors.engine import Engine, EventLog
from inspectors.remote import (
    CHUNK_BYTES,
    EXIT_ENDED,
    EngineServer,
    ProcessEngine,
    RemoteClient,
)
from inspectors.target import load_target

TIMEOUT = 90.0

CRASHES = '''
"""A model whose second layer reads address 0 (a crash in native code) once the file
`armed` beside it exists (so its capture, which runs it once, gets through)."""
import ctypes
from pathlib import Path

import torch
from torch import nn

ARMED = Path(__file__).with_name("armed")


class Crash(nn.Module):
    def forward(self, x):
        if ARMED.exists():
            ctypes.string_at(0)
        return x


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.crash = Crash()

    def forward(self, x):
        return self.crash(torch.relu(self.fc(x)))


def build():
    return Model()


def example_inputs():
    return (torch.ones(2, 4),)
'''

HANGS = '''
"""A model whose forward never returns once the file `armed` beside it exists."""
from pathlib import Path

import torch
from torch import nn

ARMED = Path(__file__).with_name("armed")


class Model(nn.Module):
    def forward(self, x):
        y = x + 1
        while ARMED.exists():
            pass
        return y


def build():
    return Model()


def example_inputs():
    return (torch.ones(2, 4),)
'''

SLOW_TO_LOAD = '''
"""A model file that takes a minute to import."""
import time
import torch
time.sleep(60)


def build():
    return torch.nn.Linear(2, 2)


def example_inputs():
    return (torch.ones(1, 2),)
'''


@pytest.fixture
def process():
    log = EventLog()
    engine = ProcessEngine()
    engine.add_listener(log)
    engine.log = log  # type: ignore[attr-defined]
    yield engine
    engine.close()


def load(engine, spec: str, job: int = 1, strategy: str = "fx") -> ev.Loaded:
    mark = engine.log.mark()
    engine.send(cmds.Load(spec, strategy, job))
    loaded = engine.log.wait_for((ev.Loaded, ev.LoadFailed), TIMEOUT, after=mark)
    assert isinstance(loaded, ev.Loaded), loaded
    engine.log.wait_for(ev.Paused, TIMEOUT, after=mark)
    return loaded


def wait(engine, command, kind, timeout: float = TIMEOUT):
    mark = engine.log.mark()
    engine.send(command)
    return engine.log.wait_for(kind, timeout, after=mark)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split()[2] != "Z"  # a zombie has ended


@pytest.mark.torch
def test_a_model_in_its_own_process_gives_the_models_own_output(process):
    loaded = load(process, "feedforward_torch")
    assert loaded.graph.order and process.pid != os.getpid()
    assert wait(process, cmds.Continue(), ev.Paused).reason == ev.FINISHED
    value = wait(process, cmds.FetchValue("output"), ev.ValueReady)
    expected = load_target("feedforward_torch").call().detach().numpy()
    np.testing.assert_allclose(value.array, expected, rtol=1e-6)
    pause = process.log.of(ev.Paused)[-1]
    assert pause.process_memory > 50 << 20  # the engine's resident memory, torch in it


@pytest.mark.torch
def test_a_crash_in_native_code_ends_the_engine_not_the_client(process, tmp_path):
    model = tmp_path / "crash.py"
    model.write_text(CRASHES)
    load(process, str(model), strategy="eager")  # the real forward runs when stepped
    (tmp_path / "armed").touch()
    pid = process.pid
    died = wait(process, cmds.Continue(), ev.EngineDied)
    assert "SIGSEGV" in died.how and died.last_node  # the last node it reported
    assert not alive(pid)
    # the client goes on: the next model gets a new engine
    load(process, "feedforward_torch", job=2)
    assert process.pid != pid
    assert wait(process, cmds.Step(), ev.Paused).reason == ev.STEP


@pytest.mark.torch
def test_a_forward_that_never_returns_is_ended_on_request(process, tmp_path):
    model = tmp_path / "hangs.py"
    model.write_text(HANGS)
    load(process, str(model), strategy="eager")
    (tmp_path / "armed").touch()
    process.send(cmds.Continue())
    time.sleep(1.0)
    pid = process.pid
    start = time.monotonic()
    died = wait(process, cmds.EndEngine(), ev.EngineDied, timeout=5)
    assert time.monotonic() - start < 2.0 and died.how == "ended by you"
    assert not alive(pid)


def test_cancel_during_a_long_load_ends_its_process_at_once(process, tmp_path):
    model = tmp_path / "slow.py"
    model.write_text(SLOW_TO_LOAD)
    mark = process.log.mark()
    process.send(cmds.Load(str(model), "auto", 4))
    process.log.wait_for(ev.LoadStage, TIMEOUT, after=mark)
    pid = process.pid
    start = time.monotonic()
    process.send(cmds.CancelLoad())
    stopped = process.log.wait_for(ev.LoadStopped, 5, after=mark)
    assert "ended" in stopped.where and time.monotonic() - start < 2.0
    assert not alive(pid)
    assert not process.log.of(ev.Loaded)


def test_attaching_needs_the_token():
    server = EngineServer(Engine())
    server.start()
    try:
        with pytest.raises(PermissionError, match="wrong token"):
            RemoteClient(server.address, "not-the-token", timeout=5)
        log = EventLog()
        client = RemoteClient(server.address, server.token, timeout=5)
        client.add_listener(log)
        client.send(cmds.Continue())  # no model yet: the engine says so, over the wire
        assert "open one first" in log.wait_for(ev.Message, 10).text
        client.close()
        assert server.ended.wait(5)
    finally:
        server.stop()


def test_settings_before_any_model_wait_quietly_for_the_first_engine():
    log = EventLog()
    engine = ProcessEngine()
    engine.add_listener(log)
    engine.send(cmds.SetBudget(1 << 20))
    engine.send(cmds.SetStepPlumbing(True))
    assert log.events == []  # kept for the first engine, nothing to say
    engine.send(cmds.Continue())
    assert "open a model first" in log.wait_for(ev.Message, 5).text
    engine.close()


def test_a_large_value_crosses_in_chunks_with_progress():
    server = EngineServer(Engine())
    server.start()
    log = EventLog()
    client = RemoteClient(server.address, server.token, timeout=5)
    client.add_listener(log)
    try:
        big = np.random.default_rng(0).standard_normal((3, 1 << 20)).astype(np.float32)  # 12 MiB
        server._on_event(ev.ValueReady("fc", 0, big))  # as the engine would send it
        server._on_event(ev.Message("info", "after"))
        ready = log.wait_for(ev.ValueReady, 20)
        assert np.array_equal(ready.array, big) and ready.array.dtype == np.float32
        parts = log.of(ev.Receiving)
        received = [p.received for p in parts]
        assert len(parts) == -(-big.nbytes // CHUNK_BYTES) >= 3
        assert received == sorted(received) and received[-1] == parts[-1].total == big.nbytes
        assert {p.what for p in parts} == {"ValueReady"}
        assert log.wait_for(ev.Message, 5).text == "after"  # later events follow in order
    finally:
        client.detach()
        server.stop()


def serve_hanging(tmp_path):
    """`graphstep serve` on a model whose forward spins once armed: (process, client, log)."""
    model = tmp_path / "hangs.py"
    model.write_text(HANGS)
    process = subprocess.Popen(
        [sys.executable, "-m", "inspectors.cli", "serve", str(model), "--capture", "eager"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline().split()
    assert line[:2] == ["graphstep", "attach"], line
    log = EventLog()
    client = RemoteClient(line[2], line[4], timeout=30)
    client.add_listener(log)
    log.wait_for(ev.Paused, TIMEOUT)
    (tmp_path / "armed").touch()
    mark = log.mark()
    client.send(cmds.Continue())
    log.wait_for(ev.NodeStepped, TIMEOUT, after=mark)  # inside the spinning forward now
    time.sleep(0.5)
    return process, client, log


@pytest.mark.torch
def test_a_served_engine_stuck_in_its_model_is_ended_from_the_client(tmp_path):
    process, client, log = serve_hanging(tmp_path)
    try:
        start = time.monotonic()
        client.send(cmds.EndEngine())
        died = log.wait_for(ev.EngineDied, 10)
        assert died.how == "ended by you" and died.last_node
        assert process.wait(10) == EXIT_ENDED and time.monotonic() - start < 5
        assert "ended from the window" in process.stderr.read()
    finally:
        client.detach(timeout=1)
        process.kill()
        process.communicate(timeout=10)  # closes its pipes


@pytest.mark.torch
def test_ctrl_c_ends_a_served_engine_stuck_in_its_model(tmp_path):
    process, client, log = serve_hanging(tmp_path)
    try:
        start = time.monotonic()
        process.send_signal(signal.SIGINT)
        assert process.wait(10) == 0 and time.monotonic() - start < 5
        died = log.wait_for(ev.EngineDied, 5)  # the attached client is told, not left waiting
        assert "Ctrl+C" in died.how and died.last_node
    finally:
        client.detach(timeout=1)
        process.kill()
        process.communicate(timeout=10)  # closes its pipes


@pytest.mark.torch
def test_an_engine_killed_outright_is_noticed_by_its_client(tmp_path):
    process, client, log = serve_hanging(tmp_path)
    try:
        process.kill()  # no word from it: its connection closes
        died = log.wait_for(ev.EngineDied, 10)
        assert "connection closed" in died.how
        assert len(log.of(ev.EngineDied)) == 1
    finally:
        client.detach(timeout=1)
        process.communicate(timeout=10)
