"""Loading by spec, and a clear message for every kind of bad input."""

import subprocess
import sys
import textwrap
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
        (
            "import torch\ndef build():\n    return torch.nn.Linear(2, 2)\n"
            "def example_inputs():\n    return torch.ones(3, 7)\n",
            "",
            "rejected its example inputs ([3, 7] float32)",
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
    with pytest.raises(TargetError) as info:
        load_target(str(path))
    assert "mat1 and mat2 shapes cannot be multiplied" in str(info.value)


@pytest.mark.parametrize("suffix", [".pt2", ".keras"])
def test_corrupt_saved_models_are_reported(tmp_path, suffix):
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(b"this is not an archive")
    with pytest.raises(TargetError) as info:
        load_target(str(path))
    text = str(info.value)
    assert path.name in text and ("not a readable" in text or "not a loadable" in text)


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
