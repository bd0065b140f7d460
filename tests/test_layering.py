"""The core runs headless: importing inspectors/ pulls in no Qt; gui/ no frameworks."""

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(folder: str) -> set[str]:
    names: set[str] = set()
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def test_inspectors_import_no_qt_even_when_qt_is_blocked():
    code = (
        "import sys, importlib, pkgutil\n"
        "for blocked in ('PySide6', 'pyqtgraph', 'shiboken6'): sys.modules[blocked] = None\n"
        "import inspectors\n"
        "for m in pkgutil.walk_packages(inspectors.__path__, 'inspectors.'):\n"
        "    if '_inspector' not in m.name: importlib.import_module(m.name)\n"
        "assert not any(k.startswith('PySide6') for k in sys.modules if sys.modules[k])\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert not _imports("inspectors") & {"PySide6", "pyqtgraph", "shiboken6"}


def test_gui_imports_no_framework():
    if not (ROOT / "gui").exists():
        return
    assert not _imports("gui") & {"torch", "tensorflow", "keras"}


def _run_without(blocked: str, sample: str) -> subprocess.CompletedProcess:
    code = (
        "import sys\n"
        f"sys.modules[{blocked!r}] = None\n"
        "from inspectors.target import load_target, list_samples\n"
        "from inspectors.capture import capture\n"
        "from inspectors.session import Session\n"
        "assert list_samples()\n"
        f"s = Session(capture(load_target({sample!r})))\n"
        "s.start(); s.wait(); s.continue_(); p = s.wait(); s.stop(); s.join()\n"
        "assert p.reason == 'finished', p\n"
        f"assert sys.modules[{blocked!r}] is None\n"
        "print('ok')\n"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)


def test_a_pytorch_model_runs_without_tensorflow():
    out = _run_without("tensorflow", "feedforward_torch")
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-2000:]


def test_a_tensorflow_model_runs_without_torch():
    out = _run_without("torch", "feedforward_keras")
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-2000:]


#: What gui/ may import from the core: plain data, pure functions and the client
#: contract. Nothing here holds or builds a Session, a stepper, a capture or a model.
GUI_MAY_IMPORT = {
    "inspectors": {"commands", "events", "explain"},
    "inspectors.commands": None,  # None: any name
    "inspectors.events": None,
    "inspectors.graph": None,
    "inspectors.tensors": {"TensorSummary", "summarize"},
    "inspectors.breakpoints": {"Breakpoint", "Breakpoints", "STATS"},
    "inspectors.explain": {"Explanation"},
    "inspectors.diff": {"diff_graphs", "match_layers", "numeric_diff"},
    "inspectors.cli": {"CAPTURES", "FRESH_HELP"},
    "inspectors.run_command": {"at_node"},
    "inspectors.target": {"list_samples"},  # reads the sample files' text only
    # the client contract, and the in-process engine as the default client (gui/debugging/engine.py)
    "inspectors.engine": {"EngineClient", "Engine"},
    "inspectors.remote": {"ProcessEngine", "RemoteClient", "TOKEN_ENV"},
    # a recorded run, replayed as an engine would run it
    "inspectors.recording": {"RecordingError", "ReplayEngine", "is_recording", "read"},
}
#: Attributes that would reach into an engine: no gui/ module names them.
ENGINE_INSIDES = {"session", "stepper", "captured", "store", "target"}


def test_gui_reaches_the_engine_only_through_commands_and_events():
    wrong = []
    for path in sorted((ROOT / "gui").rglob("*.py")):
        where = path.relative_to(ROOT)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if not node.module.startswith("inspectors"):
                    continue
                allowed = GUI_MAY_IMPORT.get(node.module, set())
                for alias in node.names:
                    if allowed is not None and alias.name not in allowed:
                        wrong.append(f"{where}:{node.lineno} imports {node.module}.{alias.name}")
            elif isinstance(node, ast.Import):
                wrong += [
                    f"{where}:{node.lineno} imports {a.name}"
                    for a in node.names
                    if a.name.startswith("inspectors.")
                ]
            elif isinstance(node, ast.Attribute) and node.attr in ENGINE_INSIDES:
                wrong.append(f"{where}:{node.lineno} reaches .{node.attr}")
    assert not wrong, "\n".join(wrong)


def test_the_gui_runs_against_a_fake_engine_with_the_frameworks_blocked():
    """The debugger controller, its panels and the GUI's Engine, driven by scripted
    events, in a process where importing torch or tensorflow fails."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.block_frameworks",
            "tests/gui/test_fake_engine.py",
            "tests/gui/test_engine.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "frameworks stayed blocked" in out.stdout
