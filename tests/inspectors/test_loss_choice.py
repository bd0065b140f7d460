"""Without a loss() in the model file, gradients come from the first floating-point
output; a model with no such output says how to fix it (in the CLI, exit code 2)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from inspectors import events as ev
from inspectors.capture import capture
from inspectors.session import Session
from inspectors.target import load_target

ROOT = Path(__file__).resolve().parents[2]

TORCH = """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        y = self.fc(x)
        return {ARGS}

def build():
    torch.manual_seed(0)
    return Net()

def example_inputs():
    return (torch.ones(2, 4),)
"""

TF = """
import tensorflow as tf

class Net(tf.Module):
    def __init__(self):
        self.w = tf.Variable(tf.ones((4, 3)), name="w")

    @tf.function
    def __call__(self, x):
        y = tf.matmul(x, self.w)
        return {ARGS}

def build():
    return Net()

def example_inputs():
    return (tf.ones((2, 4)),)
"""


def backward(path: Path) -> tuple[Session, list]:
    events: list = []
    session = Session(capture(load_target(str(path))), listener=events.append)
    session.start()
    session.wait()
    session.continue_()
    assert session.wait().reason == ev.FINISHED
    session.backward()
    session.wait()
    session.stop()
    session.join()
    return session, events


@pytest.mark.parametrize("source", [TORCH, TF], ids=["torch", "tensorflow"])
def test_an_integer_first_output_is_skipped_for_the_first_float_one(tmp_path, source):
    args = "(torch.argmax(y, dim=1), y)" if source is TORCH else "(tf.argmax(y, axis=1), y)"
    path = tmp_path / "model.py"
    path.write_text(textwrap.dedent(source.replace("{ARGS}", args)))
    session, events = backward(path)
    ready = [e for e in events if isinstance(e, ev.GradientsReady)]
    assert ready and "first floating-point output (output 1)" in ready[0].loss_source
    grads = list(ready[0].params.values())
    assert grads and all(np.isfinite(g.abs_max) for g in grads)


@pytest.mark.parametrize("source", [TORCH, TF], ids=["torch", "tensorflow"])
def test_only_integer_outputs_explain_how_to_get_gradients(tmp_path, source):
    args = "torch.argmax(y, dim=1)" if source is TORCH else "tf.argmax(y, axis=1)"
    path = tmp_path / "model.py"
    path.write_text(textwrap.dedent(source.replace("{ARGS}", args)))
    session, events = backward(path)
    failed = [e for e in events if isinstance(e, ev.Failed)]
    assert failed and "define loss(output, *inputs)" in failed[0].message
    assert session.gradients is None
    code = "import sys\nfrom inspectors.cli import main\nraise SystemExit(main(sys.argv[1:]))"
    out = subprocess.run(
        [sys.executable, "-c", code, "run", str(path), "--grad"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert "define loss" in out.stderr + out.stdout


def test_trace_to_an_unwritable_path_is_a_clear_error(tmp_path):
    code = "import sys\nfrom inspectors.cli import main\nraise SystemExit(main(sys.argv[1:]))"
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "trace",
            "feedforward_torch",
            "-o",
            str(tmp_path / "no" / "x.json"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert "Cannot write" in out.stderr and "Traceback" not in out.stderr
