"""What step over / step out see of a node: the frame it runs in, and whether it is plumbing.

A *frame* is the chain of calls a node runs inside, outermost first; step over runs
whatever happens deeper than the frame it starts from as one step (see the README's
step table). What counts as a call depends on the framework:

- PyTorch (fx, export, eager): module calls. A node's frame is its scope (the module
  call's path: `pool (2)` for a second call), except an fx `module` node, which *is* the call of the module its scope ends
  with, made from the parent's frame.
- TensorFlow: function calls and control flow (`While`, `If`, `Case`, `PartitionedCall`).
  Name scopes are only names in a static graph, not calls. A node inside a body has
  the control node's path as its frame, the same for every iteration, so step over
  inside a loop body goes on into the next iteration rather than leaving the loop.

*Plumbing* is what only moves a value: parameters and constants being read, TF's
`Identity` / `NoOp` / `ReadVariableOp`, the loop counter and test AutoGraph adds to a
`While`, fx's `getitem`. Stepping passes over it silently unless asked to show it.
"""

from __future__ import annotations

from typing import Any

from inspectors.graph import Graph, split_node_path
from inspectors.stepping import frame_tags

#: Ops that hand a value on without computing anything, by framework spelling.
PLUMBING_OPS = frozenset(
    {
        # TensorFlow
        "Identity",
        "IdentityN",
        "NoOp",
        "Const",
        "ReadVariableOp",
        "StopGradient",
        "Snapshot",
        "PreventGradient",
        "VarHandleOp",
        # torch.fx / torch.export / eager
        "getitem",
        "getattr",
        "aten.alias",
        "aten.detach",
        "aten.lift_fresh_copy",
        "aten._assert_tensor_metadata",
        "detach",
    }
)

_PLUMBING_KINDS = frozenset({"param", "const"})
_LOOP_TAGS = ("cond[", "body[")
_COUNTER_DTYPES = frozenset({"int8", "int16", "int32", "int64", "uint8", "bool"})

#: The function role a body tag runs (`tf_inspector.function_graph.function_roles`).
_ROLE_OF_TAG = {"then": "then_branch", "else": "else_branch", "call": "f"}


def node_attrs(graph: Graph, node_id: str) -> dict[str, Any]:
    """Attributes of `node_id`, also of a node inside a body (`while/body[2]/while/add`)."""
    if node_id in graph:
        return graph.node(node_id)
    top, tag, inner = split_node_path(node_id)
    if tag is None or inner is None or top not in graph:
        return {}
    roles = graph.node(top).get("subgraphs") or {}
    base = tag.split("[")[0]
    if base == "branch":
        role = f"branches_{tag[len('branch[') : -1]}"
    else:
        role = _ROLE_OF_TAG.get(base, base)
    name = roles.get(role) or (next(iter(roles.values())) if base == "call" and roles else None)
    sub = _find_subgraph(graph, name) if name else None
    if sub is None:
        return {}
    rest = node_id[len(top) + len(tag) + 2 :]
    return node_attrs(sub, rest)


def _find_subgraph(graph: Graph, name: str) -> Graph | None:
    if name in graph.subgraphs:
        return graph.subgraphs[name]
    for key, sub in graph.all_subgraphs():
        if key == name:
            return sub
    return None


def frame_of(
    node_id: str, scope: tuple[str, ...], attrs: dict[str, Any], framework: str
) -> tuple[str, ...]:
    """The frame `node_id` runs in (see the module docstring)."""
    if framework == "tensorflow":
        frames: list[str] = []
        prefix, rest = "", node_id
        while True:
            top, tag, _inner = split_node_path(rest)
            if tag is None:
                return tuple(frames)
            frames.append(prefix + top)
            prefix = f"{prefix}{top}/{tag}/"
            rest = rest[len(top) + len(tag) + 2 :]
    if attrs.get("kind") == "module":
        return tuple(scope[:-1])
    return tuple(scope)


def is_plumbing(node_id: str, attrs: dict[str, Any]) -> bool:
    """Whether stepping passes over `node_id` silently (it only moves a value)."""
    if attrs.get("kind") in _PLUMBING_KINDS or attrs.get("hidden"):
        return True
    if attrs.get("op") in PLUMBING_OPS:
        return True
    return _loop_bookkeeping(node_id, attrs)


def _loop_bookkeeping(node_id: str, attrs: dict[str, Any]) -> bool:
    """A While's counter and test: in a cond / body, every output an integer or bool scalar."""
    tags = frame_tags(node_id)
    if not tags or not tags[-1].startswith(_LOOP_TAGS):
        return False
    outputs = attrs.get("outputs") or ()
    if not outputs:
        return False
    for spec in outputs:
        shape, dtype = spec[0], spec[1]
        if shape is None or tuple(shape) != () or str(dtype) not in _COUNTER_DTYPES:
            return False
    return True


def is_within(frame: tuple[str, ...], outer: tuple[str, ...]) -> bool:
    """Whether `frame` is `outer` or runs inside it."""
    return frame[: len(outer)] == outer
