"""What the operating system says of a process: its resident memory."""

from __future__ import annotations


def resident_memory(pid: int | None = None) -> int:
    """The resident memory in bytes of this process, or of process `pid` (0 where it
    cannot be read)."""
    try:
        with open(f"/proc/{pid or 'self'}/statm") as f:
            pages = int(f.read().split()[1])
        import os

        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        if pid is not None:
            return 0
        try:
            import resource

            return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
        except (ImportError, OSError):
            return 0


__all__ = ["resident_memory"]
