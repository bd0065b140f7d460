"""`graphstep.debug(model, x)`: the calling process is the engine; a client attaches,
continues, closes, and the call returns the model's own outputs."""

from __future__ import annotations

import numpy as np
import pytest

import graphstep
from inspectors import commands as cmds
from inspectors import events as ev
from inspectors.engine import EventLog
from inspectors.remote import RemoteClient

TIMEOUT = 60.0


def attach_and_continue(handle) -> list:
    log = EventLog()
    client = RemoteClient(handle.address, handle.token)
    client.add_listener(log)
    loaded = log.wait_for(ev.Loaded, TIMEOUT)  # sent before anyone attached: kept for us
    log.wait_for(ev.Paused, TIMEOUT)
    mark = log.mark()
    client.send(cmds.Continue())
    assert log.wait_for(ev.Paused, TIMEOUT, after=mark).reason == ev.FINISHED
    client.close()  # as closing the window does
    return [loaded]


@pytest.mark.torch
def test_debug_a_cnn_defined_inline(capsys):
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    x = torch.randn(2, 1, 8, 8)
    handle = graphstep.debug(model, x, window=False, block=False)
    assert handle.attach_command() in capsys.readouterr().out
    (loaded,) = attach_and_continue(handle)
    assert loaded.origin == "attached" and loaded.framework == "torch"
    outputs = handle.wait(TIMEOUT)
    handle.close()
    assert isinstance(outputs, torch.Tensor)  # the model's own kind of output, one tensor
    torch.testing.assert_close(outputs, model(x).detach(), rtol=1e-5, atol=1e-6)


@pytest.mark.tf
def test_debug_a_keras_model_defined_inline():
    keras = pytest.importorskip("keras")
    import tensorflow as tf

    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="relu")])
    x = tf.random.stateless_normal((2, 5), seed=(1, 2))
    handle = graphstep.debug(model, x, window=False, block=False)
    (loaded,) = attach_and_continue(handle)
    assert loaded.framework == "tensorflow"
    outputs = handle.wait(TIMEOUT)
    handle.close()
    assert isinstance(outputs, tf.Tensor)
    np.testing.assert_allclose(outputs.numpy(), model(x).numpy(), rtol=1e-5)


def test_debug_refuses_what_is_not_a_model():
    from inspectors.target import TargetError

    with pytest.raises(TargetError, match="nn.Module"):
        graphstep.debug(lambda x: x, 1, window=False, block=False)
