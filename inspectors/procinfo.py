"""What the operating system says of a process (its resident memory), and how an
engine process asks it to keep the memory its runs free."""

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


#: glibc's `mallopt` parameters, and the largest mapping threshold it takes (64-bit).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_MAX = 32 << 20


def keep_freed_memory(keep: int = 1 << 30) -> bool:
    """Ask glibc's malloc to keep what a run frees for the next run: blocks up to 32 MiB
    from the heap rather than mappings of their own, and up to `keep` bytes of freed
    heap kept rather than handed back to the system.

    By default every block above 128 KiB (a conv net's activation: about a MiB) is a
    fresh mapping, faulted in page by page on every run and unmapped when freed.
    Measured on bench/stepping.py's ResNet (2 cores): the stepper 10.0 -> 4.8 ms, the
    model's own forward 7.0 -> 4.5 ms; no change where tensors are small (the
    transformer, the chain). The cost: the process keeps the memory of its largest
    run. So only an engine process of its own calls this (`serve_engine`, `graphstep
    serve`), never `graphstep.debug` in the user's process. False where this is not
    glibc (nothing changed)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mapped = mallopt(_M_MMAP_THRESHOLD, _MMAP_MAX)
    trimmed = mallopt(_M_TRIM_THRESHOLD, keep)
    return bool(mapped and trimmed)


__all__ = ["keep_freed_memory", "resident_memory"]
