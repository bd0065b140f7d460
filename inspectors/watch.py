"""`graphstep.watch`: catch the first non-finite iteration of a PyTorch training loop.

    watch = graphstep.watch(model, loss=lambda output, y: F.mse_loss(output, y))
    for x, y in data:
        optimizer.zero_grad()
        with watch.iteration(x, targets=(y,)) as it:
            it.loss = F.mse_loss(model(x), y)
            it.loss.backward()
        optimizer.step()                # never reached for the iteration caught

Per iteration it costs a finiteness check of the loss and of the gradients (one fused
norm over them, read once), taken before the optimizer applies them, so the weights
are still those of the iteration. It keeps the batch and the random-number state the
iteration began with. At the first non-finite loss or gradient (or when `condition`,
given the loss, says so) it re-runs that iteration's forward and backward under the
stepper, with the same batch, weights and random state, finds the first node whose
output or gradient is non-finite, writes a recording (`inspectors.recording`), and
raises `NonFinite`, which names the iteration, the node and the file.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspectors import commands as cmds
from inspectors import events as ev

#: How long the re-run of the caught iteration may take, per step (seconds).
REPLAY_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Caught:
    """The iteration a watch stopped at, and what the re-run under the stepper found."""

    iteration: int
    loss: float
    node: str | None  # the first node whose output (or gradient) is non-finite
    op: str | None
    where: str  # "forward", "backward", or "" when the re-run found no such node
    recording: Path | None
    message: str
    # backward: the node whose backward first returned a NaN, the one
    # `torch.autograd.detect_anomaly` names (it looks for NaN only, not for infinities)
    nan_node: str | None = None


class NonFinite(ArithmeticError):
    """Raised by a watched iteration whose loss or gradients are not finite."""

    def __init__(self, caught: Caught) -> None:
        super().__init__(caught.message)
        self.caught = caught


class Watch:
    """Watches a training loop's iterations; see the module's docstring."""

    def __init__(
        self,
        model: Any,
        loss: Callable[..., Any] | None = None,
        *,
        record: str | Path | None = "graphstep-watch.gsrec",
        condition: Callable[[float], bool] | None = None,
        capture: str = "auto",
    ) -> None:
        self.model = model
        self.loss = loss
        self.record = Path(record) if record is not None else None
        self.condition = condition
        self.capture = capture
        self.iterations = 0
        self.caught: Caught | None = None
        self._params: list[Any] | None = None  # the model's parameters, listed once

    def iteration(self, *inputs: Any, targets: tuple[Any, ...] = ()) -> Iteration:
        """One iteration on the model's `inputs`; `targets` are the loss's other
        arguments (`loss(output, *targets)`)."""
        self.iterations += 1
        return Iteration(self, self.iterations, inputs, tuple(targets))

    # ------------------------------------------------------------ the check

    def _check(self, it: Iteration) -> None:
        import torch

        if it.loss is None:
            raise ValueError("a watched iteration sets `it.loss` to its loss")
        loss = it.loss.detach()
        if self._params is None:
            self._params = list(self.model.parameters())
        grads = [p.grad for p in self._params if p.grad is not None]
        # one number that is finite exactly when the loss and every gradient are (a sum
        # of norms that overflows is looked at again, value by value, below)
        health = loss.float().sum()
        if grads:
            health = health + torch.stack(torch._foreach_norm(grads)).float().sum()
        finite = math.isfinite(health.item())  # the one read from the device
        if finite and self.condition is None:
            return
        value = float(loss.float().reshape(-1)[0]) if loss.numel() else math.nan
        if not finite and math.isfinite(value):
            # a norm can overflow where every value is finite: look value by value
            finite = all(bool(torch.isfinite(g).all()) for g in grads)
        if finite and self.condition is not None and self.condition(value):
            finite = False
        if finite:
            return
        self.caught = self._replay(it, value)
        raise NonFinite(self.caught)

    # ------------------------------------------------------------ the re-run

    def _replay(self, it: Iteration, value: float) -> Caught:
        import torch

        from inspectors.target import ModelTarget

        loss_fn = self.loss
        targets = it.targets

        def loss(output: Any, *_inputs: Any) -> Any:
            if loss_fn is None:
                first = output[0] if isinstance(output, tuple | list) else output
                return first.sum()
            return loss_fn(output, *targets)

        name = type(self.model).__name__
        target = ModelTarget(
            spec=f"<{name}>",
            name=name,
            framework="torch",
            model=self.model,
            example_inputs=it.inputs,
            loss=loss,
            description=f"iteration {it.number} of a watched training loop",
        )

        def random_state() -> None:  # the iteration's own random state
            torch.random.set_rng_state(it.rng)
            if it.cuda_rng is not None:
                torch.cuda.set_rng_state_all(it.cuda_rng)

        return replay(target, it.number, value, self.record, self.capture, random_state)


def replay(
    target: Any,
    number: int,
    value: float,
    record: Path | None,
    capture: str = "auto",
    before_run: Callable[[], None] | None = None,
) -> Caught:
    """Re-run iteration `number` (whose loss was `value`) of `target` under the stepper:
    its forward, then its backward when the forward stayed finite; find the first
    non-finite node, write a recording to `record` (when given), and say what it found.
    `before_run` puts back the iteration's random state, just before its forward runs."""
    from inspectors.engine import Engine, EventLog
    from inspectors.recording import Recorder

    engine = Engine()
    log = EventLog()
    recorder = Recorder()
    engine.add_listener(recorder)
    engine.add_listener(log)
    try:
        engine.open_target(target, capture)
        log.wait_for(ev.Paused, REPLAY_TIMEOUT_S)
        if before_run is not None:
            before_run()
        mark = log.mark()
        engine.send(cmds.Continue())
        end = log.wait_for(ev.Paused, REPLAY_TIMEOUT_S, after=mark)
        node, where = _first_nonfinite_output(log.events), "forward"
        nan_node = None
        if node is None and end.reason == ev.FINISHED:
            mark = log.mark()
            engine.send(cmds.Backward())
            done = log.wait_for((ev.GradientsReady, ev.Failed), REPLAY_TIMEOUT_S, after=mark)
            if isinstance(done, ev.GradientsReady):
                graph_now = log.of(ev.Loaded)[0].graph
                node = _backward_culprit(done, recorder.nodes_run(), graph_now)
                nan_node = _first_nan_backward(done, recorder.nodes_run(), graph_now)
                where = "backward"
        path = None
        if record is not None:
            for node_id, outputs in recorder.nodes_run():
                for index in range(outputs):
                    mark = log.mark()
                    engine.send(cmds.FetchValue(node_id, index, recompute=False))
                    log.wait_for(ev.ValueReady, REPLAY_TIMEOUT_S, after=mark)
            path = recorder.save(record)
        loaded = log.of(ev.Loaded)
        graph = loaded[0].graph if loaded else None
        op = None
        if graph is not None and node is not None and node in graph:
            op = graph.node(node).get("op")
    finally:
        engine.close()
    if node is None:
        where = ""
        said = "the re-run under the stepper found no non-finite node"
    else:
        said = f"the first non-finite {'output' if where == 'forward' else 'gradient'} is {node}"
        said += f" ({op})" if op else ""
    if nan_node is not None and nan_node != node:
        said += f"; the first NaN comes from the backward of {nan_node}"
    saved = f"; recorded in {path}" if path is not None else ""
    message = f"iteration {number}: loss {value:g}: {said}{saved}"
    return Caught(number, value, node, op, where, path, message, nan_node)


class Iteration:
    """One watched iteration (a context manager): set `loss`, call backward inside."""

    def __init__(
        self, watch: Watch, number: int, inputs: tuple[Any, ...], targets: tuple[Any, ...]
    ) -> None:
        self.watch = watch
        self.number = number
        self.inputs = inputs
        self.targets = targets
        self.loss: Any = None
        self.rng: Any = None
        self.cuda_rng: Any = None

    def __enter__(self) -> Iteration:
        import torch

        self.rng = torch.random.get_rng_state()
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            self.cuda_rng = torch.cuda.get_rng_state_all()
        return self

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        if kind is None:  # an exception of the loop's own goes on as it is
            self.watch._check(self)


def _first_nonfinite_output(events: list[ev.Event]) -> str | None:
    for event in events:
        if isinstance(event, ev.NodeStepped) and any(
            s.nan or s.neg_inf or s.pos_inf for s in event.summaries
        ):
            return event.node_id
    return None


def _nonfinite(summaries: Any) -> bool:
    return any(s is not None and (s.nan or s.neg_inf or s.pos_inf) for s in summaries or ())


def _backward_culprit(
    grads: ev.GradientsReady, order: list[tuple[str, int]], graph: Any
) -> str | None:
    """The node whose backward made the first non-finite gradient, as the backward pass
    meets them (from the loss toward the inputs): the node nearest the loss whose
    output's gradient is non-finite was given it by a consumer whose own gradient is
    finite; that consumer's backward is the culprit (as `detect_anomaly` names a
    backward function). Without such a consumer, the model's output: the loss did it."""
    ran = [node_id for node_id, _n in order]
    position = {node_id: i for i, node_id in enumerate(ran)}
    for node_id in reversed(ran):
        if not _nonfinite(grads.nodes.get(node_id)):
            continue
        consumers = [
            c
            for c in graph.consumers_of(node_id)
            if c in position and not _nonfinite(grads.nodes.get(c))
        ]
        return max(consumers, key=position.__getitem__) if consumers else node_id
    return None


def _first_nan_backward(
    grads: ev.GradientsReady, order: list[tuple[str, int]], graph: Any
) -> str | None:
    """The node whose backward first returned a NaN, in backward order: NaN in its
    parameters' gradients, or in the gradient it gives an input it is the last consumer
    of (the first to send that input a gradient). The model's output node when the
    loss's own backward did."""
    ran = [node_id for node_id, _n in order]
    position = {node_id: i for i, node_id in enumerate(ran)}

    def has_nan(summaries: Any) -> bool:
        return any(s is not None and s.nan for s in summaries or ())

    def last_consumer(node_id: str) -> str | None:
        consumers = [c for c in graph.consumers_of(node_id) if c in position]
        return max(consumers, key=position.__getitem__) if consumers else None

    for node_id in reversed(ran):
        attrs = graph.node(node_id) if node_id in graph else {}
        if not graph.consumers_of(node_id) and has_nan(grads.nodes.get(node_id)):
            return node_id  # the loss's backward
        prefix = ".".join(attrs.get("scope", ())) if attrs.get("kind") == "module" else ""
        for param in attrs.get("params") or ():
            name = f"{prefix}.{param[0]}" if prefix else str(param[0])
            summary = grads.params.get(name)
            if summary is not None and summary.nan:
                return node_id
        for source in graph.inputs_of(node_id):
            if last_consumer(source) == node_id and has_nan(grads.nodes.get(source)):
                return node_id
    return None


__all__ = ["Caught", "Iteration", "NonFinite", "Watch"]
