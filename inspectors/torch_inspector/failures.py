"""Why a capture strategy failed, in one line of plain words: this is teaching material.

Each rule recognises one family of torch errors by type and message and explains
the cause in terms of how the strategy works (fx traces with placeholders that have
no values; export traces with fake tensors that have shapes but no values; eager
really runs the model), quoting the user's line when the traceback names one.
"""

from __future__ import annotations

import os
import re

from inspectors.torch_inspector.source import code_at, user_frame_of

_FX_RULES: list[tuple[str, str]] = [
    (
        r"symbolically traced variables cannot be used as inputs to control flow",
        "fx cannot follow Python control flow on a tensor's value ({where}): "
        "symbolic tracing has no values",
    ),
    (
        r"'Proxy' object cannot be interpreted as an integer|"
        r"Proxy object cannot be (iterated|interpreted)|__len__|len\(\) of",
        "fx cannot follow Python control flow that needs a traced value as a plain number "
        "({where}), such as a loop over a tensor's size: symbolic tracing has no values",
    ),
    (
        r"argument of type: <class '([^']+)'>|Could not infer dtype|"
        r"cannot be traced|not supported for Proxy",
        "fx cannot put a {detail} into the graph ({where}): a traced graph holds tensors, "
        "numbers and plain containers only",
    ),
    (
        r"takes \d+ positional argument|expected .* but got Proxy|must be .*, not Proxy",
        "fx passed a placeholder where torch needs a real value ({where}): "
        "symbolic tracing has no values",
    ),
]

_EXPORT_RULES: list[tuple[str, str]] = [
    (
        r"data-dependent|GuardOnDataDependent|Data-dependent branching|"
        r"Dynamic control flow is not supported",
        "export cannot follow Python control flow on a tensor's value ({where}): it traces "
        "with fake tensors that have shapes but no values (torch.cond expresses such a branch)",
    ),
    (
        r"not a valid pytree|pytree|Unsupported output type|is not supported as an output",
        "export cannot flatten what the model takes or returns ({where}): outputs must be "
        "tensors in tuples, lists, dicts or registered dataclasses",
    ),
    (
        r"has no implementation for fake|fake tensor|not implemented for 'Meta'|"
        r"NotImplementedError|Unsupported",
        "export met an operation it cannot trace ({where}): {message}",
    ),
]

_EAGER_RULES: list[tuple[str, str]] = [
    (r".*", "the model raised {type} while running ({where}): {message}"),
]

_RULES = {"fx": _FX_RULES, "export": _EXPORT_RULES, "eager": _EAGER_RULES}


def error_text(exc: BaseException) -> str:
    """The full exception text: `Type: message`."""
    return f"{type(exc).__name__}: {exc}".strip()


def explain(strategy: str, exc: BaseException) -> str:
    """One line saying why `strategy` failed, with the user's line where known."""
    text = error_text(exc)
    where = _where(exc)
    message = _first_line(str(exc)) or type(exc).__name__
    for pattern, template in _RULES.get(strategy, []):
        match = re.search(pattern, text, flags=re.IGNORECASE)
        if match:
            detail = match.group(1) if match.groups() and match.group(1) else "Python object"
            if "." in detail:
                detail = f"`{detail.rpartition('.')[2]}`"
            return template.format(
                where=where, message=message, type=type(exc).__name__, detail=detail
            )
    return f"{strategy} failed ({where}): {type(exc).__name__}: {message}"


def _where(exc: BaseException) -> str:
    """ "`if x.sum() > 0` at dynamic_torch.py:27", or "line unknown"."""
    frame = user_frame_of(exc)
    if frame is None:
        return "line unknown"
    filename, line = frame
    code = code_at(filename, line)
    place = f"{os.path.basename(filename)}:{line}"
    return f"`{code}` at {place}" if code else place


def _first_line(text: str) -> str:
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()[:200]
    return ""
