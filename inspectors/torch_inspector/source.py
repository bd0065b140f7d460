"""Where in the user's code a node came from: the innermost frame outside torch and us.

The `source` of a node is `file:line` of the model code that made it, so the GUI can
show the line and a failure reason can quote it. Frames inside torch, inside
Graphstep's own `inspectors/` and inside the standard library are never "user code".
"""

from __future__ import annotations

import linecache
import os
import re
import sys
import sysconfig
import traceback
from types import CodeType, FrameType, TracebackType

import torch

_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_INSPECTORS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_STDLIB_DIR = sysconfig.get_paths()["stdlib"] + os.sep
_FILE_LINE = re.compile(r'File "([^"]+)", line (\d+)')

_user_file_cache: dict[str, bool] = {}


def is_user_file(filename: str) -> bool:
    """True for model code: not torch, not inspectors/, not the stdlib, not `<string>`."""
    known = _user_file_cache.get(filename)
    if known is not None:
        return known
    path = os.path.abspath(filename) if not filename.startswith("<") else filename
    user = not (
        filename.startswith("<")
        or path.startswith(_TORCH_DIR)
        or path.startswith(_INSPECTORS_DIR)
        or (path.startswith(_STDLIB_DIR) and "site-packages" not in path)
    )
    _user_file_cache[filename] = user
    return user


def location(filename: str, lineno: int) -> str:
    return f"{filename}:{lineno}"


def code_at(filename: str, lineno: int) -> str:
    """The stripped source line, or empty when the file cannot be read."""
    return linecache.getline(filename, lineno).strip()


def caller_source(frame: FrameType | None = None) -> str | None:
    """`file:line` of the innermost user frame on the current stack.

    The walk starts inside Graphstep (a tracer hook, a TorchFunctionMode) and goes
    outward through torch into the model's code. Reaching Graphstep again means
    the model code is behind us (a model whose forward is generated, such as a
    GraphModule's `<eval_with_key>`), and what lies beyond is the caller of the
    capture, not model code: then there is no source.
    """
    f: FrameType | None = frame if frame is not None else sys._getframe(1)
    left_graphstep = False
    while f is not None:
        name = f.f_code.co_filename
        kind = _file_kinds.get(name) or _file_kind(name)
        if kind == _GRAPHSTEP:
            if left_graphstep:
                return None
        else:
            left_graphstep = True
            if kind == _USER:
                return _frame_location(f)
        f = f.f_back
    return None


_GRAPHSTEP, _USER, _OTHER = "graphstep", "user", "other"
#: filename -> which of the three its frames are; the eager capture walks the stack per op
_file_kinds: dict[str, str] = {}


#: (code, instruction offset) -> `file:line`; finding a frame's line scans its code's table
_locations: dict[tuple[CodeType, int], str] = {}
_MAX_LOCATIONS = 1 << 16


def _frame_location(frame: FrameType) -> str:
    key = (frame.f_code, frame.f_lasti)
    found = _locations.get(key)
    if found is None:
        if len(_locations) >= _MAX_LOCATIONS:
            _locations.clear()
        found = _locations[key] = location(frame.f_code.co_filename, frame.f_lineno)
    return found


def _file_kind(filename: str) -> str:
    user = is_user_file(filename)
    kind = _GRAPHSTEP if _is_graphstep(filename) else _USER if user else _OTHER
    _file_kinds[filename] = kind
    return kind


def _is_graphstep(filename: str) -> bool:
    return filename.startswith(_INSPECTORS_DIR)


def source_from_stack_trace(text: str | None) -> str | None:
    """`file:line` of the last user frame in an fx/export `stack_trace` string."""
    if not text:
        return None
    found = None
    for filename, line in _FILE_LINE.findall(text):
        if is_user_file(filename):
            found = location(filename, int(line))
    return found


def user_frame_of(exc: BaseException) -> tuple[str, int] | None:
    """The innermost user frame where `exc` (or the error it came from) was raised.

    Torch often re-raises from deep inside its tracer; the user's line is then in
    the traceback, in a chained exception, or quoted in the message (`File "...",
    line N`, as torch.export and dynamo write it).
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _last_user_frame(current.__traceback__)
        quoted = [(f, int(n)) for f, n in _FILE_LINE.findall(str(current)) if is_user_file(f)]
        if quoted:
            return quoted[-1]
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


def _last_user_frame(tb: TracebackType | None) -> tuple[str, int] | None:
    found = None
    for frame in traceback.extract_tb(tb):
        if is_user_file(frame.filename) and frame.lineno is not None:
            found = (frame.filename, frame.lineno)
    return found
