"""The headless `graphstep` commands, run as a user would run them."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

MODEL = """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.fc2 = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))

def build():
    return Net()

def example_inputs():
    return (torch.ones(2, 3),)
"""


def graphstep(*args: str) -> subprocess.CompletedProcess:
    code = "import sys\nfrom inspectors.cli import main\nraise SystemExit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True
    )


def test_samples_lists_each_sample_with_a_description():
    out = graphstep("samples")
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    assert lines, "no samples listed"
    for line in lines:
        assert len(line.split()) >= 3, line


def test_trace_writes_json_and_reports_on_stderr(tmp_path):
    model = tmp_path / "net.py"
    model.write_text(MODEL)
    out = graphstep("trace", str(model))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    ids = {n["id"] for n in data["nodes"]}
    assert {"fc1", "fc2"} <= ids
    assert "capture=fx" in out.stderr and "nodes=" in out.stderr and "edges=" in out.stderr


def test_trace_formats_and_output_file(tmp_path):
    model = tmp_path / "net.py"
    model.write_text(MODEL)
    dot = tmp_path / "g.dot"
    out = graphstep("trace", str(model), "--format", "dot", "-o", str(dot))
    assert out.returncode == 0, out.stderr
    assert dot.read_text().startswith("digraph")
    out = graphstep("trace", str(model), "--capture", "eager", "--format", "graphml")
    assert out.returncode == 0, out.stderr
    assert "<graphml" in out.stdout and "capture=eager" in out.stderr


def test_bad_input_exits_2_with_a_message_not_a_traceback(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def build(:\n")
    out = graphstep("trace", str(bad))
    assert out.returncode == 2
    assert "syntax error" in out.stderr and "Traceback" not in out.stderr
    out = graphstep("trace", str(tmp_path / "missing.py"))
    assert out.returncode == 2 and "does not exist" in out.stderr
