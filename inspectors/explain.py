"""Short texts that explain what just happened, in plain words, with this model's names.

Teaching material for the Explain panel: why a capture strategy failed, why a
TensorFlow graph holds `ReadVariableOp` and `Identity` nodes, what a static and a
dynamic graph are, what `step over` did to a `While`, what a retrace is, where the
first NaN came from. Each function takes neutral data (a Graph, events, failures)
and returns `Explanation`s; nothing here imports a framework or Qt.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from inspectors.graph import Graph

#: Ops that run a nested function graph, and what the function is called for each.
CONTROL_FLOW = {
    "While": "loop",
    "StatelessWhile": "loop",
    "If": "branch",
    "StatelessIf": "branch",
    "Case": "branch",
    "StatelessCase": "branch",
    "PartitionedCall": "call",
    "StatefulPartitionedCall": "call",
}
WHILE_OPS = frozenset({"While", "StatelessWhile"})

#: `while/body[2]/while/cell/Tanh` -> loop `while`, part `body`, iteration 2, inner id.
_ITERATION = re.compile(r"^(?P<loop>.+?)/(?P<part>body|cond)\[(?P<i>\d+)\]/(?P<inner>.+)$")

_STRATEGY_HOW = {
    "fx": (
        "torch.fx traces `forward` once with placeholder objects (Proxies) in place of "
        "tensors: each call on them is written down as a graph node, but a placeholder "
        "has no value, so Python code that needs one cannot go on."
    ),
    "export": (
        "torch.export traces `forward` with fake tensors: they carry shapes and dtypes but "
        "no values, so a Python `if` or loop that depends on a value cannot be decided."
    ),
    "eager": "Eager recording runs the model for real and writes down each op as it runs.",
}


@dataclass(frozen=True)
class Explanation:
    """One entry of the Explain panel."""

    title: str  # a short header: "Why fx could not trace dynamic_torch"
    text: str  # a few sentences of plain words; `code` in backticks
    details: str = ""  # the framework's own message, shown on request
    nodes: tuple[str, ...] = ()  # node ids the text names
    key: str = ""  # entries with the same non-empty key are shown once per model
    replaces: bool = False  # it describes "now": it replaces the entry of the same key


# ------------------------------------------------------------------------- loading


def capture_failures(
    failures: Iterable[dict[str, Any]], model: str, used: str = ""
) -> list[Explanation]:
    """Why each capture strategy that was tried before `used` failed for `model`."""
    out = []
    for fail in failures:
        strategy = str(fail.get("strategy") or "capture")
        reason = str(fail.get("reason") or "it raised an error").strip()
        how = _STRATEGY_HOW.get(strategy, "")
        text = f"{_sentence(reason)} {how}".strip()
        if used and used != strategy:
            text += f" Graphstep used {_strategy_name(used)} instead."
        out.append(
            Explanation(
                title=f"Why {strategy} could not trace {model}",
                text=text,
                details=str(fail.get("error") or ""),
                key=f"failure:{strategy}",
            )
        )
    return out


def on_load(
    graph: Graph, capture: str, failures: Sequence[dict[str, Any]] = ()
) -> list[Explanation]:
    """What to say when a model has just been loaded: failures first, then its graph kind."""
    model = graph.name or str(graph.meta.get("model", "this model"))
    found = capture_failures(failures, model, capture)
    if graph.meta.get("framework") == "tensorflow" or capture == "function":
        found.append(static_graph(graph))
        variables = variable_reads(graph)
        if variables is not None:
            found.append(variables)
        plumbing = identity_nodes(graph)
        if plumbing is not None:
            found.append(plumbing)
    elif capture == "eager":
        found.append(eager_graph(graph))
    elif capture in ("fx", "export"):
        found.append(traced_graph(graph, capture))
    return found


def static_graph(graph: Graph) -> Explanation:
    """TensorFlow: the whole graph exists before the first op runs."""
    loops = [n for n in graph.order if graph.node(n).get("op") in WHILE_OPS]
    text = (
        f"This is a static graph: TensorFlow traced the Python code of {graph.name} once "
        f"into a graph of {node_count(graph)}, so the whole graph exists before the first "
        "op runs. You see all of it now; as you step, each op lights up when it runs."
    )
    if loops:
        text += (
            f" A Python loop became the one `{loops[0]}` node (a While): its condition "
            "and body are graphs of their own, run once per iteration."
        )
    return Explanation("A static graph: traced first, then run", text, key="static")


def variable_reads(graph: Graph) -> Explanation | None:
    """Why a TensorFlow graph has ReadVariableOp nodes, naming one of this graph."""
    found = _find_op(graph, "ReadVariableOp")
    if found is None:
        return None
    node_id, where = found
    params = [n for n in graph.order if graph.node(n).get("kind") == "param"]
    param = f"`{params[0]}`" if params else "a variable"
    text = (
        f"`{node_id}`{where} is a ReadVariableOp. Variables (weights) do not live in the "
        f"graph: the graph holds only a handle to each, like {param}, and reads the "
        "current value through that handle every time it runs. That is why training can "
        "change the weights without tracing the graph again."
    )
    return Explanation("Why ReadVariableOp nodes?", text, nodes=(node_id,), key="readvariable")


def identity_nodes(graph: Graph) -> Explanation | None:
    """Why a TensorFlow graph has Identity nodes, naming one of this graph."""
    found = _find_op(graph, "Identity")
    if found is None:
        return None
    node_id, where = found
    text = (
        f"`{node_id}`{where} is an Identity: it passes its input on unchanged. TensorFlow "
        "adds them as plumbing, to hand values out of a function or a control-flow "
        "body and to order side effects. They compute nothing, so Graphstep hides them "
        "in the drawing by default; stepping still visits them."
    )
    return Explanation("Why Identity nodes?", text, nodes=(node_id,), key="identity")


def eager_graph(graph: Graph) -> Explanation:
    """PyTorch eager recording: the graph of this one input."""
    text = (
        f"This graph of {graph.name} is built as the code runs: each op is recorded when "
        "PyTorch executes it, and when you step, the graph grows node by node. It is the "
        "graph of this one input. Python `if`s and loops ran for real, so another input "
        "can take another path and give a different graph (more loop steps, the other "
        "branch)."
    )
    return Explanation("A dynamic graph: built as the code runs", text, key="eager")


def traced_graph(graph: Graph, capture: str) -> Explanation:
    """PyTorch fx / export: a graph traced once, valid for any input of that kind."""
    how = "torch.fx" if capture == "fx" else "torch.export"
    text = (
        f"{how} traced `forward` of {graph.name} once into these {node_count(graph)}, "
        "before any value was computed. The graph is the same for every input, which is "
        "why models whose path depends on values cannot be traced this way."
    )
    return Explanation(f"A graph traced by {how}", text, key=f"traced:{capture}")


# ------------------------------------------------------------------------ stepping


def step_over(graph: Graph, node_id: str, summaries: Sequence[Any] = ()) -> Explanation | None:
    """What `step over` did when the node it ran was a control-flow node."""
    if node_id not in graph:
        return None
    attrs = graph.node(node_id)
    op = str(attrs.get("op"))
    role = CONTROL_FLOW.get(op)
    if role is None:
        return None
    functions = attrs.get("subgraphs") or {}
    if op in WHILE_OPS:
        body = functions.get("body", "its body")
        cond = functions.get("cond", "its condition")
        count = _iterations(graph, node_id, summaries)
        ran = f"ran {count} iteration{'s' if count != 1 else ''} of" if count is not None else "ran"
        text = (
            f"Step over {ran} the loop `{node_id}` as one step: `{cond}` and `{body}` ran "
            "inside it, all iterations, without pausing. Step into (F11) on a While "
            f"instead shows the condition and body op by op, each iteration with its own "
            f"node ids: `{node_id}/cond[0]/…`, `{node_id}/body[0]/…`, `{node_id}/cond[1]/…`."
        )
        return Explanation(f"Step over ran the whole While `{node_id}`", text, nodes=(node_id,))
    callee = next(iter(functions.values()), "the function")
    if role == "branch":
        text = (
            f"Step over ran `{node_id}` ({op}) as one step: it picked a branch from its "
            f"condition and ran that branch's graph (`{callee}` or another) without pausing. "
            f"Step into shows the branch op by op, as `{node_id}/then/…` or `{node_id}/else/…`."
        )
    else:
        text = (
            f"Step over ran `{node_id}` ({op}), a call of the function `{callee}`, as one "
            f"step. Step into shows the function's ops one by one, as `{node_id}/call/…`."
        )
    return Explanation(f"Step over ran `{node_id}` whole", text, nodes=(node_id,))


def iteration(node_id: str) -> Explanation | None:
    """How to read `while/body[2]/…` after stepping into a loop body or condition."""
    match = _ITERATION.match(node_id)
    if match is None:
        return None
    loop, part, i, inner = match["loop"], match["part"], int(match["i"]), match["inner"]
    nth = f"{_ordinal(i + 1)} iteration"
    if part == "body":
        now = f"the body's op `{inner}` in the {nth}"
    else:
        now = f"the condition's op `{inner}`, checked before the {nth}"
    text = (
        f"`{node_id}` is {now}: the number in brackets counts from 0, so `{part}[{i}]` "
        f"is the {nth}. The loop `{loop}` runs `cond[0]`, `body[0]`, `cond[1]`, "
        f"`body[1]`, …: the same graph each time, so the number in brackets tells the "
        "iterations apart. When a cond returns false the loop ends and its last loop "
        "values become the While's outputs."
    )
    return Explanation(
        f"Inside the loop `{loop}`: {nth}",
        text,
        nodes=(node_id,),
        key=f"iteration:{loop}",
        replaces=True,
    )


def first_nan(graph: Graph | None, node_id: str, summaries: Sequence[Any] = ()) -> Explanation:
    """Which node produced the first NaN, and the usual cause for its op."""
    base = node_id
    match = _ITERATION.match(node_id)
    if match is not None:
        base = match["inner"]
    op = ""
    inputs: list[str] = []
    if graph is not None and node_id in graph:
        op = str(graph.node(node_id).get("op", ""))
        inputs = graph.inputs_of(node_id)
    elif graph is not None:
        op = _op_in_subgraphs(graph, base)
    if not op:
        op = base.rsplit("/", 1)[-1]
    nan = sum(int(getattr(s, "nan", 0) or 0) for s in summaries)
    size = sum(int(getattr(s, "size", 0) or 0) for s in summaries)
    count = f" ({nan} of {size} values)" if size else ""
    text = (
        f"`{node_id}` ({op}) is the first node whose output holds NaN{count}: every "
        "node before it was finite. "
        + _nan_hint(op)
        + " Nodes after it only spread the NaN; fix it here."
    )
    if inputs:
        text += " Look at its inputs: " + ", ".join(f"`{n}`" for n in inputs[:3]) + "."
    return Explanation(f"First NaN at `{node_id}`", text, nodes=(node_id,))


# ----------------------------------------------------------------------- retracing


def retraced(signatures: Sequence[str], new: str, model: str = "") -> Explanation:
    """What a retrace is, listing every signature traced so far."""
    name = f" of {model}" if model else ""
    listing = "\n".join(
        f"  {i}: {sig}{'   ← new' if sig == new else ''}" for i, sig in enumerate(signatures)
    )
    text = (
        f"A retrace: the tf.function{name} was called with a new input signature, "
        f"{new}, so TensorFlow ran its Python code again and traced a new concrete graph "
        "for it. The old graphs are kept: a later call whose inputs match an old "
        "signature reuses that graph without tracing. Each concrete function is a static "
        "graph for one signature; frequent retraces (a new shape every call) are slow, "
        "which is what `input_signature` or `reduce_retracing=True` avoid.\n"
        f"Concrete functions so far:\n{listing}"
    )
    return Explanation("Retrace: a new concrete function", text)


def switched_trace(signature: str, index: int, total: int) -> Explanation:
    """Showing another, already traced concrete function (no retrace)."""
    text = (
        f"Now showing concrete function {index} of {total}: {signature}. It was traced "
        "earlier and kept by the tf.function, so switching to it traces nothing: the "
        "graph is the one TensorFlow runs for inputs of this signature."
    )
    return Explanation("Another concrete function", text)


# ------------------------------------------------------------------------- helpers


def _find_op(graph: Graph, op: str) -> tuple[str, str] | None:
    """A node of type `op`: in the main graph first, then inside a nested function."""
    for node_id in graph.order:
        if graph.node(node_id).get("op") == op:
            return node_id, ""
    for key, sub in graph.all_subgraphs():
        for node_id in sub.order:
            if sub.node(node_id).get("op") == op:
                return node_id, f" (inside the function `{key}`)"
    return None


def _op_in_subgraphs(graph: Graph, node_id: str) -> str:
    for _, sub in graph.all_subgraphs():
        if node_id in sub:
            return str(sub.node(node_id).get("op", ""))
    return ""


#: Node kinds in words, singular and plural, in the order `node_count` names them.
_KIND_WORDS = {
    "op": ("op", "ops"),
    "module": ("layer call", "layer calls"),
    "input": ("input", "inputs"),
    "param": ("parameter", "parameters"),
    "const": ("constant", "constants"),
    "output": ("output", "outputs"),
}


def node_count(graph: Graph) -> str:
    """`17 nodes (11 ops, 1 input, 4 variables, 1 output)`: the nodes of the main graph,
    the number the status bar's "node k of n" counts, then what kinds they are.

    The nodes inside loop bodies and called functions are not counted: they run once
    per iteration or call, and the status bar counts them apart ("+k inside bodies").
    """
    kinds: dict[str, int] = {}
    for node_id in graph.order:
        kind = str(graph.node(node_id).get("kind"))
        kinds[kind] = kinds.get(kind, 0) + 1
    total = len(graph.order)
    words = dict(_KIND_WORDS)
    if graph.framework == "tensorflow":
        words["param"] = ("variable", "variables")
    parts = [
        f"{kinds[kind]} {names[kinds[kind] != 1]}"
        for kind, names in words.items()
        if kinds.get(kind)
    ]
    head = f"{total} node{'s' if total != 1 else ''}"
    return f"{head} ({', '.join(parts)})" if len(parts) > 1 else head


def _ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, …, 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _iterations(graph: Graph, node_id: str, summaries: Sequence[Any]) -> int | None:
    """A While's first output is its loop counter when its first input is one."""
    inputs = graph.inputs_of(node_id)
    if not summaries or not inputs or "loop_counter" not in inputs[0]:
        return None
    first = summaries[0]
    if getattr(first, "size", 0) != 1 or "int" not in str(getattr(first, "dtype", "")):
        return None
    value = getattr(first, "max", None)
    return int(value) if value is not None and value == value else None


def _nan_hint(op: str) -> str:
    parts = op.lower().split(".")
    name = parts[parts.index("aten") + 1] if "aten" in parts[:-1] else parts[-1]
    hints = [
        (("log",), "A log of a negative number is NaN (and log(0) is -inf)."),
        (("sqrt", "rsqrt"), "A square root of a negative number is NaN."),
        (("div", "truediv", "realdiv", "floordiv"), "0 / 0 is NaN, as is inf / inf."),
        (("pow",), "A negative base to a fractional power is NaN."),
        (("acos", "asin", "atanh"), "Inputs outside [-1, 1] give NaN."),
        (("sub", "add", "addv2", "biasadd"), "inf - inf is NaN: look for an inf input."),
        (("mul", "matmul", "matvec", "linear", "addmm"), "0 × inf is NaN: look for an inf input."),
    ]
    for names, hint in hints:
        if any(name == n or name.startswith(n) for n in names):
            return hint
    return (
        "Finite inputs make NaN only in a few ways: 0/0, inf - inf, 0 × inf, or the log "
        "or square root of a negative number."
    )


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."


def _strategy_name(strategy: str) -> str:
    return {
        "eager": "eager recording",
        "export": "torch.export",
        "fx": "torch.fx",
        "function": "the TensorFlow concrete function",
    }.get(strategy, strategy)
