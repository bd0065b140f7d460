"""Can Qt open a window here? Names the system packages its xcb plugin is missing.

On a plain Debian or Ubuntu desktop, Qt's xcb platform plugin (the X11 one) fails to
load because a few X client libraries are not installed, and Qt's own message then
names a package that is often installed already. This module asks the dynamic linker
instead: `ldd` on PySide6's `libqxcb.so` and `libQt6XcbQpa.so*` lists each missing
library, and Debian's naming rule turns each into the package that ships it.

Qt-free: it runs before any QApplication exists, from `gui.app.main` and from
`make run` as `python -m gui.shell.platform_check --install`.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

#: Where Debian's rule (below) gives a wrong package name.
PACKAGE_EXCEPTIONS = {
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libOpenGL.so.0": "libopengl0",
    "libGLdispatch.so.0": "libglvnd0",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgobject-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libgio-2.0.so.0": "libglib2.0-0",
    "libharfbuzz.so.0": "libharfbuzz0b",
    "libz.so.1": "zlib1g",
    "libgcc_s.so.1": "libgcc-s1",
    "libbrotlidec.so.1": "libbrotli1",
    "libbrotlicommon.so.1": "libbrotli1",
    "libm.so.6": "libc6",
    "libdl.so.2": "libc6",
    "libpthread.so.0": "libc6",
    "librt.so.1": "libc6",
}

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found\s*$")
_SONAME = re.compile(r"^(?P<name>.+?)\.so\.(?P<version>[0-9][0-9.]*)$")


def debian_package(soname: str) -> str:
    """The Debian/Ubuntu package that ships `soname`, by Debian's library naming rule.

    `libxcb-icccm.so.4` -> `libxcb-icccm4`; a name that ends in a digit takes a `-`
    before the version: `libxkbcommon-x11.so.0` -> `libxkbcommon-x11-0`. Lower case.
    """
    if soname in PACKAGE_EXCEPTIONS:
        return PACKAGE_EXCEPTIONS[soname]
    match = _SONAME.match(soname)
    if match is None:  # no version (`libfoo.so`): the best guess is the bare name
        return soname.removesuffix(".so").lower()
    name, version = match["name"].lower(), match["version"]
    return f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}"


def parse_ldd(text: str) -> list[str]:
    """The sonames `ldd` reported as `not found`, once each, in the order listed."""
    found: list[str] = []
    for line in text.splitlines():
        match = _NOT_FOUND.match(line)
        if match and match[1] not in found:
            found.append(match[1])
    return found


def uses_xcb(env: Mapping[str, str] = os.environ, platform: str = sys.platform) -> bool:
    """Whether Qt will load its xcb plugin: on Linux, QT_QPA_PLATFORM unset or xcb."""
    if not platform.startswith("linux"):
        return False
    chosen = env.get("QT_QPA_PLATFORM", "").strip()
    return not chosen or chosen.split(";")[0].split(":")[0] == "xcb"


def wayland_session(env: Mapping[str, str] = os.environ) -> bool:
    """A Wayland desktop, where Qt may pick its wayland plugin over xcb by itself."""
    return (
        not env.get("QT_QPA_PLATFORM")
        and env.get("XDG_SESSION_TYPE") == "wayland"
        and bool(env.get("WAYLAND_DISPLAY"))
    )


def xcb_files() -> list[Path]:
    """PySide6's xcb plugin and the Qt library it is built on (found without importing
    PySide6); empty when PySide6 is not installed."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return []
    qt = Path(next(iter(spec.submodule_search_locations))) / "Qt"
    plugin = qt / "plugins" / "platforms" / "libqxcb.so"
    files = [plugin] if plugin.exists() else []
    return files + sorted((qt / "lib").glob("libQt6XcbQpa.so*"))[:1]


def missing_libraries(files: Sequence[Path] | None = None) -> list[str]:
    """The shared libraries the dynamic linker cannot find for `files` (the xcb plugin
    and its Qt library by default); empty when `ldd` is not there to ask."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return []
    missing: list[str] = []
    for path in xcb_files() if files is None else files:
        try:
            out = subprocess.run([ldd, str(path)], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        missing += [s for s in parse_ldd(out.stdout) if s not in missing]
    return missing


def packages_for(sonames: Sequence[str]) -> list[str]:
    """The packages to install for `sonames`, once each."""
    return list(dict.fromkeys(debian_package(s) for s in sonames))


def install_command(packages: Sequence[str], sudo: bool = True) -> str:
    return f"{'sudo ' if sudo else ''}apt-get install {' '.join(packages)}"


def missing_message(sonames: Sequence[str]) -> str:
    """What to tell a user whose Qt cannot load its xcb plugin, packages first."""
    packages = packages_for(sonames)
    width = max(len(s) for s in sonames)
    lines = [
        "the desktop app cannot open its window: Qt's X11 (xcb) platform plugin needs "
        "system libraries that are not installed:",
        *(f"    {s:<{width}}  (package {debian_package(s)})" for s in sonames),
        "On Debian or Ubuntu, install them with:",
        f"    {install_command(packages)}",
        "or, as root, `python -m gui.shell.platform_check --install` (`make run` does this).",
    ]
    if shutil.which("apt-get") is None:
        lines.append("(Those are Debian's package names; other systems name them alike.)")
    return "\n".join(lines)


def _apt_name(package: str) -> str:
    """`package`, or its `t64` successor where only that exists (Ubuntu 24.04 and later)."""
    for name in (package, f"{package}t64"):
        known = subprocess.run(["apt-cache", "show", name], capture_output=True, text=True)
        if known.returncode == 0 and known.stdout.strip():
            return name
    return package


def install(packages: Sequence[str]) -> int:
    """`apt-get update && apt-get install -y PACKAGES`; the exit status of apt-get."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    update = subprocess.run(["apt-get", "update", "-qq"], env=env)
    if update.returncode != 0:
        return update.returncode
    names = [_apt_name(p) for p in packages]
    print(f"graphstep: installing {' '.join(names)}", file=sys.stderr)
    return subprocess.run(["apt-get", "install", "-y", "-qq", *names], env=env).returncode


def can_install() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get") is not None


def main(argv: list[str] | None = None) -> int:
    """0 when Qt's xcb plugin can load (or is not the one Qt will use); 1 with a message
    naming the packages to install when it cannot."""
    parser = argparse.ArgumentParser(
        prog="python -m gui.shell.platform_check",
        description="Check that Qt's X11 (xcb) platform plugin finds its system libraries.",
    )
    parser.add_argument(
        "--install",
        action="store_true",
        help="install the missing packages with apt-get (when run as root)",
    )
    args = parser.parse_args(argv)
    if not uses_xcb():
        return 0
    missing = missing_libraries()
    if not missing:
        return 0
    installed = args.install and can_install() and install(packages_for(missing)) == 0
    if installed and not (missing := missing_libraries()):
        return 0
    print(f"graphstep: {missing_message(missing)}", file=sys.stderr)
    if args.install and not can_install():
        why = "apt-get is not available" if shutil.which("apt-get") is None else "not root"
        print(f"(--install installed nothing: {why}.)", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
