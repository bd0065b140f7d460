"""`graphstep.watch` on a PyTorch training loop whose learning rate diverges: it stops
at the first non-finite iteration, and the recording names the first non-finite node,
the one `torch.autograd.detect_anomaly` blames for the same iteration."""

from __future__ import annotations

import math
import re

import pytest

import graphstep
from inspectors import events as ev
from inspectors.recording import read

torch = pytest.importorskip("torch")
F = torch.nn.functional

pytestmark = pytest.mark.torch


def diverging_loop(tmp_path, lr: float = 0.5):
    """A small MLP fitted with a learning rate that makes it diverge, watched."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    x = torch.randn(64, 4)
    y = (x**2).sum(1, keepdim=True)
    watch = graphstep.watch(model, loss=F.mse_loss, record=tmp_path / "caught.gsrec")
    losses = []
    with pytest.raises(graphstep.NonFinite) as stopped:
        for _ in range(200):
            optimizer.zero_grad()
            with watch.iteration(x, targets=(y,)) as it:
                it.loss = F.mse_loss(model(x), y)
                it.loss.backward()
            losses.append(it.loss.item())
            optimizer.step()
    return model, x, y, losses, stopped.value.caught


def first_nan_module(model, x, y):
    """Which module's backward function first returns a NaN, found with autograd's own
    node hooks (called as each backward function returns): (module name, function)."""
    seen: list[tuple[str, str]] = []
    handles = []

    def watch_output(name):
        def forward_hook(_module, _inputs, output):
            fn = output.grad_fn

            def on_backward(grad_inputs, _grad_outputs):
                if any(g is not None and torch.isnan(g).any() for g in grad_inputs):
                    seen.append((name, fn.name()))

            handles.append(fn.register_hook(on_backward))

        return forward_hook

    for name, module in model.named_children():
        handles.append(module.register_forward_hook(watch_output(name)))
    F.mse_loss(model(x), y).backward()
    for handle in handles:
        handle.remove()
    return seen[0] if seen else None


def test_watch_stops_at_the_first_non_finite_iteration_and_records_it(tmp_path):
    _model, _x, _y, losses, caught = diverging_loop(tmp_path)
    assert losses and all(math.isfinite(v) for v in losses)  # every iteration before it
    assert caught.iteration == len(losses) + 1 and not math.isfinite(caught.loss)
    assert caught.recording == tmp_path / "caught.gsrec" and caught.node is not None
    assert caught.node in caught.message and str(caught.iteration) in caught.message
    recording = read(caught.recording)
    assert recording.gradients is not None and not math.isfinite(recording.gradients.loss)
    stepped = [e.node_id for e in recording.events if isinstance(e, ev.NodeStepped)]
    assert caught.node in stepped and caught.where == "backward"
    bad = recording.gradients.nodes[stepped[stepped.index(caught.node) - 1]]
    assert any(s.nan or s.pos_inf or s.neg_inf for s in bad)  # what it handed back


@pytest.mark.filterwarnings("ignore:Anomaly Detection has been enabled")
@pytest.mark.filterwarnings("ignore:Error detected in")
def test_the_first_nan_is_the_one_detect_anomaly_blames(tmp_path):
    model, x, y, _losses, caught = diverging_loop(tmp_path)
    # the weights are those of the caught iteration: the optimizer never stepped
    module, function = first_nan_module(model, x, y)
    with torch.autograd.detect_anomaly(), pytest.raises(RuntimeError) as anomaly:
        F.mse_loss(model(x), y).backward()
    blamed = re.search(r"Function '(\w+)' returned nan", str(anomaly.value)).group(1)
    assert blamed == function
    recording = read(caught.recording)
    assert recording.loaded.graph.node(caught.nan_node)["scope"] == (module,)


def test_a_finite_loop_runs_to_its_end_untouched(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    watch = graphstep.watch(model, loss=F.mse_loss, record=tmp_path / "never.gsrec")
    for _ in range(20):
        optimizer.zero_grad()
        with watch.iteration(x, targets=(y,)) as it:
            it.loss = F.mse_loss(model(x), y)
            it.loss.backward()
        optimizer.step()
    assert watch.caught is None and watch.iterations == 20
    assert not (tmp_path / "never.gsrec").exists()
