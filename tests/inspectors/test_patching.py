"""Activation patching on a small transformer: a node's clean output patched into the
corrupted run moves the model's output exactly as the corrupted run does with that
intermediate replaced by hand (a forward hook)."""

from __future__ import annotations

import numpy as np
import pytest

from inspectors.patching import patch_sweep
from inspectors.target import ModelTarget

torch = pytest.importorskip("torch")
nn = torch.nn

pytestmark = pytest.mark.torch


class Attention(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.q, self.k, self.v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x):
        scores = self.q(x) @ self.k(x).transpose(-2, -1) / x.shape[-1] ** 0.5
        return self.out(torch.softmax(scores, dim=-1) @ self.v(x))


class Block(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.attn = Attention(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        x = x + self.attn(x)
        return x + self.mlp(x)


class Tiny(nn.Module):
    def __init__(self, dim: int = 8, layers: int = 2, classes: int = 3) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(Block(dim) for _ in range(layers))
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.head(x[:, -1])


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
    torch.manual_seed(0)
    model = Tiny().eval()
    clean = torch.randn(1, 5, 8)
    corrupted = clean.clone()
    corrupted[0, 1] += 3.0  # one token changed
    target = ModelTarget("<tiny>", "tiny", "torch", model, (clean,))
    from inspectors.capture import capture

    graph = capture(target, "fx").graph
    attn_out = {  # each block's attention output: the node its `out` projection is
        i: n
        for n in graph.nodes
        for i in range(2)
        if graph.node(n).get("scope") == ("blocks", str(i), "attn", "out")
    }
    assert len(attn_out) == 2, graph.nodes
    sweep = patch_sweep(
        target,
        clean=(clean,),
        corrupted=(corrupted,),
        nodes=[attn_out[0], attn_out[1]],
        metric=lambda outs: float(outs[0][0, 0] - outs[0][0, 1]),
        capture="fx",
    )
    with torch.no_grad():
        np.testing.assert_allclose(sweep.clean_outputs[0], model(clean).numpy(), rtol=0, atol=1e-6)
        np.testing.assert_allclose(
            sweep.corrupted_outputs[0], model(corrupted).numpy(), rtol=0, atol=1e-6
        )
    for i, patch in enumerate(sweep.patches):
        expected = by_hand(model, corrupted, clean, model.blocks[i].attn)
        np.testing.assert_array_equal(patch.outputs[0], expected)  # exactly
        assert patch.effect == pytest.approx(
            float(expected[0, 0] - expected[0, 1]) - sweep.corrupted_metric
        )
    assert {p.node_id for p in sweep.ranked()} == set(attn_out.values())
    assert abs(sweep.patches[0].effect) > 1e-4  # the patch moves the output
