"""`python -m inspectors.serve_engine`: an engine process for one window.

Prints one line, `graphstep engine listening on HOST:PORT token TOKEN`, then serves
(`inspectors.remote`) until the window shuts it down or goes away.
"""

from __future__ import annotations

import os
import sys

from inspectors.procinfo import keep_freed_memory
from inspectors.remote import (
    PROGRESS_BYTES,
    PROGRESS_ENV,
    READY_PREFIX,
    EngineServer,
    exit_now,
    serve_forever,
)


def progress_writer(name: str):  # noqa: ANN201 - a callable, or None
    """Write each finished node's id into the shared block `name` (length byte, UTF-8),
    where the parent reads it if this process dies."""
    from multiprocessing import resource_tracker, shared_memory

    try:
        block = shared_memory.SharedMemory(name=name)
    except (FileNotFoundError, OSError):
        return None
    # the parent owns the block: this process must not unlink it when it exits
    resource_tracker.unregister(block._name, "shared_memory")  # type: ignore[attr-defined]
    buf = block.buf
    assert buf is not None

    def write(node_id: str) -> None:
        data = node_id.encode()[: PROGRESS_BYTES - 1]
        buf[1 : 1 + len(data)] = data
        buf[0] = len(data)

    write.block = block  # type: ignore[attr-defined]  # kept alive with the writer
    return write


def main() -> int:
    keep_freed_memory()  # a process of its own: runs reuse the memory runs before freed
    server = EngineServer()
    name = os.environ.get(PROGRESS_ENV)
    if name:
        server.progress_writer = progress_writer(name)
    print(f"{READY_PREFIX}{server.address} token {server.token}", flush=True)
    # From here on the model's own prints go where the app's errors go: the window read
    # its one line and closed the pipe.
    sys.stdout.flush()
    os.dup2(2, 1)
    exit_now(serve_forever(server, parent=os.getppid()))


if __name__ == "__main__":
    sys.exit(main())
