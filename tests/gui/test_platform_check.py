"""`gui.shell.platform_check`: missing X libraries found by ldd, named by their Debian package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gui import app
from gui.shell import platform_check
from gui.shell.platform_check import debian_package, packages_for, parse_ldd

ROOT = Path(__file__).resolve().parents[2]

#: `ldd libQt6XcbQpa.so.6` on a Debian 12 without libxcb-icccm4 and libxcb-keysyms1.
LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007ffd3c5f2000)
\tlibQt6Gui.so.6 => /venv/PySide6/Qt/lib/libQt6Gui.so.6 (0x00007f0a1c000000)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f0a1c9f1000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-util.so.1 => /lib/x86_64-linux-gnu/libxcb-util.so.1 (0x00007f0a1c9e9000)
\tlibxcb-keysyms.so.1 => not found
\tlibxkbcommon-x11.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0a1b800000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f0a1ca0c000)
"""


@pytest.mark.parametrize(
    ("soname", "package"),
    [
        ("libxcb-icccm.so.4", "libxcb-icccm4"),
        ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
        ("libxcb-image.so.0", "libxcb-image0"),
        ("libxcb-render-util.so.0", "libxcb-render-util0"),
        ("libxcb-cursor.so.0", "libxcb-cursor0"),
        ("libxcb-xinerama.so.0", "libxcb-xinerama0"),
        ("libxcb-randr.so.0", "libxcb-randr0"),
        ("libxcb-shape.so.0", "libxcb-shape0"),
        ("libxcb-xfixes.so.0", "libxcb-xfixes0"),
        ("libxcb-sync.so.1", "libxcb-sync1"),
        ("libxcb-xkb.so.1", "libxcb-xkb1"),
        ("libxcb.so.1", "libxcb1"),
        ("libX11-xcb.so.1", "libx11-xcb1"),
        ("libX11.so.6", "libx11-6"),
        ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
        ("libxkbcommon.so.0", "libxkbcommon0"),
        ("libpcre2-8.so.0", "libpcre2-8-0"),
        ("libGL.so.1", "libgl1"),
        ("libEGL.so.1", "libegl1"),
        ("libfontconfig.so.1", "libfontconfig1"),
        ("libdbus-1.so.3", "libdbus-1-3"),
        ("libglib-2.0.so.0", "libglib2.0-0"),
        ("libz.so.1", "zlib1g"),
    ],
)
def test_a_soname_maps_to_its_debian_package(soname: str, package: str):
    assert debian_package(soname) == package


def test_ldd_output_gives_the_missing_sonames_once_each_in_order():
    assert parse_ldd(LDD_OUTPUT) == [
        "libxcb-icccm.so.4",
        "libxcb-keysyms.so.1",
        "libxkbcommon-x11.so.0",
    ]
    assert parse_ldd("\tlibc.so.6 => /lib/libc.so.6 (0x1)\n") == []
    assert parse_ldd("\tnot a dynamic executable\n") == []


def test_packages_are_named_once_each():
    sonames = ["libglib-2.0.so.0", "libgthread-2.0.so.0", "libxcb-icccm.so.4"]
    assert packages_for(sonames) == ["libglib2.0-0", "libxcb-icccm4"]


def test_missing_libraries_asks_ldd_for_each_file(tmp_path: Path, monkeypatch):
    fake = tmp_path / "ldd"
    fake.write_text(f"#!/bin/sh\ncat <<'EOF'\n{LDD_OUTPUT}EOF\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    missing = platform_check.missing_libraries([tmp_path / "a.so", tmp_path / "b.so"])
    assert missing == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxkbcommon-x11.so.0"]


def test_the_xcb_plugin_and_its_qt_library_are_found():
    names = [path.name for path in platform_check.xcb_files()]
    assert names[0] == "libqxcb.so" and names[1].startswith("libQt6XcbQpa.so")


@pytest.mark.parametrize(
    ("env", "platform", "expected"),
    [
        ({}, "linux", True),
        ({"QT_QPA_PLATFORM": "xcb"}, "linux", True),
        ({"QT_QPA_PLATFORM": "xcb:no-grab"}, "linux", True),
        ({"QT_QPA_PLATFORM": "offscreen"}, "linux", False),
        ({"QT_QPA_PLATFORM": "wayland"}, "linux", False),
        ({}, "darwin", False),
        ({}, "win32", False),
    ],
)
def test_only_the_xcb_platform_is_checked(env, platform, expected):
    assert platform_check.uses_xcb(env, platform) is expected


def test_the_message_names_the_packages_and_the_command():
    text = platform_check.missing_message(["libxcb-icccm.so.4", "libxcb-keysyms.so.1"])
    assert "libxcb-icccm.so.4" in text and "(package libxcb-icccm4)" in text
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1" in text
    assert "cursor" not in text  # not Qt's guess


def test_check_without_root_prints_the_packages_and_fails(monkeypatch, capsys):
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(platform_check, "missing_libraries", lambda: ["libxcb-icccm.so.4"])
    monkeypatch.setattr(platform_check, "can_install", lambda: False)
    installed: list[list[str]] = []
    monkeypatch.setattr(platform_check, "install", lambda p: installed.append(list(p)) or 0)
    assert platform_check.main(["--install"]) == 1
    err = capsys.readouterr().err
    assert "apt-get install libxcb-icccm4" in err and "installed nothing" in err
    assert installed == []


def test_check_as_root_installs_the_packages(monkeypatch, capsys):
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    state = {"missing": ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]}
    monkeypatch.setattr(platform_check, "missing_libraries", lambda: state["missing"])
    monkeypatch.setattr(platform_check, "can_install", lambda: True)
    installed: list[list[str]] = []

    def install(packages):
        installed.append(list(packages))
        state["missing"] = []
        return 0

    monkeypatch.setattr(platform_check, "install", install)
    assert platform_check.main(["--install"]) == 0
    assert installed == [["libxcb-icccm4", "libxcb-keysyms1"]]
    assert platform_check.main([]) == 0


def test_nothing_is_checked_offscreen(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.setattr(platform_check, "missing_libraries", lambda: ["libxcb-icccm.so.4"])
    assert platform_check.main([]) == 0
    assert app.platform_problem() is None


def test_the_app_names_the_missing_packages_before_qt_starts(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(platform_check, "missing_libraries", lambda: ["libxcb-keysyms.so.1"])
    problem = app.platform_problem()
    assert problem is not None and "apt-get install libxcb-keysyms1" in problem


def test_the_module_runs_without_a_qapplication():
    code = (
        "import sys\n"
        "from gui.shell import platform_check\n"
        "code = platform_check.main([])\n"
        "assert not any(m.startswith('PySide6') for m in sys.modules), 'imported Qt'\n"
        "print('exit', code)\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb"}  # the real check, ldd and all
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() in ("exit 0", "exit 1"), out.stdout


def test_a_wayland_session_only_warns(monkeypatch, capsys):
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setenv("XDG_SESSION_TYPE", "wayland")
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(platform_check, "missing_libraries", lambda: ["libxcb-icccm.so.4"])
    assert app.platform_problem() is None  # Qt may well pick its wayland plugin
    assert "warning:" in capsys.readouterr().err
