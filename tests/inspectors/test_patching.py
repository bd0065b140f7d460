"""Activation patching on a small transformer (the `attention_torch` sample): the clean
run's attention output patched into the corrupted run moves the model's output exactly
as the corrupted run does with that module's output replaced by hand (a forward hook)."""

from __future__ import annotations

import numpy as np
import pytest

from inspectors.capture import capture
from inspectors.patching import patch_sweep
from inspectors.target import load_target

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch


def by_hand(model, corrupted, clean, module):
    """The corrupted run with `module`'s output replaced by its output on `clean`."""
    kept = {}
    handle = module.register_forward_hook(lambda _m, _i, out: kept.setdefault("clean", out))
    with torch.no_grad():
        model(clean)
    handle.remove()
    handle = module.register_forward_hook(lambda _m, _i, _out: kept["clean"])
    with torch.no_grad():
        out = model(corrupted)
    handle.remove()
    return out.numpy()


def test_patching_an_attention_output_is_replacing_it_by_hand():
    target = load_target("attention_torch")
    (clean,) = target.example_inputs
    (corrupted,) = load_target("attention_torch@corrupted_inputs").example_inputs
    model = target.model
    graph = capture(target, "fx").graph
    # the attention's output is the node of its `out` projection
    (attn_out,) = [n for n in graph.nodes if graph.node(n).get("scope") == ("attn", "out")]
    mixed = next(n for n in graph.nodes if n.startswith("matmul_1"))
    sweep = patch_sweep(
        target,
        clean=(clean,),
        corrupted=(corrupted,),
        nodes=[attn_out, mixed],
        metric=lambda outs: float(outs[0][0, 0] - outs[0][0, 1]),
        capture="fx",
    )
    with torch.no_grad():
        np.testing.assert_array_equal(sweep.clean_outputs[0], model(clean).numpy())
        np.testing.assert_array_equal(sweep.corrupted_outputs[0], model(corrupted).numpy())
    expected = by_hand(model, corrupted, clean, model.attn)
    patched = sweep.patches[0]
    np.testing.assert_array_equal(patched.outputs[0], expected)  # exactly
    assert patched.effect == pytest.approx(
        float(expected[0, 0] - expected[0, 1]) - sweep.corrupted_metric
    )
    assert abs(patched.effect) > 1e-4  # the patch moves the output
    # what `out` projects is all the attention gives: patching it restores as much
    assert sweep.restored(sweep.patches[1]) == pytest.approx(sweep.restored(patched))
    assert {p.node_id for p in sweep.ranked()} == {attn_out, mixed}
