"""Number formatting shared by the panels."""

from __future__ import annotations


def compact_count(n: int, plain_below: int) -> str:
    """`n` in full with thousands separators below `plain_below` (`1,234`), else to three
    significant digits with a unit: `12.3 K`, `4.56 M`, `7.8 G`."""
    if n < plain_below:
        return f"{n:,}"
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return str(n)
