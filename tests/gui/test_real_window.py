"""The app in a real X window, under Xvfb and the openbox window manager.

The rest of the GUI tests draw offscreen; this one goes through Qt's xcb plugin, the
system's X libraries, a window manager's focus and a key pressed on the X server, so
a desktop that cannot show the app fails here first. Skipped without Xvfb or openbox
(`apt-get install xvfb openbox xdotool`; `.ci/run` installs them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from gui.shell import platform_check

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 20

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("Xvfb") is None or shutil.which("openbox") is None,
        reason="needs Xvfb and openbox (apt-get install xvfb openbox xdotool)",
    ),
]


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def x_display(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An Xvfb screen on a free display with openbox managing it; the environment to
    run a client on it."""
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1440x900x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    processes = [xvfb]
    try:
        with os.fdopen(read_fd) as pipe:  # Xvfb writes its display number once it is ready
            number = pipe.readline().strip()
        assert number.isdigit(), "Xvfb did not start"
        env = {
            **os.environ,
            "DISPLAY": f":{number}",
            "QT_QPA_PLATFORM": "xcb",
            "HOME": str(tmp_path),  # openbox and Qt keep their state here
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
        }
        for key in ("WAYLAND_DISPLAY", "XDG_SESSION_TYPE", "GRAPHSTEP_SETTINGS"):
            env.pop(key, None)
        ready = tmp_path / "openbox-ready"
        openbox = subprocess.Popen(
            ["openbox", "--sm-disable", "--startup", f"touch {ready}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(openbox)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready.exists():  # openbox runs --startup once it manages the screen
            assert openbox.poll() is None, "openbox exited"
            assert time.monotonic() < deadline, "openbox did not start"
            time.sleep(0.05)
        yield env
    finally:
        for process in reversed(processes):
            _stop(process)


def test_the_app_opens_steps_and_draws_in_a_real_window(x_display, tmp_path: Path):
    missing = platform_check.missing_libraries()
    assert not missing, platform_check.missing_message(missing)
    screenshot = tmp_path / "real_window.png"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.gui.real_window_smoke",
            str(screenshot),
            str(tmp_path / "settings.ini"),
        ],
        cwd=ROOT,
        env=x_display,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = f"stdout:\n{out.stdout}\nstderr:\n{out.stderr}"
    print(report)
    assert out.returncode == 0, report
    assert "platform: xcb" in out.stdout, report
    assert "paused: step at x, position 1" in out.stdout, report
    image = QImage(str(screenshot))
    assert not image.isNull(), report
    assert (image.width(), image.height()) == (1440, 900)
    # a drawn window, not a blank screen: many colours, and not mostly one
    small = image.scaled(160, 100)
    colours = {small.pixel(x, y) for x in range(small.width()) for y in range(small.height())}
    assert len(colours) > 50, f"{len(colours)} colours: the screen looks blank"
