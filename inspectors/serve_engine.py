"""`python -m inspectors.serve_engine`: an engine process for one window.

Prints one line, `graphstep engine listening on HOST:PORT token TOKEN`, then serves
(`inspectors.remote`) until the window shuts it down or goes away.
"""

from __future__ import annotations

import os
import sys

from inspectors.remote import READY_PREFIX, EngineServer, serve_forever


def main() -> int:
    server = EngineServer()
    print(f"{READY_PREFIX}{server.address} token {server.token}", flush=True)
    return serve_forever(server, parent=os.getppid())


if __name__ == "__main__":
    sys.exit(main())
