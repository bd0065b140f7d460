"""Activation patching: one model, a clean and a corrupted input; a node's output from
the clean run put into the corrupted run, and what that does to the model's output.

    sweep = patch_sweep(target, clean=(x_clean,), corrupted=(x_bad,),
                        nodes=["layers_0_attn_out", ...], metric=lambda out: out[0, 3])
    sweep.ranked()   # the nodes by how far patching each moves the metric

Everything goes through one engine as any client drives it (`Restart` on the
corrupted input, `SetValue` with the clean value, `Continue`, `FetchValue`), so a patch
is exactly an override: what runs after the node uses the clean value, and nothing
else changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from inspectors import commands as cmds
from inspectors import events as ev

TIMEOUT_S = 600.0


@dataclass
class Patched:
    """One node patched: its clean value in the corrupted run, and the result."""

    node_id: str
    outputs: tuple[np.ndarray, ...]  # the model's outputs with the patch
    metric: float
    effect: float  # metric(patched) - metric(corrupted)


@dataclass
class Sweep:
    clean_outputs: tuple[np.ndarray, ...]
    corrupted_outputs: tuple[np.ndarray, ...]
    clean_metric: float
    corrupted_metric: float
    patches: list[Patched] = field(default_factory=list)

    def ranked(self) -> list[Patched]:
        """The patches by the size of their effect, largest first."""
        return sorted(self.patches, key=lambda p: abs(p.effect), reverse=True)

    def restored(self, patch: Patched) -> float:
        """How much of the clean-vs-corrupted gap a patch closes (1.0: all of it)."""
        gap = self.clean_metric - self.corrupted_metric
        return patch.effect / gap if gap else float("nan")


class PatchRunner:
    """Drives one engine on one model for patching: runs on either input, with
    patches, and gives each run's outputs and node values."""

    def __init__(self, target: Any, capture: str = "auto") -> None:
        from inspectors.engine import Engine, EventLog

        self.target = target
        self.engine = Engine()
        self.log = EventLog()
        self.engine.add_listener(self.log)
        self.engine.open_target(target, capture)
        self.log.wait_for(ev.Paused, TIMEOUT_S)
        loaded = self.log.of(ev.Loaded)[-1]
        self.graph = loaded.graph
        self.output_node = [
            n for n in self.graph.nodes if self.graph.node(n).get("kind") == "output"
        ]

    def close(self) -> None:
        self.engine.close()

    def _ask(self, command: cmds.Command, kind: Any) -> Any:
        mark = self.log.mark()
        self.engine.send(command)
        return self.log.wait_for(kind, TIMEOUT_S, after=mark)

    def run(
        self, inputs: Sequence[Any], patches: dict[str, Sequence[np.ndarray]] | None = None
    ) -> ev.Paused:
        """A run on `inputs` (numpy) with `patches` (node id -> its output values)."""
        arrays = tuple(np.asarray(_numpy(a)) for a in inputs)
        pause = self._ask(cmds.Restart(arrays), ev.Paused)
        for node_id, values in (patches or {}).items():
            for index, value in enumerate(values):
                self.engine.send(cmds.SetValue(node_id, np.asarray(value), index))
        pause = self._ask(cmds.Continue(), ev.Paused)
        if pause.reason != ev.FINISHED:
            raise RuntimeError(f"the run did not finish: {pause.reason} at {pause.node_id}")
        return pause

    def value(self, node_id: str, index: int = 0) -> np.ndarray:
        ready = self._ask(cmds.FetchValue(node_id, index), ev.ValueReady)
        if ready.array is None:
            raise RuntimeError(f"no value for {node_id}[{index}]: {ready.message}")
        return np.array(ready.array)

    def values(self, node_id: str) -> tuple[np.ndarray, ...]:
        count = len(self.graph.node(node_id).get("outputs") or ()) or 1
        return tuple(self.value(node_id, i) for i in range(count))

    def outputs(self) -> tuple[np.ndarray, ...]:
        """The model's outputs of the last run (the output node's inputs)."""
        (node,) = self.output_node
        return self.values(node)


def patch_sweep(
    target: Any,
    clean: Sequence[Any],
    corrupted: Sequence[Any],
    nodes: Sequence[str],
    metric: Callable[[tuple[np.ndarray, ...]], float],
    capture: str = "auto",
) -> Sweep:
    """Patch each of `nodes`, one at a time, from the clean run into the corrupted run."""
    runner = PatchRunner(replace(target, example_inputs=tuple(clean)), capture)
    try:
        runner.run(clean)
        clean_values = {node: runner.values(node) for node in nodes}
        clean_outputs = runner.outputs()
        runner.run(corrupted)
        corrupted_outputs = runner.outputs()
        sweep = Sweep(
            clean_outputs,
            corrupted_outputs,
            float(metric(clean_outputs)),
            float(metric(corrupted_outputs)),
        )
        for node in nodes:
            runner.run(corrupted, {node: clean_values[node]})
            outputs = runner.outputs()
            value = float(metric(outputs))
            sweep.patches.append(Patched(node, outputs, value, value - sweep.corrupted_metric))
        return sweep
    finally:
        runner.close()


def _numpy(value: Any) -> Any:
    """A framework tensor as numpy (inputs may be given as either)."""
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    if hasattr(value, "numpy"):
        return value.numpy()
    return value


__all__ = ["PatchRunner", "Patched", "Sweep", "patch_sweep"]
