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

import os
import subprocess
import sys
import threading
from typing import Any

__all__ = ["debug", "Debugging", "watch", "NonFinite"]


def watch(model: Any, loss: Any = None, **options: Any) -> Any:
    """Watch a training run for its first non-finite iteration.

    PyTorch (see `inspectors.watch`): `with watch.iteration(x, targets=(y,)) as it: ...`
    around each iteration. Keras (see `inspectors.watch_keras`): the watch is a callback,
    `model.fit(x, y, callbacks=[graphstep.watch(model)])`."""
    keras = sys.modules.get("keras")
    if keras is not None and isinstance(model, keras.Model):
        from inspectors.watch_keras import KerasWatch

        return KerasWatch(model, loss, **options)
    from inspectors.watch import Watch

    return Watch(model, loss, **options)


def __getattr__(name: str) -> Any:
    if name == "NonFinite":  # imported on use: `import graphstep` stays light
        from inspectors.watch import NonFinite

        return NonFinite
    raise AttributeError(name)


class Debugging:
    """A model being debugged: the engine serving it and the window attached to it."""

    def __init__(
        self,
        server: Any,
        session: Any,
        window: subprocess.Popen[bytes] | None,
        *,
        framework: str = "torch",
        device: Any = None,
    ) -> None:
        self.server = server
        self.session = session
        self.window = window
        self.framework = framework
        self.device = device

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
        """The model's outputs as the last run left them, as the framework's own tensors
        on the inputs' device: one tensor, or a tuple for several (None before the end)."""
        if self.session is None or self.session.run.outputs is None:
            return None
        outputs = tuple(
            _as_framework(o, self.framework, self.device) for o in self.session.run.outputs
        )
        return outputs[0] if len(outputs) == 1 else outputs

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
    from inspectors.remote import TOKEN_ENV, EngineServer
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
    notebook = _in_notebook()
    engine = Engine()
    # A window's Stop on a model stuck in one long call ends this process, as a
    # debugger's Terminate does; a notebook's kernel is never ended that way.
    server = EngineServer(engine, port=listen or 0, end_process=not notebook)
    session = engine.open_target(target, capture)  # its events wait for the window
    server.start()
    process = None
    if window:
        # the token travels in the environment, never on a command line others can read
        process = subprocess.Popen(
            [sys.executable, "-m", "gui.app", "--attach", server.address],
            env={**os.environ, TOKEN_ENV: server.token},
        )
        threading.Thread(target=_end_with, args=(process, server), daemon=True).start()
    else:
        print(f"graphstep attach {server.address} --token {server.token}", flush=True)
    handle = Debugging(server, session, process, framework=framework, device=_device_of(inputs))
    if block is None:
        block = not notebook
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


def _device_of(inputs: tuple[Any, ...]) -> Any:
    """The device of the first input that has one (a torch tensor's, a TF tensor's)."""
    for value in inputs:
        device = getattr(value, "device", None)
        if device is not None:
            return device
    return None


def _as_framework(value: Any, framework: str, device: Any) -> Any:
    """A numpy output as the framework's tensor, on `device` (anything else as it is)."""
    import numpy as np

    if not isinstance(value, np.ndarray):
        return value
    if framework == "torch":
        import torch

        tensor = torch.from_numpy(np.array(value))  # a writable copy of its own
        return tensor.to(device) if device is not None else tensor
    import tensorflow as tf

    if device:
        with tf.device(device):
            return tf.identity(tf.convert_to_tensor(value))
    return tf.convert_to_tensor(value)
