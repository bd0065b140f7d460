"""Training-loop stepping: run a model file's `train_step(model, batch)` one iteration at
a time over the batches of its `data()`, keeping every reported metric as a history.

A model file opts in with two functions (see the model-file convention):

    def data():                    # an iterable of batches; called again for each pass
        ...
    def train_step(model, batch):  # one iteration; returns {"loss": ..., "phi": ...}
        ...
    TRAIN_STEPS = {"gradient descent": train_step, ...}   # optional: named update rules

Qt-free and not thread-safe: one thread owns a `TrainingRun` (in the app a worker
thread, never the GUI thread) and makes every call on it.

Headless use::

    run = TrainingRun(load_target("fit_exponent_torch"))
    run.step(20)                   # 20 iterations, one metrics dict each
    run.history["phi"][-1]         # phi after the 20th
    session = run.session_for_current_model()   # this iteration's forward, node by node
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from inspectors.target import ModelTarget, TargetError, _exc_line

TrainStep = Callable[[Any, Any], Any]


class TrainingError(TargetError):
    """An iteration failed, or the model file cannot be trained; the message says which."""

    def __init__(self, message: str, iteration: int | None = None) -> None:
        super().__init__(message)
        self.iteration = iteration


def can_train(target: ModelTarget) -> bool:
    """Whether the target's model file defines `train_step` and `data`."""
    module = target.module
    return callable(getattr(module, "train_step", None)) and callable(getattr(module, "data", None))


def training_rules(module: Any) -> dict[str, TrainStep]:
    """The update rules a model file offers: `TRAIN_STEPS` by name, else its `train_step`."""
    rules = getattr(module, "TRAIN_STEPS", None)
    if isinstance(rules, dict) and rules and all(callable(f) for f in rules.values()):
        return {str(name): fn for name, fn in rules.items()}
    return {"train_step": module.train_step}


def as_metrics(raw: Any) -> dict[str, float]:
    """Keep the numbers of a train_step's result as floats: a Python or numpy number, or a
    one-element tensor of any framework. Anything else (text, tensors of many values) is
    dropped; a bare number is taken as the loss."""
    if not isinstance(raw, dict):
        raw = {"loss": raw}
    out: dict[str, float] = {}
    for key, value in raw.items():
        if isinstance(value, str | bytes) or value is None:
            continue
        if isinstance(value, numbers.Number) and not isinstance(value, numbers.Real):
            continue  # complex
        detach = getattr(value, "detach", None)  # a torch tensor that requires grad
        if callable(detach):
            value = detach()
        try:
            out[str(key)] = float(value)
        except (TypeError, ValueError, RuntimeError):
            continue  # a tensor of many values: float() refuses it
    return out


class TrainingRun:
    """Iterations of a model file's training step over its data, with their metrics.

    `model` is the model being trained (rebuilt by `reset`). `history[name]` holds one
    float per completed iteration for every metric the steps reported (a metric that
    appears late is padded with NaN for the iterations before it).
    """

    def __init__(self, target: ModelTarget, rule: str | None = None) -> None:
        module = target.module
        missing = [
            name for name in ("train_step", "data") if not callable(getattr(module, name, None))
        ]
        if module is None or missing:
            where = target.source_path or target.spec
            what = " and ".join(f"`{m}`" for m in missing) or "`train_step` and `data`"
            raise TrainingError(
                f"{where} cannot be trained step by step: it defines no {what}. A model file "
                f"that can be trained defines `data()` (an iterable of batches) and "
                f"`train_step(model, batch)` (one iteration, returning a dict of numbers "
                f"such as {{'loss': ...}})."
                if module is not None
                else f"{where} is not a model file, so it has no `train_step` and `data`."
            )
        self.target = target
        self.module = module
        self.rules = training_rules(module)
        self.rule = next(iter(self.rules))
        if rule is not None:
            self.set_rule(rule)
        self.model = target.model
        self.iteration = 0
        self.epoch = 0
        self.history: dict[str, list[float]] = {}
        self.batch: Any = None  # the batch of the last completed iteration
        self._batches: Iterator[Any] | None = None
        self._next: list[Any] = []  # a batch taken from data() but not trained on yet

    # ------------------------------------------------------------------ choices

    @property
    def rule_names(self) -> list[str]:
        return list(self.rules)

    def set_rule(self, name: str) -> None:
        """Use the update rule `name` from now on (the model is not reset)."""
        if name not in self.rules:
            raise TrainingError(
                f"No update rule named {name!r}; this model file offers: "
                + ", ".join(repr(r) for r in self.rules)
                + "."
            )
        self.rule = name

    # --------------------------------------------------------------- iterations

    def step(
        self,
        n: int = 1,
        *,
        should_stop: Callable[[], bool] | None = None,
        on_iteration: Callable[[int, dict[str, float]], None] | None = None,
    ) -> list[dict[str, float]]:
        """Run `n` iterations; their metrics in order. `should_stop` is asked before each
        iteration (stopping between iterations, never inside one); `on_iteration` gets
        (iteration number, metrics) after each."""
        done: list[dict[str, float]] = []
        step_fn = self.rules[self.rule]
        for _ in range(n):
            if should_stop is not None and should_stop():
                break
            batch = self._take_batch()
            number = self.iteration + 1
            try:
                raw = step_fn(self.model, batch)
            except Exception as exc:
                self._next.insert(0, batch)  # a retry after a fix sees the same batch
                raise TrainingError(
                    f"Iteration {number} failed in {getattr(step_fn, '__name__', self.rule)}"
                    f"(model, batch) (update rule {self.rule!r}): {_exc_line(exc)}",
                    number,
                ) from exc
            metrics = as_metrics(raw)
            self.iteration = number
            self.batch = batch
            self._record(metrics)
            done.append(metrics)
            if on_iteration is not None:
                on_iteration(number, metrics)
        return done

    def _record(self, metrics: dict[str, float]) -> None:
        for name in metrics:
            if name not in self.history:
                self.history[name] = [math.nan] * (self.iteration - 1)
        for name, values in self.history.items():
            values.append(metrics.get(name, math.nan))

    def next_batch(self) -> Any:
        """The batch the next iteration will train on (taken from data(), kept for it)."""
        if not self._next:
            self._next.append(self._pull())
        return self._next[0]

    def _take_batch(self) -> Any:
        return self._next.pop(0) if self._next else self._pull()

    def _pull(self) -> Any:
        """The next batch of data(); a new pass over the data when one ends."""
        for fresh in (False, True):
            if self._batches is None or fresh:
                self._batches = self._open_data()
            try:
                return next(self._batches)
            except StopIteration:
                if fresh:
                    break
                self.epoch += 1
            except Exception as exc:
                raise TrainingError(
                    f"data() raised while giving the batch for iteration {self.iteration + 1}: "
                    f"{_exc_line(exc)}",
                    self.iteration + 1,
                ) from exc
        raise TrainingError("data() gave no batches: there is nothing to train on.")

    def _open_data(self) -> Iterator[Any]:
        try:
            return iter(self.module.data())
        except Exception as exc:
            raise TrainingError(f"data() raised {_exc_line(exc)}") from exc

    # ------------------------------------------------------------------- reset

    def reset(self) -> None:
        """A fresh model from the file's build(), the data from the start, no history."""
        self.model = self._build()
        self.iteration = 0
        self.epoch = 0
        self.history = {}
        self.batch = None
        self._batches = None
        self._next = []

    def _build(self) -> Any:
        build = getattr(self.module, "build", None)
        if not callable(build):
            raise TrainingError("The model file has no build(), so the model cannot be rebuilt.")
        try:
            return build()
        except Exception as exc:
            raise TrainingError(f"build() raised {_exc_line(exc)}") from exc

    # ---------------------------------------------------- one iteration, node by node

    def current_target(self, *, use_batch: bool = True) -> ModelTarget:
        """A ModelTarget holding a copy of the model at its current parameters, with the
        next iteration's batch as inputs (its first items, as many as the example inputs;
        a batch that is a single tensor is the one input). Training on afterwards does not
        change the copy."""
        inputs = self.target.example_inputs
        if use_batch:
            batch = self.next_batch()
            items = tuple(batch) if isinstance(batch, list | tuple) else (batch,)
            if len(items) >= len(inputs):
                inputs = items[: len(inputs)]
        return replace(
            self.target,
            model=self._snapshot(),
            example_inputs=inputs,
            extra={**self.target.extra, "training_iteration": self.iteration + 1},
        )

    def _snapshot(self) -> Any:
        """build() a fresh model and copy the current parameter values into it."""
        copy = self._build()
        if self.target.framework == "torch":
            copy.load_state_dict(self.model.state_dict())
            return copy
        ours, theirs = list(self.model.variables), list(copy.variables)
        if len(ours) != len(theirs):
            raise TrainingError(
                "The model's variables changed in number during training, so it cannot be "
                "copied for stepping."
            )
        for src, dst in zip(ours, theirs, strict=True):
            dst.assign(src)
        return copy

    def capture_current(self, strategy: str = "auto", *, use_batch: bool = True) -> Any:
        """Capture the model at its current parameters (`inspectors.capture.Captured`)."""
        from inspectors.capture import capture

        return capture(self.current_target(use_batch=use_batch), strategy)

    def session_for_current_model(self, strategy: str = "auto", *, use_batch: bool = True) -> Any:
        """A `Session` over the next iteration's forward, at the current parameters."""
        from inspectors.session import Session

        return Session(self.capture_current(strategy, use_batch=use_batch))
