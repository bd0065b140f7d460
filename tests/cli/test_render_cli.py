"""`graphstep render`: the app's drawing written to SVG / PNG, run as a user would run it."""

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]

NESTED = """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 8))
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.encoder(x))

def build():
    return Net()

def example_inputs():
    return (torch.ones(2, 3),)
"""

SVG = "{http://www.w3.org/2000/svg}"


def graphstep(
    *args: str, without: str = "", env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run `graphstep ARGS`; `without` names a package to make unimportable."""
    block = f"sys.modules[{without!r}] = None\n" if without else ""
    code = (
        f"import sys\n{block}from inspectors.cli import main\nraise SystemExit(main(sys.argv[1:]))"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, env=env
    )


def svg_texts(path: Path) -> list[str]:
    root = ET.parse(path).getroot()  # parses as XML, or raises
    assert root.tag == f"{SVG}svg"
    return [(t.text or "").strip() for t in root.iter(f"{SVG}text")]


def png_pixels(path: Path) -> np.ndarray:
    """(h, w) array of 0xRRGGBB values, read with Qt (no image library needed)."""
    from PySide6.QtGui import QImage

    img = QImage(str(path))
    assert not img.isNull(), f"{path} is not a readable PNG"
    img = img.convertToFormat(QImage.Format.Format_RGB32)
    rows = np.frombuffer(img.constBits(), np.uint32).reshape(img.height(), -1)
    return rows[:, : img.width()] & 0xFFFFFF


@pytest.fixture
def nested(tmp_path):
    model = tmp_path / "nested.py"
    model.write_text(NESTED)
    return model


def test_png_has_the_width_asked_and_the_app_colours(tmp_path):
    """With no display and no QT_QPA_PLATFORM, as on a CI runner: render goes offscreen."""
    headless = {
        k: v
        for k, v in os.environ.items()
        if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")
    }
    png = tmp_path / "ff.png"
    out = graphstep("render", "feedforward_torch", "-o", str(png), "--width", "640", env=headless)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    assert out.stdout.strip() == f"wrote {png}: 5 nodes drawn, 640x{png_pixels(png).shape[0]} px"
    pixels = png_pixels(png)
    assert pixels.shape[1] == 640
    assert len(np.unique(pixels)) > 20
    fills = {0xD9E6FB: "linear / matmul", 0xFDE2C9: "activation", 0xD7ECD9: "input"}
    present = set(np.unique(pixels).tolist())
    for rgb, name in fills.items():
        assert rgb in present, f"no {name} box in the picture"


def test_svg_parses_and_holds_the_labels_and_the_legend(tmp_path):
    svg = tmp_path / "ff.svg"
    out = graphstep("render", "feedforward_torch", "-o", str(svg))
    assert out.returncode == 0, out.stderr
    assert f"wrote {svg}: 5 nodes drawn" in out.stdout
    texts = svg_texts(svg)
    assert {"x", "fc1", "relu", "fc2", "output"} <= set(texts)
    assert {"input", "linear / matmul", "activation"} <= set(texts)  # the legend


def test_depth_collapses_scopes_and_colour_by_draws_a_colour_bar(tmp_path, nested):
    full, collapsed = tmp_path / "full.svg", tmp_path / "d0.svg"
    out = graphstep("render", str(nested), "-o", str(full))
    assert out.returncode == 0, out.stderr
    assert "6 nodes drawn," in out.stdout
    assert {"encoder.0", "encoder.1", "encoder.2"} <= set(svg_texts(full))

    out = graphstep(
        "render", str(nested), "-o", str(collapsed), "--depth", "0", "--colour-by", "params"
    )
    assert out.returncode == 0, out.stderr
    assert "4 nodes drawn (2 of them collapsed scopes)" in out.stdout
    texts = svg_texts(collapsed)
    assert "encoder" in texts and "3 nodes  +" in texts
    assert not {"encoder.0", "encoder.1", "encoder.2"} & set(texts)
    assert "Parameter count (log10)" in texts  # the colour bar replaces the legend
    assert "linear / matmul" not in texts


def test_bad_extension_exits_2_before_loading_anything(tmp_path):
    out = graphstep("render", "feedforward_torch", "-o", str(tmp_path / "g.jpg"))
    assert out.returncode == 2
    assert "must end in .svg or .png" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "g.jpg").exists()


def test_bad_spec_and_broken_model_exit_2_with_one_line(tmp_path):
    out = graphstep("render", "no_such_sample", "-o", str(tmp_path / "g.png"))
    assert out.returncode == 2
    assert "no_such_sample" in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1

    bad = tmp_path / "bad.py"
    bad.write_text("def build(:\n")
    out = graphstep("render", str(bad), "-o", str(tmp_path / "g.svg"))
    assert out.returncode == 2
    assert "syntax error" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "g.svg").exists()


def test_unwritable_output_and_tiny_width_exit_2(tmp_path):
    out = graphstep("render", "feedforward_torch", "-o", str(tmp_path / "nowhere" / "g.png"))
    assert out.returncode == 2 and "does not exist" in out.stderr
    out = graphstep("render", "feedforward_torch", "-o", str(tmp_path / "g.png"), "--width", "20")
    assert out.returncode == 2 and "--width 20" in out.stderr


def test_missing_framework_or_qt_exits_2_with_what_to_install(tmp_path):
    out = graphstep("render", "feedforward_torch", "-o", str(tmp_path / "g.png"), without="torch")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "needs torch" in out.stderr and "pip install" in out.stderr
    out = graphstep("render", "feedforward_torch", "-o", str(tmp_path / "g.png"), without="PySide6")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "graphstep[gui]" in out.stderr
