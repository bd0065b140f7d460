"""Synthetic graphs for the view's tests and benchmarks: no framework needed."""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inspectors.graph import Graph  # noqa: E402

_OPS = ("Linear", "relu", "add", "mul", "LayerNorm", "conv2d", "reshape", "softmax", "sum")


def layered_graph(n_nodes: int, width: int = 20, seed: int = 0) -> Graph:
    """A layered DAG of about `n_nodes` nodes, `width` per layer, with nested scopes.

    Every node reads one to three nodes of the few layers above it, every fifth op
    has a parameter input, and one shared `mask` input feeds one node per block:
    the shapes (long edges, shared inputs, parameters) that stress a layered layout.
    """
    rng = random.Random(seed)
    graph = Graph(f"layered_{n_nodes}", "torch", capture="synthetic")
    graph.add_node("x", kind="input", op="placeholder", outputs=[((8, 64), "float32")])
    graph.add_node("mask", kind="input", op="placeholder", outputs=[((8, 8), "bool")])
    layers: list[list[str]] = [["x"]]
    count = 2
    layer_no = 0
    while count < n_nodes:
        layer_no += 1
        block, sub = layer_no // 40, (layer_no // 8) % 5
        scope = (f"block{block}", f"sub{sub}")
        row: list[str] = []
        for j in range(max(1, width + rng.randint(-width // 3, width // 3))):
            if count >= n_nodes:
                break
            op = rng.choice(_OPS)
            node = f"n{layer_no}_{j}"
            shape = (8, 64)
            graph.add_node(
                node,
                kind="op",
                op=op,
                label=f"{op.lower()}_{count}",
                scope=scope,
                outputs=[(shape, "float32")],
                source=f"model.py:{layer_no}",
            )
            count += 1
            lookback = layers[-3:]
            for _ in range(rng.randint(1, 3) if len(layers) > 1 else 1):
                src = rng.choice(rng.choice(lookback))
                graph.add_edge(src, node, dst_index=0)
            if j == 0 and layer_no % 8 == 1:
                graph.add_edge("mask", node, dst_index=1)
            if count % 5 == 0 and count < n_nodes:
                param = f"p{count}"
                graph.add_node(
                    param,
                    kind="param",
                    op="get_attr",
                    label="weight",
                    scope=scope,
                    outputs=[((64, 64), "float32")],
                    in_order=False,
                )
                graph.order.insert(len(graph.order) - 1, param)
                graph.add_edge(param, node, dst_index=2)
                count += 1
            row.append(node)
        layers.append(row)
    graph.add_node("out", kind="output", op="output", outputs=[((8, 64), "float32")])
    for src in layers[-1]:
        graph.add_edge(src, "out")
    return graph


def transformer_graph(layers: int = 24, hidden: int = 768, seq: int = 128) -> Graph:
    """A decoder stack shaped like an fx trace: module scopes, one mask feeding every layer."""
    graph = Graph(f"transformer_{layers}", "torch", capture="fx")
    act = ((1, seq, hidden), "float32")
    heads = ((1, 12, seq, hidden // 12), "float32")
    scores = ((1, 12, seq, seq), "float32")

    def node(nid: str, op: str, scope: tuple[str, ...], *inputs: str, out=act, kind="op"):
        graph.add_node(
            nid,
            kind=kind,
            op=op,
            label=nid.rsplit(".", 1)[-1],
            scope=scope,
            outputs=[out],
            source=f"model.py:{len(graph.order) + 10}",
        )
        for i, src in enumerate(inputs):
            graph.add_edge(src, nid, dst_index=i)
        return nid

    node("input_ids", "placeholder", (), kind="input", out=((1, seq), "int64"))
    node("attention_mask", "placeholder", (), kind="input", out=((1, 1, seq, seq), "float32"))
    h = node("embed", "Embedding", ("embed",), "input_ids")
    for i in range(layers):
        s = ("layers", str(i))
        a, m = (*s, "attn"), (*s, "mlp")
        p = f"l{i}."
        ln1 = node(p + "ln1", "LayerNorm", (*s, "ln1"), h)
        q = node(p + "attn.q_proj", "Linear", (*a, "q_proj"), ln1)
        k = node(p + "attn.k_proj", "Linear", (*a, "k_proj"), ln1)
        v = node(p + "attn.v_proj", "Linear", (*a, "v_proj"), ln1)
        qh = node(p + "attn.q_view", "view", a, q, out=heads)
        kh = node(p + "attn.k_view", "view", a, k, out=heads)
        vh = node(p + "attn.v_view", "view", a, v, out=heads)
        kt = node(p + "attn.k_t", "transpose", a, kh, out=heads)
        sc = node(p + "attn.scores", "matmul", a, qh, kt, out=scores)
        sd = node(p + "attn.scale", "truediv", a, sc, out=scores)
        sm = node(p + "attn.masked", "add", a, sd, "attention_mask", out=scores)
        pr = node(p + "attn.softmax", "softmax", a, sm, out=scores)
        dr = node(p + "attn.dropout", "Dropout", (*a, "dropout"), pr, out=scores)
        ctx = node(p + "attn.context", "matmul", a, dr, vh, out=heads)
        ct = node(p + "attn.ctx_t", "transpose", a, ctx, out=heads)
        cv = node(p + "attn.ctx_view", "reshape", a, ct)
        o = node(p + "attn.o_proj", "Linear", (*a, "o_proj"), cv)
        r1 = node(p + "add_1", "add", s, h, o)
        ln2 = node(p + "ln2", "LayerNorm", (*s, "ln2"), r1)
        f1 = node(p + "mlp.fc1", "Linear", (*m, "fc1"), ln2, out=((1, seq, 4 * hidden), "float32"))
        g = node(p + "mlp.gelu", "gelu", (*m, "act"), f1, out=((1, seq, 4 * hidden), "float32"))
        f2 = node(p + "mlp.fc2", "Linear", (*m, "fc2"), g)
        h = node(p + "add_2", "add", s, r1, f2)
    ln = node("final_ln", "LayerNorm", ("norm",), h)
    head = node("lm_head", "Linear", ("lm_head",), ln, out=((1, seq, 32000), "float32"))
    node("output", "output", (), head, kind="output", out=((1, seq, 32000), "float32"))
    return graph


def subgraph_graph() -> Graph:
    """A small TF-like graph whose `While` node carries a body subgraph."""
    graph = Graph("tf_function", "tensorflow", capture="concrete")
    body = Graph("while_body", "tensorflow")
    body.add_node("i", kind="input", op="Placeholder", outputs=[((), "int32")])
    body.add_node("acc", kind="input", op="Placeholder", outputs=[((4,), "float32")])
    body.add_node("one", kind="const", op="Const", outputs=[((), "int32")])
    body.add_node("next_i", kind="op", op="AddV2", outputs=[((), "int32")])
    body.add_node("acc2", kind="op", op="Mul", outputs=[((4,), "float32")])
    body.add_node("out", kind="output", op="Identity", outputs=[((4,), "float32")])
    body.add_edge("i", "next_i")
    body.add_edge("one", "next_i", dst_index=1)
    body.add_edge("acc", "acc2")
    body.add_edge("acc", "acc2", dst_index=1)
    body.add_edge("acc2", "out")
    graph.subgraphs["while_body"] = body
    graph.add_node("x", kind="input", op="Placeholder", outputs=[((4,), "float32")])
    graph.add_node("w", kind="param", op="ReadVariableOp", outputs=[((4,), "float32")])
    graph.add_node("x_id", kind="op", op="Identity", hidden=True, outputs=[((4,), "float32")])
    graph.add_node("mul", kind="op", op="Mul", scope=("dense",), outputs=[((4,), "float32")])
    graph.add_node(
        "loop", kind="op", op="While", subgraph="while_body", outputs=[((4,), "float32")]
    )
    graph.add_node("y", kind="output", op="Identity", outputs=[((4,), "float32")])
    graph.add_edge("x", "x_id")
    graph.add_edge("x_id", "mul")
    graph.add_edge("w", "mul", dst_index=1)
    graph.add_edge("mul", "loop")
    graph.add_edge("loop", "y")
    return graph
