"""The GPU path, where a CUDA device is at hand (skipped elsewhere): a model stepped on
the device gives the outputs, gradients and summaries of the same model stepped on the
CPU, and its values and summaries stay on the device until asked for."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from inspectors import events as ev  # noqa: E402
from inspectors.capture import capture  # noqa: E402
from inspectors.session import Session  # noqa: E402
from inspectors.target import load_target  # noqa: E402

pytestmark = [
    pytest.mark.torch,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def stepped(name: str, strategy: str, device: str) -> tuple[Session, list[ev.Event]]:
    target = load_target(name)
    target.model.to(device)
    target.example_inputs = tuple(
        x.to(device) if isinstance(x, torch.Tensor) else x for x in target.example_inputs
    )
    events: list[ev.Event] = []
    session = Session(capture(target, strategy), listener=events.append)
    session.start()
    session.wait()
    session.continue_()
    assert session.wait().reason == ev.FINISHED
    session.backward()
    session.wait()
    return session, events


@pytest.mark.parametrize("strategy", ["fx", "export", "eager"])
@pytest.mark.parametrize("name", ["feedforward_torch", "cnn_torch"])
def test_a_model_on_the_gpu_steps_as_on_the_cpu(name, strategy):
    gpu, gpu_events = stepped(name, strategy, "cuda")
    cpu, _ = stepped(name, strategy, "cpu")
    try:
        assert gpu.run.executed == cpu.run.executed
        for a, b in zip(gpu.run.outputs, cpu.run.outputs, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        on_device = [s for e in gpu_events if isinstance(e, ev.NodeStepped) for s in e.summaries]
        assert any(s.device.startswith("cuda") for s in on_device)
        assert gpu.store.device_nbytes > 0  # full values stay on the device
        for node in cpu.run.executed:
            for g, c in zip(gpu.summaries[node], cpu.summaries[node], strict=True):
                if not c.is_tensor or not c.size:
                    continue
                assert (g.shape, g.dtype, g.nan, g.pos_inf, g.neg_inf) == (
                    c.shape,
                    c.dtype,
                    c.nan,
                    c.pos_inf,
                    c.neg_inf,
                )
                for field in ("min", "max", "mean", "std"):
                    x, y = getattr(g, field), getattr(c, field)
                    assert math.isclose(x, y, rel_tol=1e-3, abs_tol=1e-4), (node, field)
            value = gpu.value(node)
            if value is not None:  # numpy on request, the value the CPU run kept
                np.testing.assert_allclose(value, cpu.value(node), rtol=1e-4, atol=1e-5)
        assert math.isclose(gpu.gradients.loss, cpu.gradients.loss, rel_tol=1e-4)
        for param, grad in cpu.gradients.params.items():
            np.testing.assert_allclose(gpu.gradients.params[param], grad, rtol=1e-3, atol=1e-5)
    finally:
        for session in (gpu, cpu):
            session.stop()
            session.join()
