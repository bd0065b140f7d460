"""A pytest plugin (`-p tests.block_frameworks`): importing torch, tensorflow or keras
fails for the whole run, and the run ends by checking that none got in."""

from __future__ import annotations

import sys

BLOCKED = ("torch", "tensorflow", "keras")
for _name in BLOCKED:
    sys.modules[_name] = None  # type: ignore[assignment]


def pytest_sessionfinish(session, exitstatus):  # noqa: ARG001 - pytest's hook signature
    leaked = [name for name in BLOCKED if sys.modules.get(name) is not None]
    if leaked:
        print(f"frameworks imported: {leaked}")
        session.exitstatus = 1
    else:
        print("\nframeworks stayed blocked")
