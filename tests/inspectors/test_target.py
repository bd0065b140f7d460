"""Loading by spec, and a clear message for every kind of bad input."""

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from inspectors.target import TargetError, list_samples, load_target

ROOT = Path(__file__).resolve().parents[2]

TORCH_MODEL = """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(x)

def build():
    return Net()

def example_inputs():
    return torch.ones(4, 3)

def factory():
    return Net()

not_a_model = 42
"""


def write(tmp_path: Path, text: str, name: str = "model.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_model_file_loads_with_build_and_inputs(tmp_path):
    path = write(tmp_path, TORCH_MODEL)
    target = load_target(str(path))
    assert target.framework == "torch"
    assert type(target.model).__name__ == "Net"
    assert tuple(target.example_inputs[0].shape) == (4, 3)
    assert tuple(target.call().shape) == (4, 2)


@pytest.mark.parametrize("name", ["Net", "factory"])
def test_file_colon_name_takes_a_class_or_a_factory(tmp_path, name):
    path = write(tmp_path, TORCH_MODEL)
    target = load_target(f"{path}:{name}")
    assert type(target.model).__name__ == "Net"
    assert target.name == name


def test_package_module_name_spec_loads(tmp_path, monkeypatch):
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    write(pkg, TORCH_MODEL, "models.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    target = load_target("mypkg.models:factory")
    assert type(target.model).__name__ == "Net"


def test_samples_are_listed_without_importing_frameworks():
    code = (
        "import sys\nfrom inspectors.target import list_samples\n"
        "s = list_samples()\n"
        "assert 'torch' not in sys.modules and 'tensorflow' not in sys.modules\n"
        "print(len(s))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    for sample in list_samples():
        assert sample.description, f"sample {sample.name} has no one-line description"
        assert sample.framework in ("torch", "tensorflow")


@pytest.mark.parametrize(
    ("source", "spec_suffix", "expected"),
    [
        ("def build(:\n    pass\n", "", "syntax error at line 1"),
        ("import torch\nx = 1\n", "", "defines no `build()`"),
        (TORCH_MODEL, ":missing", "no object named 'missing'"),
        (TORCH_MODEL, ":not_a_model", "which is not a model"),
        (
            "import torch\ndef build():\n    return torch.nn.Linear(2, 2)\n",
            "",
            "no `example_inputs()`",
        ),
        ("raise RuntimeError('boom at import')\n", "", "RuntimeError: boom at import"),
        ("def build():\n    raise ValueError('no weights')\n", "", "ValueError: no weights"),
    ],
)
def test_bad_model_files_name_their_cause(tmp_path, source, spec_suffix, expected):
    path = write(tmp_path, source)
    with pytest.raises(TargetError) as info:
        load_target(f"{path}{spec_suffix}")
    assert expected in str(info.value)


def test_missing_file_and_unknown_name(tmp_path):
    with pytest.raises(TargetError, match="does not exist"):
        load_target(str(tmp_path / "nope.py"))
    with pytest.raises(TargetError, match="No model file, sample"):
        load_target("no_such_sample_anywhere")


def test_rejected_inputs_show_the_framework_message(tmp_path):
    path = write(
        tmp_path,
        "import torch\ndef build():\n    return torch.nn.Linear(2, 2)\n"
        "def example_inputs():\n    return torch.ones(3, 7)\n",
    )
    from inspectors.capture import capture

    target = load_target(str(path))  # loads: stepping shows where it fails
    assert "mat1 and mat2 shapes cannot be multiplied" in target.extra["forward_error"]
    with pytest.raises(TargetError) as info:
        capture(target, "export")  # fake tensors cannot get past it: the model's error
    assert "raised on its example inputs ([3, 7] float32)" in str(info.value)
    assert "mat1 and mat2 shapes cannot be multiplied" in str(info.value)


@pytest.mark.parametrize(
    ("suffix", "kind"),
    [(".pt2", "not a torch.export archive (.pt2)"), (".keras", "not a Keras archive")],
)
def test_corrupt_saved_models_are_reported(tmp_path, suffix, kind):
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(b"this is not an archive")
    with pytest.raises(TargetError) as info:
        load_target(str(path))
    text = str(info.value)
    assert f"{path.name} is {kind}: it is not a zip file" in text


def test_random_bytes_named_keras_are_not_reported_as_a_missing_file(tmp_path):
    path = tmp_path / "x.keras"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(TargetError) as info:
        load_target(str(path))
    text = str(info.value)
    assert "x.keras is not a Keras archive:" in text
    assert "not found" not in text.lower()
    (tmp_path / "empty.keras").write_bytes(b"")
    with pytest.raises(TargetError, match="empty.keras is not a Keras archive: it is empty"):
        load_target(str(tmp_path / "empty.keras"))
    other = tmp_path / "other.keras"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("weights.txt", "not a model")
    with pytest.raises(TargetError, match="other.keras is not a Keras archive: .*no config.json"):
        load_target(str(other))


def _saved_pt2(tmp_path: Path) -> bytes:
    import torch

    program = torch.export.export(torch.nn.Linear(3, 2), (torch.ones(1, 3),))
    torch.export.save(program, str(tmp_path / "good.pt2"))
    return (tmp_path / "good.pt2").read_bytes()


def test_a_damaged_pt2_gets_one_clear_line_without_torch_traceback(tmp_path):
    data = _saved_pt2(tmp_path)
    truncated = tmp_path / "truncated.pt2"
    truncated.write_bytes(data[: len(data) // 2])
    not_pt2 = tmp_path / "other.pt2"  # a zip file, but not torch.export's: torch logs first
    with zipfile.ZipFile(not_pt2, "w") as archive:
        archive.writestr("hello.txt", "hi")
    for path, expected in (
        (truncated, "truncated.pt2 is not a torch.export archive (.pt2): it is not a zip file"),
        (not_pt2, "other.pt2 is not a readable torch.export archive (.pt2): RuntimeError"),
    ):
        code = (
            f"from inspectors.cli import main\nraise SystemExit(main(['trace', {str(path)!r}]))\n"
        )
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
        assert out.returncode == 2, out.stderr
        assert expected in out.stderr
        assert "Traceback" not in out.stderr and "deserializ" not in out.stderr, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_missing_framework_names_the_package(tmp_path):
    path = write(tmp_path, TORCH_MODEL)
    code = (
        "import sys\nsys.modules['torch'] = None\n"
        "from inspectors.cli import main\n"
        f"raise SystemExit(main(['trace', {str(path)!r}]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2
    assert "needs torch" in out.stderr and "pip install torch" in out.stderr
    assert "Traceback" not in out.stderr


FAILS_MID_WAY = """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(6, 2)  # takes 6 features, gets 8

    def forward(self, x):
        h = torch.relu(self.fc1(x))
        return self.fc2(h)

def build():
    return Net()

def example_inputs():
    return (torch.randn(3, 4),)
"""


def test_a_model_that_raises_on_its_inputs_loads_and_pauses_on_the_failing_node(tmp_path):
    # finding where a model fails is what the debugger is for: it still loads
    from inspectors import events as ev
    from inspectors.capture import capture
    from inspectors.session import Session

    target = load_target(str(write(tmp_path, FAILS_MID_WAY)))
    message = target.extra["forward_error"]
    assert "raised on its example inputs ([3, 4] float32)" in message
    assert "mat1 and mat2 shapes cannot be multiplied" in message
    assert "model.py:" in message  # the user's line, not torch's
    captured = capture(target)
    graph = captured.graph
    assert captured.strategy == "fx" and graph.meta["forward_error"] == message
    assert graph.node("relu")["outputs"][0][0] == (3, 8)  # shapes up to the failure
    assert graph.meta["shapes_stop_at"].startswith("fc2: RuntimeError")
    session = Session(captured)
    session.start()
    try:
        session.wait()
        session.continue_()
        pause = session.wait()
        assert (pause.reason, pause.node_id) == (ev.EXCEPTION, "fc2")
        assert session.run.executed == ["x", "fc1", "relu"]
    finally:
        session.stop()
        session.join()


def test_a_model_that_raises_and_cannot_be_captured_names_its_own_error(tmp_path):
    source = (
        "import torch\n"
        "class Net(torch.nn.Module):\n"
        "    def forward(self, x):\n"
        "        if x.sum() > 0:\n"  # fx and export cannot follow this branch
        "            raise ValueError('negative inputs only')\n"
        "        return x\n"
        "def build():\n    return Net()\n"
        "def example_inputs():\n    return (torch.ones(2),)\n"
    )
    from inspectors.capture import capture

    target = load_target(str(write(tmp_path, source)))
    with pytest.raises(TargetError) as info:
        capture(target)
    assert "raised on its example inputs ([2] float32)" in str(info.value)
    assert "ValueError: negative inputs only (model.py:5)" in str(info.value)
