"""Graphstep's public API: debug a model where it lives.

    import graphstep
    outputs = graphstep.debug(model, x)          # in a script, a test or a notebook

`debug` makes the calling process the engine: the model is captured and stepped right
here, on its own device, with its real inputs and weights, and a Graphstep window (a
process of its own) opens on it, paused before the first node. In a script it
returns when the window closes, with the model's outputs (overrides applied), like
`breakpoint()`; in a notebook it returns at once and the window stays attached.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any

__all__ = ["debug", "Debugging"]


class Debugging:
    """A model being debugged: the engine serving it and the window attached to it."""

    def __init__(self, server: Any, session: Any, window: subprocess.Popen[bytes] | None) -> None:
        self.server = server
        self.session = session
        self.window = window

    @property
    def address(self) -> str:
        return self.server.address

    @property
    def token(self) -> str:
        return self.server.token

    def attach_command(self) -> str:
        return f"graphstep attach {self.address} --token {self.token}"

    def wait(self, timeout: float | None = None) -> Any:
        """Block until the window closes (or detaches and shuts the engine down); the
        model's outputs as the last run left them (None when it never finished)."""
        ended = self.server.ended.wait(timeout)
        if self.window is not None and not ended:
            self.window.wait(timeout)
        return self.outputs()

    def outputs(self) -> Any:
        return self.session.run.outputs if self.session is not None else None

    def close(self) -> None:
        self.server.engine.close()
        self.server.stop()
        if self.window is not None and self.window.poll() is None:
            self.window.terminate()


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    try:
        return shell is not None and shell.get_ipython().__class__.__name__ == "ZMQInteractiveShell"
    except AttributeError:
        return False


def debug(
    model: Any,
    *inputs: Any,
    loss: Any = None,
    capture: str = "auto",
    listen: int | None = None,
    window: bool = True,
    block: bool | None = None,
) -> Any:
    """Debug `model` on `inputs` here, in a Graphstep window.

    `model` is an `nn.Module`, a Keras model or a `tf.function`; `loss(output, *inputs)`
    gives the scalar for gradients (else the sum of the first output). `listen` serves
    on that port (for `graphstep attach` from elsewhere) instead of opening a window
    when `window` is False. Blocks until the window closes and returns the model's
    outputs, unless `block` is False (the default in a notebook): then it returns a
    `Debugging` handle at once.
    """
    from inspectors.engine import Engine
    from inspectors.remote import EngineServer
    from inspectors.target import ModelTarget, TargetError, framework_of

    framework = framework_of(model)
    if framework is None:
        raise TargetError(
            f"graphstep.debug needs an nn.Module, a Keras model or a tf.function, "
            f"not {type(model).__name__}"
        )
    name = getattr(model, "name", None) or type(model).__name__
    target = ModelTarget(
        spec=f"<{name}>",
        name=str(name),
        framework=framework,
        model=model,
        example_inputs=tuple(inputs),
        loss=loss,
        description="debugged where it lives (graphstep.debug)",
    )
    engine = Engine()
    server = EngineServer(engine, port=listen or 0)
    session = engine.open_target(target, capture)  # its events wait for the window
    server.start()
    process = None
    if window:
        process = subprocess.Popen(
            [sys.executable, "-m", "gui.app", "--attach", server.address, "--token", server.token]
        )
        threading.Thread(target=_end_with, args=(process, server), daemon=True).start()
    else:
        print(f"graphstep attach {server.address} --token {server.token}", flush=True)
    handle = Debugging(server, session, process)
    if block is None:
        block = not _in_notebook()
    if not block:
        return handle
    try:
        return handle.wait()
    finally:
        handle.close()


def _end_with(process: subprocess.Popen[bytes], server: Any) -> None:
    """The window's process ended (closed, or killed): so does the debugging."""
    process.wait()
    server.ended.set()
