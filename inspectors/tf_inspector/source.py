"""Where in the user's code a TensorFlow op was made: `file:line` from its traceback."""

from __future__ import annotations

import functools
import re
import sysconfig
from pathlib import Path
from typing import Any

import inspectors

_INSPECTORS = str(Path(inspectors.__file__).resolve().parent)
_STDLIB = str(Path(sysconfig.get_paths()["stdlib"]).resolve())
_LIBRARY_MARKERS = ("site-packages", "dist-packages", "__autograph_generated_file")

#: One frame in a StackTrace's text: `File "<file>", line <n>, in <function>`.
_FRAME_LINE = re.compile(r'File "(.*)", line (-?\d+), in .*')

#: Verdicts on a frame besides `file:line` (no file name holds a NUL character).
_SKIP = ""  # library code: look further out
_STOP = "\0stop"  # Graphstep's own tracing call: no user frame inside
_UNREADABLE = "\0unreadable"  # text not in the expected form: read the frames instead

#: Verdict per line of trace text; lines repeat from op to op (the same Keras frames).
_VERDICTS: dict[str, str] = {}
_MAX_VERDICTS = 1 << 16

#: Answer per whole trace text: ops made by one line in a loop (layer after layer of a
#: Sequential model) have the same trace.
_ANSWERS: dict[str, str | None] = {}
_MAX_ANSWERS = 1 << 10


def user_source(op: Any) -> str | None:
    """`file:line` of the innermost frame of user code that created `op`, if any.

    Frames up to Graphstep's own tracing call are the caller's (a test, the CLI) and say
    nothing about the model, so only frames inside the traced call count. AutoGraph
    already maps converted code back to the user's file.
    """
    stack = op.traceback
    if not stack:
        return None
    # get_user_frames() drops TensorFlow's own frames in C++. Its text then gives every
    # remaining frame in one call, where reading frame objects costs about a microsecond
    # each (Keras ops carry 20+ of them).
    frames = stack.get_user_frames()
    text = repr(frames)
    if text in _ANSWERS:
        return _ANSWERS[text]
    answer = _read(text, frames)
    if len(_ANSWERS) >= _MAX_ANSWERS:
        _ANSWERS.clear()
    _ANSWERS[text] = answer
    return answer


def _read(text: str, frames: Any) -> str | None:
    """`user_source` from the text of `frames`, line by line from the innermost frame."""
    lines = text.split("\n") if text else []
    if len(lines) != len(frames):
        return _walk(frames)  # a file or function name with a line break in it
    for line in reversed(lines):
        verdict = _VERDICTS.get(line)
        if verdict is None:
            verdict = _judge_line(line)
        if verdict == _SKIP:
            continue
        if verdict == _UNREADABLE:
            return _walk(frames)
        return None if verdict == _STOP else verdict
    return None


def _walk(frames: Any) -> str | None:
    """`user_source` read from the frame objects, innermost first."""
    for i in range(len(frames) - 1, -1, -1):
        frame = frames[i]
        verdict = _judge(frame.filename, frame.lineno)
        if verdict != _SKIP:
            return None if verdict == _STOP else verdict
    return None


def _judge_line(line: str) -> str:
    """The verdict on one line of trace text, remembered for the ops that follow."""
    match = _FRAME_LINE.fullmatch(line)
    if match is None:
        return _UNREADABLE
    verdict = _judge(match.group(1), int(match.group(2)))
    if len(_VERDICTS) >= _MAX_VERDICTS:
        _VERDICTS.clear()
    _VERDICTS[line] = verdict
    return verdict


def _judge(filename: str, lineno: int) -> str:
    """`file:line` for a user frame, else `_STOP` or `_SKIP`."""
    if filename.startswith(_INSPECTORS):
        return _STOP
    if _is_user_file(filename):
        return f"{filename}:{lineno}"
    return _SKIP


@functools.lru_cache(maxsize=4096)
def _is_user_file(filename: str) -> bool:
    if not filename or filename.startswith("<"):
        return False
    if any(marker in filename for marker in _LIBRARY_MARKERS):
        return False
    return not filename.startswith((_INSPECTORS, _STDLIB))
