"""Where in the user's code a TensorFlow op was made: `file:line` from its traceback."""

from __future__ import annotations

import functools
import sysconfig
from pathlib import Path
from typing import Any

import inspectors

_INSPECTORS = str(Path(inspectors.__file__).resolve().parent)
_STDLIB = str(Path(sysconfig.get_paths()["stdlib"]).resolve())
_LIBRARY_MARKERS = ("site-packages", "dist-packages", "__autograph_generated_file")


def user_source(op: Any) -> str | None:
    """`file:line` of the innermost frame of user code that created `op`, if any.

    Frames up to Graphstep's own tracing call are the caller's (a test, the CLI) and say
    nothing about the model, so only frames inside the traced call count. AutoGraph
    already maps converted code back to the user's file.
    """
    stack = op.traceback
    if not stack:
        return None
    # get_user_frames() drops TensorFlow's own frames in C++: far cheaper than
    # materialising every frame here (Keras ops carry 50+ frames each).
    frames = list(stack.get_user_frames())
    for frame in reversed(frames):
        filename = frame.filename
        if filename.startswith(_INSPECTORS):
            return None  # reached Graphstep's own tracing call: no user frame inside
        if _is_user_file(filename):
            return f"{filename}:{frame.lineno}"
    return None


@functools.lru_cache(maxsize=4096)
def _is_user_file(filename: str) -> bool:
    if not filename or filename.startswith("<"):
        return False
    if any(marker in filename for marker in _LIBRARY_MARKERS):
        return False
    return not filename.startswith((_INSPECTORS, _STDLIB))
